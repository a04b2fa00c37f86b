/**
 * The one place where tsbuild reaches outside Deno's own API for general
 * utilities: path handling, hashing, compression and tar streams.
 *
 * Deno's standard library is not used because tsbuild must build where only
 * npm is reachable; Node's built-in modules fill that role. Keeping them behind
 * this file lets a later switch happen in one place.
 *
 * tar-stream is imported on first use through {@linkcode loadTarStream},
 * because only unpacking a layer needs it. Importing it at startup made every
 * `tsbuild` process about 7 ms slower (Deno 2.9.6 on a 2-core VM, 100 runs of
 * `tsbuild version`). The Node modules stay static imports: once `node:crypto`
 * and `node:fs` are loaded, which every build needs, the others add under 3 ms
 * together.
 *
 * @module
 */

export {
  basename,
  dirname,
  extname,
  isAbsolute,
  join,
  normalize,
  relative,
  resolve,
  sep,
} from "node:path";
export { posix } from "node:path";
export { createHash, randomBytes } from "node:crypto";
export type { Hash } from "node:crypto";
export {
  constants as zlibConstants,
  crc32,
  createGunzip,
  createGzip,
  createZstdCompress,
  createZstdDecompress,
  deflateSync,
  gunzipSync,
  gzipSync,
  inflateSync,
  zstdCompressSync,
} from "node:zlib";
export { PassThrough, Readable, Transform, Writable } from "node:stream";
export { pipeline } from "node:stream/promises";
export { homedir, tmpdir } from "node:os";
export * as nodeFs from "node:fs";
export * as nodeFsPromises from "node:fs/promises";
export { Buffer } from "node:buffer";

// The specifier is a string literal so that `deno compile` and `deno info` still find it.
const importTarStream = () => import("tar-stream");

/** The tar-stream package, with its `pack` and `extract`, as {@linkcode loadTarStream} returns it. */
export type TarStream = Awaited<ReturnType<typeof importTarStream>>;

let tarStreamLoading: Promise<TarStream> | undefined;

/**
 * Imports the tar-stream package on its first call and returns the same promise afterwards.
 * A failed import is not kept, so a later call tries again.
 *
 * @throws {Error} naming the package when it cannot be imported.
 */
export function loadTarStream(): Promise<TarStream> {
  tarStreamLoading ??= importTarStream().catch((error: unknown) => {
    tarStreamLoading = undefined;
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`Failed to load module "tar-stream": ${reason}`, { cause: error });
  });
  return tarStreamLoading;
}
