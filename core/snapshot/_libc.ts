/**
 * The few libc calls tsbuild needs that Deno does not expose: mknod for
 * overlay whiteouts and the extended-attribute calls for opaque directories.
 *
 * @module
 */

let library: ReturnType<typeof open> | undefined;

function open() {
  return Deno.dlopen("libc.so.6", {
    mknod: { parameters: ["buffer", "u32", "u64"], result: "i32" },
    lsetxattr: { parameters: ["buffer", "buffer", "buffer", "usize", "i32"], result: "i32" },
    lgetxattr: { parameters: ["buffer", "buffer", "buffer", "usize"], result: "isize" },
    __errno_location: { parameters: [], result: "pointer" },
  });
}

function libc() {
  library ??= open();
  return library.symbols;
}

function cString(value: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(value + "\0");
}

function errno(): number {
  const pointer = libc().__errno_location();
  return pointer === null ? 0 : new Deno.UnsafePointerView(pointer).getInt32();
}

const ENODATA = 61;
const S_IFCHR = 0o020000;

/** Creates a character device with the given major and minor numbers at `path`. */
export function mknodChar(path: string, major: number, minor: number): void {
  // glibc's makedev() encoding of a device number.
  const ma = BigInt(major);
  const mi = BigInt(minor);
  const dev = ((ma & 0xfffff000n) << 32n) | ((ma & 0xfffn) << 8n) | ((mi & 0xffffff00n) << 12n) |
    (mi & 0xffn);
  if (libc().mknod(cString(path), S_IFCHR, dev) !== 0) {
    throw new Error(`Failed to create device node "${path}": errno ${errno()}`);
  }
}

/** Sets the extended attribute `name` on `path` without following a final symlink. */
export function setXattr(path: string, name: string, value: string): void {
  const data = new TextEncoder().encode(value);
  if (libc().lsetxattr(cString(path), cString(name), data, BigInt(data.length), 0) !== 0) {
    throw new Error(`Failed to set extended attribute "${name}" on "${path}": errno ${errno()}`);
  }
}

/** Returns the extended attribute `name` of `path`, or undefined when it is not set. */
export function getXattr(path: string, name: string): string | undefined {
  const buffer = new Uint8Array(256);
  const size = Number(
    libc().lgetxattr(cString(path), cString(name), buffer, BigInt(buffer.length)),
  );
  if (size < 0) {
    const code = errno();
    if (code === ENODATA) return undefined;
    throw new Error(`Failed to read extended attribute "${name}" of "${path}": errno ${code}`);
  }
  return new TextDecoder().decode(buffer.subarray(0, size));
}
