/**
 * Checks an instruction's flags against the flags it accepts.
 *
 * @module
 */

import type { BuilderFlag } from "./_flag_words.ts";

/** Value syntax of a flag: `--link[=bool]`, `--from=x`, or repeatable `--mount=x`. */
export type FlagKind = "bool" | "string" | "strings";

/** The values of an instruction's flags after checking. */
export class FlagValues {
  readonly #values = new Map<string, boolean | string | string[]>();

  set(name: string, value: boolean | string | string[]): void {
    this.#values.set(name, value);
  }

  /** Returns the value of a `bool` flag, or undefined when it was not given. */
  bool(name: string): boolean | undefined {
    return this.#values.get(name) as boolean | undefined;
  }

  /** Returns the value of a `string` flag, or undefined when it was not given. */
  string(name: string): string | undefined {
    return this.#values.get(name) as string | undefined;
  }

  /** Returns every value of a `strings` flag, in order. */
  strings(name: string): string[] {
    return (this.#values.get(name) as string[] | undefined) ?? [];
  }
}

/**
 * Checks `flags` against `accepted` and returns their values.
 *
 * @throws {SyntaxError} on an unknown flag, a repeated flag that is not a
 * `strings` flag, a missing value, or a bool flag whose value is not true or false.
 */
export function checkFlags(
  keyword: string,
  flags: readonly BuilderFlag[],
  accepted: Readonly<Record<string, FlagKind>>,
): FlagValues {
  const values = new FlagValues();
  const seen = new Set<string>();

  for (const flag of flags) {
    const kind = Object.hasOwn(accepted, flag.name) ? accepted[flag.name] : undefined;
    const quoted = JSON.stringify(`--${flag.name}`);
    if (kind === undefined) throw new SyntaxError(`unknown flag ${quoted} for ${keyword}`);
    if (seen.has(flag.name) && kind !== "strings") {
      throw new SyntaxError(`duplicate flag ${quoted} for ${keyword}`);
    }
    seen.add(flag.name);

    if (kind === "bool") {
      values.set(flag.name, parseBool(flag, quoted, keyword));
    } else if (flag.value === undefined) {
      throw new SyntaxError(`missing value for flag ${quoted} of ${keyword}`);
    } else if (kind === "string") {
      values.set(flag.name, flag.value);
    } else {
      values.set(flag.name, [...values.strings(flag.name), flag.value]);
    }
  }
  return values;
}

function parseBool(flag: BuilderFlag, quoted: string, keyword: string): boolean {
  if (flag.value === undefined) return true;
  if (flag.value === "") throw new SyntaxError(`missing value for flag ${quoted} of ${keyword}`);

  const value = flag.value.toLowerCase();
  if (value === "true") return true;
  if (value === "false") return false;
  throw new SyntaxError(
    `invalid value ${
      JSON.stringify(flag.value)
    } for flag ${quoted} of ${keyword}: must be true or false`,
  );
}
