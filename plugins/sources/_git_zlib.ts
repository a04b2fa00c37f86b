/**
 * The zlib functions git's pack format needs: one-shot inflate that reports
 * how many input bytes a stream used, deflate, and CRC-32.
 *
 * @module
 */

import { crc32 as nodeCrc32, deflateSync, inflateSync } from "../../core/deps.ts";

/**
 * Inflates the zlib stream at the start of `input` and returns its content
 * and the number of bytes the stream took, so the bytes after it can be read
 * next. Throws a `RangeError` when the data is not a valid stream.
 */
export function inflatePrefix(input: Uint8Array): { data: Uint8Array; consumed: number } {
  try {
    const result = inflateSync(input, { info: true }) as unknown as {
      buffer: Uint8Array;
      engine: { bytesWritten: number };
    };
    return { data: result.buffer, consumed: result.engine.bytesWritten };
  } catch (error) {
    throw new RangeError(`invalid zlib data: ${(error as Error).message}`, { cause: error });
  }
}

/** Returns `data` compressed as one zlib stream. */
export function deflate(data: Uint8Array): Uint8Array {
  return deflateSync(data);
}

/** Returns the CRC-32 of `data`, continuing from `initial`. */
export function crc32(data: Uint8Array, initial = 0): number {
  return nodeCrc32(data, initial);
}
