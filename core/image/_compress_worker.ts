/**
 * The worker side of {@link compressBlocks} in `_parallel_compress.ts`: compresses one block
 * per message into a self-contained gzip member or zstd frame.
 *
 * @module
 */

import { gzipSync, zlibConstants as constants, zstdCompressSync } from "../deps.ts";

/** A block to compress, as the main thread posts it. */
export interface CompressRequest {
  id: number;
  compression: "gzip" | "zstd";
  level: number;
  block: Uint8Array<ArrayBuffer>;
}

/**
 * The compressed block, or the error that stopped it. The input block's
 * buffer comes back too, so the main thread can fill it again.
 */
export type CompressResponse =
  | { id: number; output: Uint8Array<ArrayBuffer>; block: Uint8Array<ArrayBuffer> }
  | { id: number; error: string };

/** Offset of the gzip header's OS byte (RFC 1952, section 2.3). */
const GZIP_OS_OFFSET = 9;
/** Gzip OS value "unknown", so output does not vary with the host zlib was built for. */
const GZIP_OS_UNKNOWN = 255;

function compress(request: CompressRequest): Uint8Array<ArrayBuffer> {
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

const scope = self as unknown as {
  onmessage: ((event: MessageEvent<CompressRequest>) => void) | null;
  postMessage(message: CompressResponse, transfer?: Transferable[]): void;
};

scope.onmessage = (event) => {
  const request = event.data;
  try {
    const output = compress(request);
    const block = request.block;
    scope.postMessage({ id: request.id, output, block }, [output.buffer, block.buffer]);
  } catch (error) {
    scope.postMessage({ id: request.id, error: String((error as Error)?.message ?? error) });
  }
};
