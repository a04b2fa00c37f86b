/**
 * Assertions for tests, from Node's built-in `assert` module.
 *
 * Deno's standard library cannot be installed where tsbuild is built, so tests
 * import their assertions from here; a switch later happens in this one file.
 *
 * @module
 */

import assert from "node:assert/strict";

export const assertEquals: <T>(actual: unknown, expected: T, message?: string) => void =
  assert.deepStrictEqual;
export const assertNotEquals: (actual: unknown, expected: unknown, message?: string) => void =
  assert.notDeepStrictEqual;
export const assert_: (value: unknown, message?: string) => asserts value = assert.ok;
export { assert_ as assert };
export const assertMatch: (value: string, pattern: RegExp, message?: string) => void = assert.match;

/** Asserts that `value` contains `expected`, showing both on failure. */
export function assertStringIncludes(value: string, expected: string, message?: string): void {
  if (!value.includes(expected)) {
    throw new assert.AssertionError({
      message: message ?? `expected text to include ${JSON.stringify(expected)}`,
      actual: value,
      expected,
      operator: "includes",
    });
  }
}

/** Awaits `fn` and returns the error it rejects with; fails when it resolves or throws another class. */
export async function assertRejects<E extends Error = Error>(
  fn: () => Promise<unknown>,
  errorClass?: new (...args: never[]) => E,
  messageIncludes?: string,
): Promise<E> {
  let error: unknown;
  try {
    await fn();
  } catch (caught) {
    error = caught;
  }
  if (error === undefined) {
    throw new assert.AssertionError({ message: "expected the call to reject" });
  }
  if (errorClass && !(error instanceof errorClass)) {
    throw new assert.AssertionError({
      message: `expected ${errorClass.name}, got ${(error as Error)?.constructor?.name}: ${error}`,
    });
  }
  if (messageIncludes !== undefined) {
    assertStringIncludes(String((error as Error).message), messageIncludes);
  }
  return error as E;
}

/** Calls `fn` and returns the error it throws; fails when it returns or throws another class. */
export function assertThrows<E extends Error = Error>(
  fn: () => unknown,
  errorClass?: new (...args: never[]) => E,
  messageIncludes?: string,
): E {
  let error: unknown;
  try {
    fn();
  } catch (caught) {
    error = caught;
  }
  if (error === undefined) {
    throw new assert.AssertionError({ message: "expected the call to throw" });
  }
  if (errorClass && !(error instanceof errorClass)) {
    throw new assert.AssertionError({
      message: `expected ${errorClass.name}, got ${(error as Error)?.constructor?.name}: ${error}`,
    });
  }
  if (messageIncludes !== undefined) {
    assertStringIncludes(String((error as Error).message), messageIncludes);
  }
  return error as E;
}
