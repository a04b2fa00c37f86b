/**
 * Recognises the JSON (exec) form of instruction arguments, e.g. `["a", "b"]`.
 *
 * @module
 */

import { trimSpaceStart } from "./_chars.ts";

/**
 * Returns the strings of `text` when it is a JSON array, or undefined when it
 * is not JSON at all (then it is shell form).
 *
 * @throws {SyntaxError} when `text` is a JSON array with a value that is not a string.
 */
export function parseJsonForm(text: string): string[] | undefined {
  const trimmed = trimSpaceStart(text);
  if (!trimmed.startsWith("[")) return undefined;

  let value: unknown;
  try {
    value = JSON.parse(trimmed);
  } catch {
    return undefined;
  }
  if (!Array.isArray(value)) return undefined;
  if (!value.every((item) => typeof item === "string")) {
    throw new SyntaxError("a JSON array of arguments must contain only strings");
  }
  return value;
}
