/**
 * Streams a file through sha256 in fixed-size reads, so a file of any size is
 * hashed in constant memory.
 *
 * @module
 */

import { createHash } from "../../core/deps.ts";
import type { Digest } from "../../core/digest.ts";

const CHUNK_SIZE = 256 * 1024;

/** The digest of a file and its `fstat` once read to the end. */
export interface HashedFile {
  content: Digest;
  info: Deno.FileInfo;
}

/**
 * Returns the sha256 of the file at `path` and its stat after the last read.
 * `sizeHint`, the size the caller expects, keeps the read buffer small for
 * small files, which are most files of a source tree.
 */
export async function hashFile(
  path: string,
  sizeHint = CHUNK_SIZE,
  signal?: AbortSignal,
): Promise<HashedFile> {
  const file = await Deno.open(path, { read: true });
  try {
    const hash = createHash("sha256");
    // One byte more than expected lets a file of the expected size end in one read.
    const buffer = new Uint8Array(Math.min(CHUNK_SIZE, Math.max(sizeHint + 1, 4096)));
    for (;;) {
      signal?.throwIfAborted();
      const count = await file.read(buffer);
      if (count === null) break;
      hash.update(buffer.subarray(0, count));
    }
    return { content: `sha256:${hash.digest("hex")}`, info: await file.stat() };
  } finally {
    file.close();
  }
}
