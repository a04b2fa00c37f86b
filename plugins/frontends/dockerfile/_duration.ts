/**
 * Durations written the way Go's `time.ParseDuration` reads them, e.g. `1m30s`.
 *
 * @module
 */

const NANOSECONDS_PER_UNIT: Record<string, number> = {
  ns: 1,
  us: 1e3,
  "\u00b5s": 1e3,
  "\u03bcs": 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

const DURATION = /^[-+]?(?:(?:\d+\.?\d*|\.\d+)(?:ns|us|\u00b5s|\u03bcs|ms|s|m|h))+$/;
const COMPONENT = /(\d+\.?\d*|\.\d+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)/g;

/**
 * Parses a Go duration such as `30s`, `1.5h` or `1m30s` into nanoseconds.
 * A bare `0` is allowed; any other number needs a unit.
 *
 * @throws {SyntaxError} when `text` is not a duration.
 */
export function parseGoDuration(text: string): number {
  if (/^[-+]?0$/.test(text)) return 0;
  if (!DURATION.test(text)) throw new SyntaxError(`invalid duration ${JSON.stringify(text)}`);

  let total = 0;
  for (const [, amount, unit] of text.matchAll(COMPONENT)) {
    // Go truncates the fraction of each component to whole nanoseconds.
    total += Math.trunc(Number(amount) * NANOSECONDS_PER_UNIT[unit]);
  }
  return text.startsWith("-") ? -total : total;
}
