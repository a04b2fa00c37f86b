/**
 * Loading libc through FFI, and passing paths to it, for the modules that
 * make file system calls Deno does not expose.
 *
 * @module
 */

/**
 * Returns a function that opens libc with `symbols` on its first call and
 * returns them, or undefined where libc cannot be loaded (another OS, or a
 * libc other than glibc), so callers fall back to Deno's calls. Binding a
 * symbol costs about 0.2 ms, so a module binds its own only when first used.
 */
export function lazyLibc<const S extends Deno.ForeignLibraryInterface>(
  symbols: S,
): () => Deno.DynamicLibrary<S>["symbols"] | undefined {
  let loaded = false;
  let library: Deno.DynamicLibrary<S> | undefined;
  return () => {
    if (!loaded) {
      loaded = true;
      try {
        library = Deno.build.os === "linux" ? Deno.dlopen("libc.so.6", symbols) : undefined;
      } catch {
        library = undefined;
      }
    }
    return library?.symbols;
  };
}

const encoder = new TextEncoder();
let pathBuffer: Uint8Array<ArrayBuffer> = new Uint8Array(4096);

/**
 * Returns `path` as a NUL-terminated C string in a buffer that the next call
 * reuses, so it must be passed to libc at once. Returns undefined when
 * `path` contains a NUL, which C would take as its end.
 */
export function pathArgument(path: string): Uint8Array<ArrayBuffer> | undefined {
  if (path.includes("\0")) return undefined;
  // UTF-8 takes at most three bytes per UTF-16 code unit, plus the terminating NUL.
  if (path.length * 3 + 1 > pathBuffer.length) pathBuffer = new Uint8Array(path.length * 3 + 1);
  const { written } = encoder.encodeInto(path, pathBuffer);
  pathBuffer[written] = 0;
  return pathBuffer;
}
