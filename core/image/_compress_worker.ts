/**
 * The worker side of {@link compressBlocks} in `_parallel_compress.ts`: compresses one block
 * per message into a self-contained gzip member or zstd frame.
 *
 * @module
 */

import { compressBlock } from "./_compress_block.ts";

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

const scope = self as unknown as {
  onmessage: ((event: MessageEvent<CompressRequest>) => void) | null;
  postMessage(message: CompressResponse, transfer?: Transferable[]): void;
};

scope.onmessage = (event) => {
  const request = event.data;
  try {
    const output = compressBlock(request);
    const block = request.block;
    scope.postMessage({ id: request.id, output, block }, [output.buffer, block.buffer]);
  } catch (error) {
    scope.postMessage({ id: request.id, error: String((error as Error)?.message ?? error) });
  }
};
