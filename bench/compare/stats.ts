/**
 * Summary statistics for the benchmark: median, min and max of a tool's times, and the
 * paired ratios of tsbuild's time to a peer's within the same round.
 *
 * @module
 */

/** Median, min and max of a list of times, in seconds. */
export interface Summary {
  median: number;
  min: number;
  max: number;
}

/** Returns the median of `values`: the mean of the two middle values for an even count. */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError("Cannot take the median: the list is empty");
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** Returns the median, min and max of `values`. */
export function summarize(values: readonly number[]): Summary {
  return { median: median(values), min: Math.min(...values), max: Math.max(...values) };
}

/**
 * Divides each of `numerators` by the `denominators` entry of the same round, skipping rounds
 * where either side has no time (a tool that failed part way).
 */
export function pairedRatios(
  numerators: readonly (number | undefined)[],
  denominators: readonly (number | undefined)[],
): number[] {
  const ratios: number[] = [];
  for (let round = 0; round < numerators.length; round++) {
    const numerator = numerators[round];
    const denominator = denominators[round];
    if (numerator === undefined || denominator === undefined || denominator === 0) continue;
    ratios.push(numerator / denominator);
  }
  return ratios;
}
