/**
 * The libc calls the layer codec needs that Deno does not expose: mknod for
 * device nodes and FIFOs, and the extended-attribute calls that list, read and
 * write attributes without following a final symlink.
 *
 * @module
 */

import { pathArgument } from "../fs/libc.ts";

let library: ReturnType<typeof open> | undefined;

function open() {
  return Deno.dlopen("libc.so.6", {
    mknod: { parameters: ["buffer", "u32", "u64"], result: "i32" },
    llistxattr: { parameters: ["buffer", "buffer", "usize"], result: "isize" },
    lgetxattr: { parameters: ["buffer", "buffer", "buffer", "usize"], result: "isize" },
    lsetxattr: { parameters: ["buffer", "buffer", "buffer", "usize", "i32"], result: "i32" },
    __errno_location: { parameters: [], result: "pointer" },
  });
}

function libc() {
  library ??= open();
  return library.symbols;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function cString(value: string): Uint8Array<ArrayBuffer> {
  return encoder.encode(value + "\0");
}

function errno(): number {
  const pointer = libc().__errno_location();
  return pointer === null ? 0 : new Deno.UnsafePointerView(pointer).getInt32();
}

const EPERM = 1;
const ENOENT = 2;
const EEXIST = 17;
const ENODATA = 61;
const EOPNOTSUPP = 95;

/** Converts an errno into the Deno error class callers already catch for the same condition. */
function errnoError(code: number, message: string): Error {
  const text = `${message}: errno ${code}`;
  switch (code) {
    case EEXIST:
      return new Deno.errors.AlreadyExists(text);
    case ENOENT:
      return new Deno.errors.NotFound(text);
    case EPERM:
      return new Deno.errors.PermissionDenied(text);
    case EOPNOTSUPP:
      return new Deno.errors.NotSupported(text);
    default:
      return new Error(text);
  }
}

/** File type bits of `st_mode` for the node kinds mknod creates. */
export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;
export const S_IFIFO = 0o010000;

/** Encodes a device number the way glibc's `makedev` does. */
export function makeDev(major: number, minor: number): bigint {
  const ma = BigInt(major);
  const mi = BigInt(minor);
  return ((ma & 0xfffff000n) << 32n) | ((ma & 0xfffn) << 8n) | ((mi & 0xffffff00n) << 12n) |
    (mi & 0xffn);
}

/**
 * Creates a device node or FIFO at `path`; `mode` is a file type bit ored with
 * the permission bits, which the process umask then narrows.
 *
 * @throws {Deno.errors.AlreadyExists} when `path` exists.
 */
export function mknod(path: string, mode: number, dev: bigint): void {
  if (libc().mknod(cString(path), mode, dev) !== 0) {
    throw errnoError(errno(), `Failed to create node "${path}"`);
  }
}

/** Linux's maximum size of an attribute list and of one attribute value (XATTR_LIST_MAX, XATTR_SIZE_MAX). */
const XATTR_MAX = 65536;
let xattrBuffer: Uint8Array<ArrayBuffer> | undefined;

const XATTR_MAX_BIG = BigInt(XATTR_MAX);

/** Returns the names of the extended attributes of `path`, not following a final symlink. */
export function listXattrs(path: string): string[] {
  xattrBuffer ??= new Uint8Array(XATTR_MAX);
  // The reused path buffer saves an allocation per call; the packer lists every entry's attributes.
  const size = Number(
    libc().llistxattr(pathArgument(path) ?? cString(path), xattrBuffer, XATTR_MAX_BIG),
  );
  if (size < 0) {
    const code = errno();
    // Filesystems without xattr support have no attributes to copy.
    if (code === EOPNOTSUPP) return [];
    throw errnoError(code, `Failed to list extended attributes of "${path}"`);
  }
  if (size === 0) return [];
  return decoder.decode(xattrBuffer.subarray(0, size - 1)).split("\0");
}

/** Returns the raw value of the extended attribute `name` of `path`, or undefined when unset. */
export function readXattr(path: string, name: string): Uint8Array | undefined {
  xattrBuffer ??= new Uint8Array(XATTR_MAX);
  const size = Number(
    libc().lgetxattr(cString(path), cString(name), xattrBuffer, BigInt(XATTR_MAX)),
  );
  if (size < 0) {
    const code = errno();
    if (code === ENODATA) return undefined;
    throw errnoError(code, `Failed to read extended attribute "${name}" of "${path}"`);
  }
  return xattrBuffer.slice(0, size);
}

/** Sets the extended attribute `name` of `path` to `value`, not following a final symlink. */
export function writeXattr(path: string, name: string, value: Uint8Array<ArrayBuffer>): void {
  if (libc().lsetxattr(cString(path), cString(name), value, BigInt(value.byteLength), 0) !== 0) {
    throw errnoError(errno(), `Failed to set extended attribute "${name}" on "${path}"`);
  }
}
