/**
 * Layer compression: detecting gzip and zstd from a blob's first bytes, and
 * streaming decompression and compression of layer tars.
 *
 * @module
 */

import { createGunzip, createGzip, createZstdCompress, zlibConstants } from "../deps.ts";
import { pipeThroughNodeTransform } from "./_tar_node_transform.ts";
import { decompressZstd } from "./_tar_zstd_frames.ts";

/** Compression format of a layer blob; "none" is a plain tar. */
export type Compression = "gzip" | "zstd" | "none";

/**
 * Default gzip level: 1, the fastest, because compression is often the slowest step of an export.
 * On a 1 GB tar of /usr/share and /usr/bin, on a 2-core VM, Deno 2.9.6's gzip took 6.0 s at level 1
 * (508 MB), 9.5 s at level 2 (429 MB) and 16.7 s at level 6 (402 MB). Pass `level` for smaller
 * blobs when upload time matters more.
 */
export const DEFAULT_GZIP_LEVEL = 1;

/** Default zstd level: 3, zstd's own default; on the same tar it took 5.7 s and gave 378 MB. */
export const DEFAULT_ZSTD_LEVEL = 3;

/** Options of {@linkcode compressStream}. */
export interface CompressOptions {
  /** The format to produce. */
  compression: Compression;
  /**
   * The compression level: 0 to 9 for gzip, 1 to 22 for zstd; ignored for "none".
   *
   * @default {DEFAULT_GZIP_LEVEL} for gzip and {DEFAULT_ZSTD_LEVEL} for zstd.
   */
  level?: number;
}

const GZIP_MAGIC = [0x1f, 0x8b];
const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];
const BZIP2_MAGIC = [0x42, 0x5a, 0x68];
const XZ_MAGIC = [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00];

/** Bytes {@linkcode sniffCompression} reads before deciding: the longest magic number above. */
const SNIFF_LENGTH = 6;

/** Output chunk size of the zlib streams; larger than Node's 16 KiB default to cut per-chunk work. */
const ZLIB_CHUNK_SIZE = 128 * 1024;

/**
 * Size of the blocks fed to a compressor. Deno 2.9.6's gzip output depends on
 * how the input is split into writes, so input is regrouped into blocks of
 * this size first.
 */
const COMPRESS_BLOCK_SIZE = 1024 * 1024;

/** Offset of the gzip header's OS byte (RFC 1952, section 2.3). */
const GZIP_OS_OFFSET = 9;
/** Gzip OS value "unknown", written whatever zlib was built for, so output does not vary by host. */
const GZIP_OS_UNKNOWN = 255;

function startsWith(head: Uint8Array, magic: number[]): boolean {
  return head.length >= magic.length && magic.every((byte, i) => head[i] === byte);
}

/**
 * Returns the compression of a blob from its first bytes; anything that is not
 * gzip or zstd is taken as a plain tar.
 *
 * @throws {TypeError} for bzip2 and xz, which OCI layers do not use.
 */
export function detectCompression(head: Uint8Array): Compression {
  if (startsWith(head, GZIP_MAGIC)) return "gzip";
  if (startsWith(head, ZSTD_MAGIC)) return "zstd";
  if (startsWith(head, BZIP2_MAGIC) || startsWith(head, XZ_MAGIC)) {
    throw new TypeError("Failed to detect layer compression: bzip2 and xz are not supported");
  }
  return "none";
}

function concatBytes(chunks: Uint8Array[]): Uint8Array {
  const result = new Uint8Array(chunks.reduce((total, chunk) => total + chunk.byteLength, 0));
  let offset = 0;
  for (const chunk of chunks) {
    result.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return result;
}

/**
 * Reads the first bytes of `stream` to detect its compression, and returns a
 * stream that still yields every byte, the ones read included.
 */
export async function sniffCompression(
  stream: ReadableStream<Uint8Array>,
): Promise<{ compression: Compression; stream: ReadableStream<Uint8Array> }> {
  const reader = stream.getReader();
  const head: Uint8Array[] = [];
  let headLength = 0;
  while (headLength < SNIFF_LENGTH) {
    const { done, value } = await reader.read();
    if (done) break;
    head.push(value);
    headLength += value.byteLength;
  }

  let compression: Compression;
  try {
    compression = detectCompression(concatBytes(head));
  } catch (error) {
    await reader.cancel(error);
    throw error;
  }

  const replay = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of head) controller.enqueue(chunk);
    },
    async pull(controller) {
      const { done, value } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
  return { compression, stream: replay };
}

