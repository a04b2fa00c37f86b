/**
 * Writes git packs and their version 2 indexes: indexing a fetched pack
 * (which checks every object on the way), and packing a list of objects.
 *
 * @module
 */

import { createHash, join } from "../../core/deps.ts";
import {
  codeOfType,
  type GitObject,
  inflateEntry,
  objectId,
  PackData,
  readEntryHeader,
  toHex,
  typeOfCode,
} from "./_git_pack.ts";
import { crc32, deflate } from "./_git_zlib.ts";

const HASH_BYTES = 20;

/** One indexed entry. */
interface IndexedEntry {
  oid: string;
  offset: number;
  crc: number;
}

/**
 * Reads the pack at `packPath`, checks its checksum and every entry, and
 * writes the index beside it (`pack-<checksum>.idx`, renamed into place last).
 * Returns the pack's checksum and the id of each object. Throws a
 * `RangeError` naming the problem when the pack is damaged.
 */
export async function indexPack(packPath: string): Promise<{ checksum: string; oids: string[] }> {
  const bytes = await Deno.readFile(packPath);
  const checksum = verifyTrailer(bytes);
  const count = new DataView(bytes.buffer, bytes.byteOffset).getUint32(8);

  const byOid = new Map<string, number>();
  const data: PackData = new PackData(bytes, (oid) => {
    const offset = byOid.get(oid);
    return offset === undefined ? undefined : { data, offset };
  });
  const entries: IndexedEntry[] = [];
  const deltas: Array<{ offset: number; crc: number }> = [];

  // Whole objects get their id on the first pass; deltas once their bases are known.
  let position = 12;
  for (let i = 0; i < count; i++) {
    const header = readEntryHeader(bytes, position);
    const { data: inflated, end } = inflateEntry(bytes, header);
    const crc = crc32(bytes.subarray(position, end));
    const type = typeOfCode(header.code);
    if (type) {
      const oid = objectId(type, inflated);
      data.remember(position, { type, data: inflated });
      byOid.set(oid, position);
      entries.push({ oid, offset: position, crc });
    } else {
      deltas.push({ offset: position, crc });
    }
    position = end;
  }
  if (position !== bytes.length - HASH_BYTES) {
    throw new RangeError(
      `pack has ${bytes.length - HASH_BYTES - position} bytes after its last entry`,
    );
  }
  resolveDeltas(data, deltas, byOid, entries);

  const indexPath = packPath.replace(/\.pack$/, ".idx");
  const temporary = `${indexPath}.tmp`;
  await Deno.writeFile(temporary, encodeIndex(entries, checksum));
  await Deno.rename(temporary, indexPath);
  return { checksum, oids: entries.map((entry) => entry.oid) };
}

// A reference delta may name a base that is itself a delta later in the
// pack, so deltas whose base is not known yet wait for the next round.
function resolveDeltas(
  data: PackData,
  deltas: Array<{ offset: number; crc: number }>,
  byOid: Map<string, number>,
  entries: IndexedEntry[],
): void {
  let pending = deltas;
  while (pending.length > 0) {
    const waiting: typeof pending = [];
    for (const delta of pending) {
      const header = readEntryHeader(data.bytes, delta.offset);
      if (header.baseOid !== undefined && !byOid.has(header.baseOid)) {
        waiting.push(delta);
        continue;
      }
      const object = data.readAt(delta.offset);
      const oid = objectId(object.type, object.data);
      byOid.set(oid, delta.offset);
      entries.push({ oid, offset: delta.offset, crc: delta.crc });
    }
    if (waiting.length === pending.length) {
      const missing = readEntryHeader(data.bytes, waiting[0].offset).baseOid;
      throw new RangeError(`delta base ${missing} is not in the pack`);
    }
    pending = waiting;
  }
}

function verifyTrailer(bytes: Uint8Array): string {
  const magic = new TextDecoder().decode(bytes.subarray(0, 4));
  const version = bytes.length >= 12
    ? new DataView(bytes.buffer, bytes.byteOffset).getUint32(4)
    : 0;
  if (bytes.length < 12 + HASH_BYTES || magic !== "PACK" || (version !== 2 && version !== 3)) {
    throw new RangeError("the data is not a version 2 or 3 pack");
  }
  const computed = createHash("sha1").update(bytes.subarray(0, bytes.length - HASH_BYTES)).digest(
    "hex",
  );
  const recorded = toHex(bytes.subarray(bytes.length - HASH_BYTES));
  if (computed !== recorded) {
    throw new RangeError(
      `pack does not match its checksum: computed ${computed}, recorded ${recorded}`,
    );
  }
  return computed;
}

