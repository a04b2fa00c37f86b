/**
 * Setting the owner and times of a path without following a final symlink,
 * which Deno's own `chown` and `utime` always follow. The calls go to libc
 * through FFI rather than `node:fs`, because loading Node's file system
 * module made every tsbuild process about 5 ms slower to start.
 *
 * @module
 */

import { lastErrno, osError } from "./os_error.ts";

const AT_FDCWD = -100;
const AT_SYMLINK_NOFOLLOW = 0x100;

let library: ReturnType<typeof open> | undefined;

function open() {
  return Deno.dlopen("libc.so.6", {
    lchown: { parameters: ["buffer", "u32", "u32"], result: "i32" },
    utimensat: { parameters: ["i32", "buffer", "buffer", "i32"], result: "i32" },
  });
}

function libc() {
  library ??= open();
  return library.symbols;
}

const encoder = new TextEncoder();
const times = new BigInt64Array(4);

function fail(call: string, path: string): never {
  throw osError(lastErrno(), call, path);
}

function cString(value: string): Uint8Array<ArrayBuffer> {
  // C would stop at an inner NUL and act on a shorter path.
  if (value.includes("\0")) {
    throw new Deno.errors.InvalidData(
      `Invalid path ${JSON.stringify(value)}: it contains a NUL byte`,
    );
  }
  return encoder.encode(`${value}\0`);
}

/**
 * Sets the owner of `path`, or of the symlink itself when `path` is one.
 *
 * @throws {Deno.errors.NotFound} when `path` does not exist, and other `Deno.errors` classes.
 */
export function lchown(path: string, uid: number, gid: number): void {
  if (libc().lchown(cString(path), uid, gid) !== 0) fail("lchown", path);
}

/**
 * Sets the access and modification times of `path`, or of the symlink itself
 * when `path` is one. Times are seconds since the epoch, possibly fractional,
 * or dates.
 *
 * @throws {Deno.errors.NotFound} when `path` does not exist, and other `Deno.errors` classes.
 */
export function lutimes(path: string, atime: number | Date, mtime: number | Date): void {
  setTimespec(0, atime);
  setTimespec(2, mtime);
  const pointer = new Uint8Array(times.buffer);
  if (libc().utimensat(AT_FDCWD, cString(path), pointer, AT_SYMLINK_NOFOLLOW) !== 0) {
    fail("utimensat", path);
  }
}

function setTimespec(index: number, time: number | Date): void {
  const value = time instanceof Date ? time.getTime() / 1000 : time;
  let seconds = Math.floor(value);
  let nanoseconds = Math.round((value - seconds) * 1e9);
  if (nanoseconds >= 1e9) {
    seconds += 1;
    nanoseconds -= 1e9;
  }
  times[index] = BigInt(seconds);
  times[index + 1] = BigInt(nanoseconds);
}
