/**
 * Reads objects from git pack files: entry headers, deltas and a reader
 * that finds any object of a repository's packs through their indexes.
 *
 * isomorphic-git reads packed objects too, but it inflates from each object
 * to the end of the pack, so a checkout of a few thousand files takes
 * seconds. This reader inflates exactly one entry and caches delta bases.
 *
 * @module
 */

import { createHash, join } from "../../core/deps.ts";
import { inflatePrefix } from "./_git_zlib.ts";

/** Object types of git's object model. */
export type ObjectType = "commit" | "tree" | "blob" | "tag";

/** An object's type and content. */
export interface GitObject {
  type: ObjectType;
  data: Uint8Array;
}

/** The header of one pack entry. */
export interface EntryHeader {
  /** 1 commit, 2 tree, 3 blob, 4 tag, 6 offset delta, 7 reference delta. */
  code: number;
  /** Size of the inflated entry data: the object, or the delta. */
  size: number;
  /** Offset of the entry's zlib stream. */
  dataOffset: number;
  /** For an offset delta: where its base entry starts. */
  baseOffset?: number;
  /** For a reference delta: the base object's id. */
  baseOid?: string;
}

const TYPES: Record<number, ObjectType> = { 1: "commit", 2: "tree", 3: "blob", 4: "tag" };
const OFFSET_DELTA = 6;
const REFERENCE_DELTA = 7;
const HASH_BYTES = 20;
// Inflated objects kept for delta resolution, in bytes.
const CACHE_BYTES = 64 * 1024 * 1024;

/** Returns the object type of entry code `code`, or undefined for a delta. */
export function typeOfCode(code: number): ObjectType | undefined {
  return TYPES[code];
}

/** Returns the entry code of object type `type`. */
export function codeOfType(type: ObjectType): number {
  return Number(Object.entries(TYPES).find(([, name]) => name === type)![0]);
}

/** Parses the entry header at `offset` of `pack`. Throws a `RangeError` for an invalid one. */
export function readEntryHeader(pack: Uint8Array, offset: number): EntryHeader {
  let position = offset;
  let byte = byteAt(pack, position++);
  const code = (byte >> 4) & 0b111;
  let size = byte & 0b1111;
  for (let shift = 4; byte & 0x80; shift += 7) {
    byte = byteAt(pack, position++);
    size += (byte & 0x7f) * 2 ** shift;
  }
  if (code === OFFSET_DELTA) {
    byte = byteAt(pack, position++);
    let distance = byte & 0x7f;
    while (byte & 0x80) {
      byte = byteAt(pack, position++);
      distance = (distance + 1) * 128 + (byte & 0x7f);
    }
    if (distance <= 0 || distance > offset) {
      throw new RangeError(`pack entry at ${offset} names a base outside the pack`);
    }
    return { code, size, dataOffset: position, baseOffset: offset - distance };
  }
  if (code === REFERENCE_DELTA) {
    const baseOid = toHex(pack.subarray(position, position + HASH_BYTES));
    return { code, size, dataOffset: position + HASH_BYTES, baseOid };
  }
  if (!TYPES[code]) throw new RangeError(`pack entry at ${offset} has unknown type ${code}`);
  return { code, size, dataOffset: position };
}

/** Inflates the data of the entry with `header`; returns it and where the next entry starts. */
export function inflateEntry(
  pack: Uint8Array,
  header: EntryHeader,
): { data: Uint8Array; end: number } {
  // zlib's deflateBound() keeps a stream below about size * 1.001 + 20 bytes, so
  // that much input suffices and the rest of the pack is not handed to zlib. A
  // stream from a wasteful encoder that needs more is inflated from the full rest.
  const bound = header.dataOffset + header.size + (header.size >> 9) + 1024;
  let inflated: { data: Uint8Array; consumed: number };
  try {
    inflated = inflatePrefix(pack.subarray(header.dataOffset, bound));
  } catch (error) {
    if (bound >= pack.length) throw error;
    inflated = inflatePrefix(pack.subarray(header.dataOffset));
  }
  const { data, consumed } = inflated;
  if (data.length !== header.size) {
    throw new RangeError(
      `pack entry at ${header.dataOffset} inflates to ${data.length} bytes, not ${header.size}`,
    );
  }
  return { data, end: header.dataOffset + consumed };
}

