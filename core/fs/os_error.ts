/**
 * Errors of libc calls made through FFI, given the Deno error class and the
 * message format that Deno's own file calls use for the same errno, so
 * callers catch one set of classes whichever way a call went.
 *
 * @module
 */

import { lazyLibc } from "./libc.ts";

const libc = lazyLibc({ __errno_location: { parameters: [], result: "pointer" } });

/** Messages and Deno error classes for the errors file calls meet in practice. */
const ERRORS: Record<number, [string, new (message: string) => Error]> = {
  1: ["Operation not permitted", Deno.errors.PermissionDenied],
  2: ["No such file or directory", Deno.errors.NotFound],
  13: ["Permission denied", Deno.errors.PermissionDenied],
  20: ["Not a directory", Deno.errors.NotADirectory],
  21: ["Is a directory", Deno.errors.IsADirectory],
  30: ["Read-only file system", Deno.errors.PermissionDenied],
  40: ["Too many levels of symbolic links", Deno.errors.FilesystemLoop],
};

/** Returns the errno the calling thread's last failed libc call set. */
export function lastErrno(): number {
  const pointer = libc()?.__errno_location() ?? null;
  return pointer === null ? 0 : new Deno.UnsafePointerView(pointer).getInt32();
}

/** Returns the error for errno `code` from `call` on `path`, e.g. `NotFound: ... open '/x'`. */
export function osError(code: number, call: string, path: string): Error {
  const [text, ErrorClass] = ERRORS[code] ?? [`os error ${code}`, Error];
  return new ErrorClass(`${text} (os error ${code}): ${call} '${path}'`);
}
