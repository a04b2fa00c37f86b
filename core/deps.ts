/**
 * The one place where tsbuild reaches outside Deno's own API for general
 * utilities: path handling, hashing, compression and streams.
 *
 * Deno's standard library is not used because tsbuild must build where only
 * npm is reachable; Node's built-in modules fill that role. Keeping them behind
 * this file lets a later switch happen in one place.
 *
 * The Node modules here are static imports: once `node:crypto` is loaded,
 * which every build needs, path, zlib, stream and buffer add about 1 ms.
 * `node:fs` added about 5 ms to every process, so it loads on first use
 * through {@linkcode loadNodeFs}; only the git source needs it, for
 * isomorphic-git.
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
export { Buffer } from "node:buffer";

/** Node's `fs` module, as {@linkcode loadNodeFs} returns it. */
export type NodeFs = typeof import("node:fs");

/** Imports Node's `fs` module on first use. */
export function loadNodeFs(): Promise<NodeFs> {
  return import("node:fs");
}
