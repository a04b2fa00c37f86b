/**
 * The few libc calls tsbuild needs that Deno does not expose: mknod for
 * overlay whiteouts, the extended-attribute calls for opaque directories and
 * syncfs for flushing a whole file system.
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

// Binding a symbol costs about 0.2 ms (Deno 2.9.6 on a 2-core VM), so the calls most builds
// never make are bound on first use, in libraries of their own.
let listLibrary: ReturnType<typeof openListLibrary> | undefined;

function openListLibrary() {
  return Deno.dlopen("libc.so.6", {
    llistxattr: { parameters: ["buffer", "buffer", "usize"], result: "isize" },
  });
}

let flushLibrary: ReturnType<typeof openFlushLibrary> | undefined;

function openFlushLibrary() {
  return Deno.dlopen("libc.so.6", {
    open: { parameters: ["buffer", "i32"], result: "i32" },
    close: { parameters: ["i32"], result: "i32" },
    // Flushing can take long, so it runs on a worker thread instead of blocking the event loop.
    syncfs: { parameters: ["i32"], result: "i32", nonblocking: true },
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
const O_RDONLY = 0;
const O_DIRECTORY = 0o200000;
const O_CLOEXEC = 0o2000000;

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

/** Linux's maximum size of an attribute name list (XATTR_LIST_MAX). */
const XATTR_LIST_MAX = 65536;
const ENOTSUP = 95;
let xattrListBuffer: Uint8Array<ArrayBuffer> | undefined;

/** Returns the names of the extended attributes of `path`, without following a final symlink. */
export function listXattrs(path: string): string[] {
  const buffer = xattrListBuffer ??= new Uint8Array(XATTR_LIST_MAX);
  listLibrary ??= openListLibrary();
  const size = Number(
    listLibrary.symbols.llistxattr(cString(path), buffer, BigInt(buffer.length)),
  );
  if (size < 0) {
    const code = errno();
    // A file system without extended attributes has none to list.
    if (code === ENOTSUP) return [];
    throw new Error(`Failed to list extended attributes of "${path}": errno ${code}`);
  }
  if (size === 0) return [];
  return new TextDecoder().decode(buffer.subarray(0, size - 1)).split("\0");
}

/** Flushes everything written to the file system holding the directory `dir` to disk (syncfs(2)). */
export async function syncFilesystem(dir: string): Promise<void> {
  flushLibrary ??= openFlushLibrary();
  const { open, close, syncfs } = flushLibrary.symbols;
  const fd = open(cString(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw new Error(`Failed to open "${dir}" to flush its file system: errno ${errno()}`);
  try {
    // NOTE: errno is thread-local and syncfs ran on another thread, so its errno is not reported.
    if (await syncfs(fd) !== 0) {
      throw new Error(`Failed to flush the file system of "${dir}" to disk`);
    }
  } finally {
    close(fd);
  }
}
