/**
 * Checks fetched pack files before they join the shared repository: each
 * pack's SHA-1 trailer against its content and its index, and the list of
 * object ids its version 2 index holds.
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

const INDEX_MAGIC = [0xff, 0x74, 0x4f, 0x63];
const HASH_BYTES = 20;
// Magic, version and a 256-entry fan-out table of 4-byte counts.
const INDEX_HEADER_BYTES = 8 + 256 * 4;

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
  const indexedChecksum = toHex(index.subarray(index.length - 2 * HASH_BYTES, index.length - HASH_BYTES));
  if (indexedChecksum !== computed) {
    throw new RangeError(
      `pack "${files.name}" does not match its index: the index records ${indexedChecksum}`,
    );
  }
}

/** Returns the object ids listed in a version 2 pack index. */
export async function readIndexedObjects(files: PackFiles): Promise<Set<string>> {
  const index = await Deno.readFile(files.index);
  const view = new DataView(index.buffer, index.byteOffset, index.byteLength);
  if (
    index.length < INDEX_HEADER_BYTES || INDEX_MAGIC.some((byte, i) => index[i] !== byte) ||
    view.getUint32(4) !== 2
  ) {
    throw new RangeError(`pack index "${files.name}.idx" is not a version 2 index`);
  }
  const count = view.getUint32(INDEX_HEADER_BYTES - 4);
  if (index.length < INDEX_HEADER_BYTES + count * HASH_BYTES) {
    throw new RangeError(`pack index "${files.name}.idx" is truncated`);
  }
  const oids = new Set<string>();
  for (let i = 0; i < count; i++) {
    const start = INDEX_HEADER_BYTES + i * HASH_BYTES;
    oids.add(toHex(index.subarray(start, start + HASH_BYTES)));
  }
  return oids;
}

function toHex(bytes: Uint8Array): string {
  let hex = "";
  for (const byte of bytes) hex += byte.toString(16).padStart(2, "0");
  return hex;
}