/** Returns the bytes of `stream` decompressed from `compression`. */
export function decompressStream(
  stream: ReadableStream<Uint8Array>,
  compression: Compression,
): ReadableStream<Uint8Array> {
  switch (compression) {
    case "gzip":
      return pipeThroughNodeTransform(stream, createGunzip({ chunkSize: ZLIB_CHUNK_SIZE }));
    case "zstd":
      return decompressZstd(stream, ZLIB_CHUNK_SIZE);
    case "none":
      return stream;
  }
}

function checkLevel(compression: Compression, level: number, min: number, max: number): number {
  if (!Number.isInteger(level) || level < min || level > max) {
    throw new RangeError(
      `Failed to set ${compression} level "${level}": expected an integer from ${min} to ${max}`,
    );
  }
  return level;
}

/** Regroups a stream into chunks of exactly `size` bytes, except the last. */
function fixedSizeChunks(size: number): TransformStream<Uint8Array, Uint8Array> {
  let block = new Uint8Array(size);
  let used = 0;
  return new TransformStream({
    transform(chunk, controller) {
      // Chunks that already have the block size, as the layer packer's do, pass without a copy.
      if (used === 0 && chunk.byteLength === size) return controller.enqueue(chunk);
      let offset = 0;
      while (offset < chunk.byteLength) {
        const count = Math.min(size - used, chunk.byteLength - offset);
        block.set(chunk.subarray(offset, offset + count), used);
        used += count;
        offset += count;
        if (used === size) {
          controller.enqueue(block);
          block = new Uint8Array(size);
          used = 0;
        }
      }
    },
    flush(controller) {
      if (used > 0) controller.enqueue(block.subarray(0, used));
    },
  });
}

/**
 * Sets the gzip header's OS byte to "unknown" as the bytes pass, so the same
 * input gives the same output on every host. Node's gzip writes no header CRC,
 * so no checksum covers the byte.
 */
function normalizeGzipHeader(): TransformStream<Uint8Array, Uint8Array> {
  let offset = 0;
  return new TransformStream({
    transform(chunk, controller) {
      const index = GZIP_OS_OFFSET - offset;
      if (index >= 0 && index < chunk.byteLength) chunk[index] = GZIP_OS_UNKNOWN;
      offset += chunk.byteLength;
      controller.enqueue(chunk);
    },
  });
}

/**
 * Returns the bytes of `stream` compressed as `options.compression`. The same
 * bytes give the same output for a given Deno release, however they are split
 * into chunks: the gzip header carries mtime 0, no file name and OS "unknown",
 * and zstd frames carry no checksum or content size.
 */
export function compressStream(
  stream: ReadableStream<Uint8Array>,
  options: CompressOptions,
): ReadableStream<Uint8Array> {
  switch (options.compression) {
    case "gzip": {
      const level = checkLevel("gzip", options.level ?? DEFAULT_GZIP_LEVEL, 0, 9);
      const gzip = createGzip({ level, chunkSize: ZLIB_CHUNK_SIZE });
      const blocks = stream.pipeThrough(fixedSizeChunks(COMPRESS_BLOCK_SIZE));
      return pipeThroughNodeTransform(blocks, gzip).pipeThrough(normalizeGzipHeader());
    }
    case "zstd": {
      const level = checkLevel("zstd", options.level ?? DEFAULT_ZSTD_LEVEL, 1, 22);
      const params = { [zlibConstants.ZSTD_c_compressionLevel]: level };
      return pipeThroughNodeTransform(
        stream,
        createZstdCompress({ params, chunkSize: ZLIB_CHUNK_SIZE }),
      );
    }
    case "none":
      return stream;
  }
}
