/**
 * Opening a local directory's entries by name inside an already open parent,
 * so that renaming or replacing a directory above them while the build runs
 * cannot make a read land outside the directory the user named.
 *
 * Deno's file API resolves whole paths and exposes no descriptors, so the
 * descriptors come from libc through FFI, and Deno's calls reach an open
 * file as `/proc/self/fd/N`. Where libc or /proc is unavailable,
 * {@linkcode descriptorsAvailable} is false and callers use plain paths.
 *
 * @module
 */

const O_RDONLY = 0;
const O_NONBLOCK = 0o4000;
const O_CLOEXEC = 0o2000000;
// O_DIRECTORY and O_NOFOLLOW differ between architectures.
const O_DIRECTORY = Deno.build.arch === "aarch64" ? 0o40000 : 0o200000;
const O_NOFOLLOW = Deno.build.arch === "aarch64" ? 0o100000 : 0o400000;
const AT_FDCWD = -100;

const ENOENT = 2;
const EACCES = 13;
const ENOTDIR = 20;
const ELOOP = 40;

const SYMBOLS = {
  openat: { parameters: ["i32", "buffer", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
} as const;

let library: Deno.DynamicLibrary<typeof SYMBOLS> | null | undefined;
const encoder = new TextEncoder();

function libc(): Deno.DynamicLibrary<typeof SYMBOLS>["symbols"] | undefined {
  if (library === undefined) {
    try {
      Deno.statSync("/proc/self/fd");
      library = Deno.build.os === "linux" ? Deno.dlopen("libc.so.6", SYMBOLS) : null;
    } catch {
      library = null;
    }
  }
  return library?.symbols;
}

/** Reports whether entries can be opened through descriptors here. */
export function descriptorsAvailable(): boolean {
  return libc() !== undefined;
}

/**
 * Opens the directory `path`, following symlinks in it, and returns its descriptor.
 *
 * @throws {Deno.errors.NotFound} and the other `Deno.errors` classes for the usual failures.
 */
export function openDirectory(path: string): number {
  return openAt(AT_FDCWD, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/**
 * Opens the directory `name` inside the directory open as `dirFd`. A symlink
 * there is not followed: it fails with {@linkcode Deno.errors.FilesystemLoop}.
 */
export function openDirectoryAt(dirFd: number, name: string): number {
  return openAt(dirFd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/**
 * Opens `name` inside the directory open as `dirFd` (or the path `name` when
 * `dirFd` is undefined) for reading, without following a final symlink and
 * without waiting on a FIFO that took the file's place.
 */
export function openFileAt(dirFd: number | undefined, name: string): number {
  return openAt(dirFd ?? AT_FDCWD, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
}

/** Closes a descriptor this module opened. */
export function closeDescriptor(fd: number): void {
  libc()?.close(fd);
}

function openAt(dirFd: number, name: string, flags: number): number {
  const symbols = libc();
  if (!symbols) throw new Deno.errors.NotSupported("file descriptors are not available");
  const fd = symbols.openat(dirFd, encoder.encode(`${name}\0`), flags);
  if (fd >= 0) return fd;
  const pointer = symbols.__errno_location();
  const errno = pointer === null ? 0 : new Deno.UnsafePointerView(pointer).getInt32();
  throw errnoError(errno, name);
}

function errnoError(errno: number, name: string): Error {
  switch (errno) {
    case ENOENT:
      return new Deno.errors.NotFound(`No such file or directory: "${name}"`);
    case EACCES:
      return new Deno.errors.PermissionDenied(`Permission denied: "${name}"`);
    case ENOTDIR:
      return new Deno.errors.NotADirectory(`Not a directory: "${name}"`);
    case ELOOP:
      return new Deno.errors.FilesystemLoop(`Is a symlink: "${name}"`);
    default:
      return new Error(`Failed to open "${name}": errno ${errno}`);
  }
}