/** Applies git delta `delta` to `base`. Throws a `RangeError` when they do not fit together. */
export function applyDelta(base: Uint8Array, delta: Uint8Array): Uint8Array {
  let position = 0;
  const readSize = () => {
    let value = 0;
    let byte: number;
    let shift = 0;
    do {
      byte = byteAt(delta, position++);
      value += (byte & 0x7f) * 2 ** shift;
      shift += 7;
    } while (byte & 0x80);
    return value;
  };
  const baseSize = readSize();
  const resultSize = readSize();
  if (baseSize !== base.length) throw new RangeError("delta does not fit its base");

  const result = new Uint8Array(resultSize);
  let written = 0;
  while (position < delta.length) {
    const op = delta[position++];
    if (op & 0x80) {
      let copyOffset = 0;
      let copySize = 0;
      for (let bit = 0; bit < 4; bit++) {
        if (op & (1 << bit)) copyOffset += byteAt(delta, position++) * 2 ** (8 * bit);
      }
      for (let bit = 0; bit < 3; bit++) {
        if (op & (0x10 << bit)) copySize += byteAt(delta, position++) << (8 * bit);
      }
      if (copySize === 0) copySize = 0x10000;
      if (copyOffset + copySize > base.length || written + copySize > resultSize) {
        throw new RangeError("delta copies outside its base or result");
      }
      result.set(base.subarray(copyOffset, copyOffset + copySize), written);
      written += copySize;
    } else if (op > 0) {
      if (position + op > delta.length || written + op > resultSize) {
        throw new RangeError("delta inserts past its end");
      }
      result.set(delta.subarray(position, position + op), written);
      position += op;
      written += op;
    } else {
      throw new RangeError("delta has a reserved instruction");
    }
  }
  if (written !== resultSize) throw new RangeError("delta result is shorter than announced");
  return result;
}

/** Returns the id git gives an object of `type` with content `data`. */
export function objectId(type: ObjectType, data: Uint8Array): string {
  return createHash("sha1").update(`${type} ${data.length}\0`).update(data).digest("hex");
}

/** A pack file's index: object ids and the offsets of their entries. */
export interface PackIndex {
  /** Object id → entry offset. */
  offsets: Map<string, number>;
  /** The pack's checksum, as the index records it. */
  packChecksum: string;
}

/** Parses a version 2 pack index. Throws a `RangeError` for anything else. */
export function parsePackIndex(bytes: Uint8Array, name: string): PackIndex {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 8 + 1024 || view.getUint32(0) !== 0xff744f63 || view.getUint32(4) !== 2) {
    throw new RangeError(`pack index "${name}" is not a version 2 index`);
  }
  const count = view.getUint32(8 + 255 * 4);
  const oidsStart = 8 + 1024;
  const offsetsStart = oidsStart + count * (HASH_BYTES + 4);
  const largeStart = offsetsStart + count * 4;
  if (bytes.length < largeStart + 2 * HASH_BYTES) {
    throw new RangeError(`pack index "${name}" is truncated`);
  }
  const offsets = new Map<string, number>();
  for (let i = 0; i < count; i++) {
    const oid = toHex(bytes.subarray(oidsStart + i * HASH_BYTES, oidsStart + (i + 1) * HASH_BYTES));
    let offset = view.getUint32(offsetsStart + i * 4);
    if (offset & 0x80000000) {
      const large = largeStart + (offset & 0x7fffffff) * 8;
      offset = view.getUint32(large) * 2 ** 32 + view.getUint32(large + 4);
    }
    offsets.set(oid, offset);
  }
  const packChecksum = toHex(
    bytes.subarray(bytes.length - 2 * HASH_BYTES, bytes.length - HASH_BYTES),
  );
  return { offsets, packChecksum };
}

/**
 * The entries of one pack in memory, read by position. Inflated objects are
 * cached up to 64 MiB, so a delta chain resolves its bases once.
 */
export class PackData {
  readonly bytes: Uint8Array;
  readonly #findBase: (oid: string) => { data: PackData; offset: number } | undefined;
  readonly #cache = new Map<number, GitObject>();
  #cachedBytes = 0;

  /** `findBase` locates the base of a reference delta, in this pack or another. */
  constructor(
    bytes: Uint8Array,
    findBase: (oid: string) => { data: PackData; offset: number } | undefined,
  ) {
    this.bytes = bytes;
    this.#findBase = findBase;
  }

