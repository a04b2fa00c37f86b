/**
 * Streams a file through sha256 in fixed-size reads, so a file of any size is
 * hashed in constant memory.
 *
 * @module
 */

import { createHash } from "../../core/deps.ts";
import type { Digest } from "../../core/digest.ts";
import type { Pacer } from "./_local_pacer.ts";

const CHUNK_SIZE = 256 * 1024;

/**
 * One read buffer for every hash in the process. Sharing it is safe because
 * each chunk is read and fed to the hash with no `await` in between.
 */
const buffer = new Uint8Array(CHUNK_SIZE);

/** Options for {@link hashFile}. */
export interface HashFileOptions {
  /** Yields between reads, and stops the read when its signal aborts. */
  pacer?: Pacer;
}

/** Returns the sha256 of the bytes of the file at `path`. */
export async function hashFile(path: string, options: HashFileOptions = {}): Promise<Digest> {
  using file = Deno.openSync(path, { read: true });
  const hash = createHash("sha256");
  for (;;) {
    const count = file.readSync(buffer);
    if (count === null) break;
    hash.update(buffer.subarray(0, count));
    if (count === CHUNK_SIZE) await options.pacer?.pause();
  }
  return `sha256:${hash.digest("hex")}`;
}
