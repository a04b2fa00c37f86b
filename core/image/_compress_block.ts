/**
 * Compression of one layer block into a self-contained gzip member or zstd
 * frame, shared by the worker pool and the main thread.
 *
 * @module
 */

import { gzipSync, zlibConstants as constants, zstdCompressSync } from "../deps.ts";

/** One block and how to compress it. */
export interface BlockRequest {
  compression: "gzip" | "zstd";
  level: number;
  block: Uint8Array;
}

/** Offset of the gzip header's OS byte (RFC 1952, section 2.3). */
const GZIP_OS_OFFSET = 9;
/** Gzip OS value "unknown", so output does not vary with the host zlib was built for. */
const GZIP_OS_UNKNOWN = 255;

/** Compresses one block; the output depends only on the bytes, the level and the library release. */
export function compressBlock(request: BlockRequest): Uint8Array<ArrayBuffer> {
  if (request.compression === "gzip") {
    const member = ownBuffer(gzipSync(request.block, { level: request.level }));
    member[GZIP_OS_OFFSET] = GZIP_OS_UNKNOWN;
    return member;
  }
  return ownBuffer(zstdCompressSync(request.block, {
    params: {
      [constants.ZSTD_c_compressionLevel]: request.level,
      [constants.ZSTD_c_checksumFlag]: 0,
    },
  }));
}

/** Returns `bytes` as a view of a whole buffer of its own, which can be transferred. */
function ownBuffer(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength &&
    bytes.buffer instanceof ArrayBuffer;
  return whole ? new Uint8Array(bytes.buffer as ArrayBuffer) : new Uint8Array(bytes);
}
