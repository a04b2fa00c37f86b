/**
 * The one place where tsbuild reaches outside Deno's own API for general
 * utilities: path handling, hashing, compression and streams.
 *
 * Deno's standard library is not used because tsbuild must build where only
 * npm is reachable; Node's built-in modules fill that role. Keeping them behind
 * this file lets a later switch happen in one place.
 *
 * The Node modules are static imports: once `node:crypto` and `node:fs` are
 * loaded, which every build needs, the others add under 3 ms together.
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