  /** Returns the object whose entry starts at `offset`, applying deltas. */
  readAt(offset: number, depth = 0): GitObject {
    const cached = this.#cache.get(offset);
    if (cached) return cached;
    if (depth > 10_000) throw new RangeError(`delta chain at ${offset} is too long`);

    const header = readEntryHeader(this.bytes, offset);
    const { data } = inflateEntry(this.bytes, header);
    let object: GitObject;
    if (header.baseOffset !== undefined) {
      const base = this.readAt(header.baseOffset, depth + 1);
      object = { type: base.type, data: applyDelta(base.data, data) };
    } else if (header.baseOid !== undefined) {
      const where = this.#findBase(header.baseOid);
      if (!where) throw new RangeError(`delta base ${header.baseOid} is missing`);
      const base = where.data.readAt(where.offset, depth + 1);
      object = { type: base.type, data: applyDelta(base.data, data) };
    } else {
      object = { type: typeOfCode(header.code)!, data };
    }
    this.remember(offset, object);
    return object;
  }

  /** Caches `object` as the entry at `offset`, dropping the oldest entries past the limit. */
  remember(offset: number, object: GitObject): void {
    if (object.data.length > CACHE_BYTES / 4 || this.#cache.has(offset)) return;
    this.#cache.set(offset, object);
    this.#cachedBytes += object.data.length;
    for (const [oldest, value] of this.#cache) {
      if (this.#cachedBytes <= CACHE_BYTES) break;
      this.#cache.delete(oldest);
      this.#cachedBytes -= value.data.length;
    }
  }
}

interface LoadedPack {
  path: string;
  index: PackIndex;
  data?: PackData;
}

/**
 * Reads objects from every pack of a repository, finding them through the
 * packs' indexes. A pack is read into memory whole on first use.
 */
export class PackReader {
  readonly #where = new Map<string, { pack: LoadedPack; offset: number }>();

  private constructor(packs: LoadedPack[]) {
    for (const pack of packs) {
      for (const [oid, offset] of pack.index.offsets) this.#where.set(oid, { pack, offset });
    }
  }

  /** Opens the packs of `gitdir` that have an index. */
  static async open(gitdir: string): Promise<PackReader> {
    const dir = join(gitdir, "objects/pack");
    const packs: LoadedPack[] = [];
    for await (const entry of Deno.readDir(dir)) {
      if (!entry.isFile || !entry.name.endsWith(".idx")) continue;
      const index = parsePackIndex(await Deno.readFile(join(dir, entry.name)), entry.name);
      packs.push({ path: join(dir, `${entry.name.slice(0, -4)}.pack`), index });
    }
    return new PackReader(packs);
  }

  /** Reports whether any pack contains `oid`. */
  has(oid: string): boolean {
    return this.#where.has(oid);
  }

  /** Returns the ids of every object in the packs. */
  objects(): IterableIterator<string> {
    return this.#where.keys();
  }

  /** Reads object `oid`. Throws a `RangeError` when no pack contains it or it is damaged. */
  read(oid: string): GitObject {
    const where = this.#locate(oid);
    if (!where) throw new RangeError(`object ${oid} is not in the repository`);
    return where.data.readAt(where.offset);
  }

  /** Reads object `oid` and checks that it has type `type`. */
  readTyped(oid: string, type: ObjectType): Uint8Array {
    const object = this.read(oid);
    if (object.type !== type) {
      throw new RangeError(`object ${oid} is a ${object.type}, not a ${type}`);
    }
    return object.data;
  }

  #locate(oid: string): { data: PackData; offset: number } | undefined {
    const where = this.#where.get(oid);
    if (!where) return undefined;
    where.pack.data ??= new PackData(
      Deno.readFileSync(where.pack.path),
      (base) => this.#locate(base),
    );
    return { data: where.pack.data, offset: where.offset };
  }
}

function byteAt(bytes: Uint8Array, position: number): number {
  if (position >= bytes.length) throw new RangeError("pack data ends inside an entry");
  return bytes[position];
}

/** Returns `bytes` as lower-case hex. */
export function toHex(bytes: Uint8Array): string {
  let hex = "";
  for (const byte of bytes) hex += byte.toString(16).padStart(2, "0");
  return hex;
}