/** Encodes a version 2 pack index of `entries` for the pack with checksum `packChecksum`. */
function encodeIndex(entries: IndexedEntry[], packChecksum: string): Uint8Array {
  const sorted = [...entries].sort(compareOids);
  const large = sorted.filter((entry) => entry.offset >= 0x80000000);
  const size = 8 + 1024 + sorted.length * (HASH_BYTES + 8) + large.length * 8 + 2 * HASH_BYTES;
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, 0xff744f63);
  view.setUint32(4, 2);

  const fanout = new Array<number>(256).fill(0);
  for (const entry of sorted) fanout[parseInt(entry.oid.slice(0, 2), 16)]++;
  let total = 0;
  for (let i = 0; i < 256; i++) {
    total += fanout[i];
    view.setUint32(8 + i * 4, total);
  }
  const oidsStart = 8 + 1024;
  const crcStart = oidsStart + sorted.length * HASH_BYTES;
  const offsetsStart = crcStart + sorted.length * 4;
  const largeStart = offsetsStart + sorted.length * 4;
  let largeIndex = 0;
  sorted.forEach((entry, i) => {
    bytes.set(fromHex(entry.oid), oidsStart + i * HASH_BYTES);
    view.setUint32(crcStart + i * 4, entry.crc >>> 0);
    if (entry.offset < 0x80000000) {
      view.setUint32(offsetsStart + i * 4, entry.offset);
      return;
    }
    view.setUint32(offsetsStart + i * 4, 0x80000000 | largeIndex);
    view.setUint32(largeStart + largeIndex * 8, Math.floor(entry.offset / 2 ** 32));
    view.setUint32(largeStart + largeIndex * 8 + 4, entry.offset >>> 0);
    largeIndex++;
  });
  const checksumStart = size - 2 * HASH_BYTES;
  bytes.set(fromHex(packChecksum), checksumStart);
  bytes.set(
    createHash("sha1").update(bytes.subarray(0, size - HASH_BYTES)).digest(),
    size - HASH_BYTES,
  );
  return bytes;
}

/**
 * Writes `objects` into `dir` as one pack of whole (undeltified) objects with
 * its index, and returns the pack's base name ("pack-<checksum>").
 */
export async function writePack(objects: GitObject[], dir: string): Promise<string> {
  const parts: Uint8Array[] = [];
  const header = new Uint8Array(12);
  header.set(new TextEncoder().encode("PACK"));
  new DataView(header.buffer).setUint32(4, 2);
  new DataView(header.buffer).setUint32(8, objects.length);
  parts.push(header);
  for (const object of objects) {
    parts.push(entryHeader(codeOfType(object.type), object.data.length), deflate(object.data));
  }
  const hash = createHash("sha1");
  for (const part of parts) hash.update(part);
  const checksum = hash.digest();
  parts.push(new Uint8Array(checksum));

  const name = `pack-${toHex(new Uint8Array(checksum))}`;
  const path = join(dir, `${name}.pack`);
  await Deno.writeFile(path, concat(parts));
  await indexPack(path);
  return name;
}

function entryHeader(code: number, size: number): Uint8Array {
  const bytes = [(code << 4) | (size & 0b1111)];
  let rest = Math.floor(size / 16);
  while (rest > 0) {
    bytes[bytes.length - 1] |= 0x80;
    bytes.push(rest & 0x7f);
    rest = Math.floor(rest / 128);
  }
  return new Uint8Array(bytes);
}

function compareOids(a: IndexedEntry, b: IndexedEntry): number {
  if (a.oid === b.oid) return 0;
  return a.oid < b.oid ? -1 : 1;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const joined = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    joined.set(part, offset);
    offset += part.length;
  }
  return joined;
}

function fromHex(hex: string): Uint8Array {
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return bytes;
}
