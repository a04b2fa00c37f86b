/**
 * Checks fetched pack files before they join the shared repository: each
 * pack's SHA-1 trailer against its content and against its index.
 *
 * @module
 */

import { createHash, join } from "../../core/deps.ts";

/** A pack file and its index in `objects/pack`, by base name ("pack-<sha>"). */
export interface PackFiles {
  name: string;
  pack: string;
  index: string;
}

const HASH_BYTES = 20;

/** Lists the packs of `gitdir` that have an index; a pack still without one is not usable yet. */
export async function listPacks(gitdir: string): Promise<PackFiles[]> {
  const dir = join(gitdir, "objects/pack");
  const packs: PackFiles[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (!entry.isFile || !entry.name.endsWith(".idx")) continue;
    const name = entry.name.slice(0, -".idx".length);
    packs.push({ name, pack: join(dir, `${name}.pack`), index: join(dir, entry.name) });
  }
  return packs.sort((a, b) => (a.name < b.name ? -1 : 1));
}

/**
 * Checks that the SHA-1 of `files.pack` without its trailer equals the
 * trailer, and that the index records the same checksum. Throws a
 * `RangeError` naming the pack when either differs.
 */
export async function verifyPackChecksum(files: PackFiles): Promise<void> {
  const hash = createHash("sha1");
  const file = await Deno.open(files.pack);
  const size = (await file.stat()).size;
  if (size < 12 + HASH_BYTES) {
    file.close();
    throw new RangeError(`pack "${files.name}" is truncated: ${size} bytes`);
  }
  const trailer = new Uint8Array(HASH_BYTES);
  const payloadEnd = size - HASH_BYTES;
  let position = 0;
  try {
    for await (const chunk of file.readable) {
      if (position < payloadEnd) {
        hash.update(chunk.subarray(0, Math.min(chunk.length, payloadEnd - position)));
      }
      if (position + chunk.length > payloadEnd) {
        const from = Math.max(0, payloadEnd - position);
        trailer.set(chunk.subarray(from), Math.max(0, position - payloadEnd));
      }
      position += chunk.length;
    }
  } catch (error) {
    throw new RangeError(`pack "${files.name}" could not be read`, { cause: error });
  }
  const computed = hash.digest("hex");
  const recorded = toHex(trailer);
  if (computed !== recorded) {
    throw new RangeError(
      `pack "${files.name}" does not match its checksum: computed ${computed}, recorded ${recorded}`,
    );
  }
  const index = await Deno.readFile(files.index);
  const indexedChecksum = toHex(
    index.subarray(index.length - 2 * HASH_BYTES, index.length - HASH_BYTES),
  );
  if (indexedChecksum !== computed) {
    throw new RangeError(
      `pack "${files.name}" does not match its index: the index records ${indexedChecksum}`,
    );
  }
}

function toHex(bytes: Uint8Array): string {
  let hex = "";
  for (const byte of bytes) hex += byte.toString(16).padStart(2, "0");
  return hex;
}
