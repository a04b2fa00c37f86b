/**
 * A tar encoder that writes POSIX ustar headers, with PAX extended headers for
 * what ustar cannot hold, into large output chunks.
 *
 * @module
 */

/** Entry types the encoder writes. */
export type TarWriterEntryType =
  | "file"
  | "link"
  | "symlink"
  | "character-device"
  | "block-device"
  | "directory"
  | "fifo";

/** One entry's header. Every field is written as given, so equal headers give equal bytes. */
export interface TarHeader {
  /** Clean path relative to the archive root, without a trailing "/". */
  name: string;
  type: TarWriterEntryType;
  /** Permission bits, set-id and sticky bits included. */
  mode: number;
  uid: number;
  gid: number;
  /** Data size in bytes; 0 for everything but regular files. */
  size: number;
  /** Modification time in whole seconds since the epoch. */
  mtime: number;
  /** Symlink target, or the name of an earlier entry for a hardlink. */
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  /** Extended attributes, written as `SCHILY.xattr.` PAX records in the order given. */
  xattrs?: [string, Uint8Array][];
}

const BLOCK_SIZE = 512;
const TYPE_FLAGS: Record<TarWriterEntryType | "pax", string> = {
  "file": "0",
  "link": "1",
  "symlink": "2",
  "character-device": "3",
  "block-device": "4",
  "directory": "5",
  "fifo": "6",
  "pax": "x",
};

/** Largest value of an 8-byte octal field (7 digits and a NUL). */
const MAX_OCTAL_8 = 0o7777777;
/** Largest value of a 12-byte octal field (11 digits and a NUL). */
const MAX_OCTAL_12 = 0o77777777777;
const NAME_LENGTH = 100;
const PREFIX_LENGTH = 155;

const encoder = new TextEncoder();

function isAscii(value: string): boolean {
  // deno-lint-ignore no-control-regex
  return /^[\x01-\x7f]*$/.test(value);
}

/**
 * Splits an ASCII name into the ustar prefix and name fields, or returns
 * undefined when it fits neither way and needs a PAX "path" record.
 */
function splitUstarName(name: string): { prefix: string; name: string } | undefined {
  if (!isAscii(name)) return undefined;
  if (name.length <= NAME_LENGTH) return { prefix: "", name };
  for (let slash = name.indexOf("/"); slash !== -1; slash = name.indexOf("/", slash + 1)) {
    if (slash > PREFIX_LENGTH) break;
    if (name.length - slash - 1 <= NAME_LENGTH) {
      return { prefix: name.slice(0, slash), name: name.slice(slash + 1) };
    }
  }
  return undefined;
}

/** Returns a short ASCII stand-in for a name that only a PAX record contains in full. */
function fallbackName(name: string): string {
  // deno-lint-ignore no-control-regex
  const ascii = name.replace(/[^\x01-\x7f]/g, "_");
  return ascii.length <= NAME_LENGTH ? ascii : ascii.slice(ascii.length - NAME_LENGTH);
}

/** Encodes one PAX record, "<length> <key>=<value>\n", where the length counts itself. */
function paxRecord(key: string, value: Uint8Array): Uint8Array {
  const keyBytes = encoder.encode(key);
  const base = keyBytes.length + value.length + 3;
  let length = base + String(base).length;
  if (String(length).length !== String(base).length) length = base + String(length).length;

  const record = new Uint8Array(length);
  const head = encoder.encode(`${length} ${key}=`);
  record.set(head);
  record.set(value, head.length);
  record[length - 1] = 0x0a;
  return record;
}

/** Writes the ASCII string `value`, cut to `length` bytes; the rest of the field keeps its zeros. */
function writeAscii(block: Uint8Array, offset: number, length: number, value: string): void {
  const end = Math.min(length, value.length);
  for (let index = 0; index < end; index++) block[offset + index] = value.charCodeAt(index);
}

/** Writes `value` as zero-padded octal digits filling all but the field's last byte, a NUL. */
function writeOctal(block: Uint8Array, offset: number, length: number, value: number): void {
  let rest = value;
  for (let index = offset + length - 2; index >= offset; index--) {
    block[index] = 0x30 + (rest % 8);
    rest = Math.floor(rest / 8);
  }
}

/** Fields of one ustar header block, each already in range. */
interface UstarFields {
  name: string;
  prefix: string;
  typeFlag: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  linkname: string;
  devmajor: number;
  devminor: number;
}

const USTAR_MAGIC = "ustar\x0000";

/**
 * Encodes one header into `block`, 512 bytes that must hold zeros. Every text
 * field is ASCII by now: names that are not have a PAX record and an ASCII
 * stand-in.
 */
function encodeUstar(block: Uint8Array, fields: UstarFields): void {
  writeAscii(block, 0, 100, fields.name);
  writeOctal(block, 100, 8, fields.mode);
  writeOctal(block, 108, 8, fields.uid);
  writeOctal(block, 116, 8, fields.gid);
  writeOctal(block, 124, 12, fields.size);
  writeOctal(block, 136, 12, fields.mtime);
  writeAscii(block, 156, 1, fields.typeFlag);
  writeAscii(block, 157, 100, fields.linkname);
  writeAscii(block, 257, 8, USTAR_MAGIC);
  // uname and gname (265 to 328) stay empty so the archive does not depend on the host's user names.
  writeOctal(block, 329, 8, fields.devmajor);
  writeOctal(block, 337, 8, fields.devminor);
  writeAscii(block, 345, 155, fields.prefix);

  // The checksum is computed with its own field read as eight spaces.
  block.fill(0x20, 148, 156);
  let checksum = 0;
  for (let index = 0; index < BLOCK_SIZE; index++) checksum += block[index];
  // Six digits, a NUL and a space, the layout GNU tar writes.
  writeOctal(block, 148, 7, checksum);
  block[154] = 0;
}

/**
 * Returns the PAX records `header` needs, or an empty list when plain ustar
 * fits it. `path` is the name to record when the ustar fields cannot contain it.
 */
function paxRecords(header: TarHeader, path: string | undefined): Uint8Array[] {
  const records: Uint8Array[] = [];
  const linkname = header.linkname ?? "";
  if (path !== undefined) records.push(paxRecord("path", encoder.encode(path)));
  if (!isAscii(linkname) || linkname.length > NAME_LENGTH) {
    records.push(paxRecord("linkpath", encoder.encode(linkname)));
  }
  for (const [key, value] of [["uid", header.uid], ["gid", header.gid]] as const) {
    if (value > MAX_OCTAL_8) records.push(paxRecord(key, encoder.encode(String(value))));
  }
  if (header.size > MAX_OCTAL_12) {
    records.push(paxRecord("size", encoder.encode(String(header.size))));
  }
  if (header.mtime < 0 || header.mtime > MAX_OCTAL_12) {
    records.push(paxRecord("mtime", encoder.encode(String(header.mtime))));
  }
  for (const [name, value] of header.xattrs ?? []) {
    records.push(paxRecord(`SCHILY.xattr.${name}`, value));
  }
  return records;
}

/**
 * Encodes tar entries into chunks of `chunkSize` bytes. Callers write a header,
 * then exactly `size` bytes of data through {@linkcode TarWriter.space} and
 * {@linkcode TarWriter.commit}, then {@linkcode TarWriter.endEntry}, and collect
 * full chunks with {@linkcode TarWriter.takeChunks}.
 */
export class TarWriter {
  readonly #chunkSize: number;
  #chunk: Uint8Array;
  #used = 0;
  #ready: Uint8Array[] = [];
  #entryBytes = 0;
  readonly #pool: Uint8Array[] | undefined;

  /**
   * @param options.pool Full chunks the consumer has finished with, filled
   * again before a new chunk is allocated. That saves allocating and zeroing
   * a MiB per chunk, which on a VM also means faulting in new pages.
   */
  constructor(chunkSize: number, options: { pool?: Uint8Array[] } = {}) {
    if (chunkSize <= 0 || chunkSize % BLOCK_SIZE !== 0) {
      throw new RangeError(`Invalid tar chunk size ${chunkSize}: expected a multiple of 512`);
    }
    this.#chunkSize = chunkSize;
    this.#chunk = new Uint8Array(chunkSize);
    this.#pool = options.pool;
  }

  /** Writes the header blocks of one entry, with a PAX header first when needed. */
  writeHeader(header: TarHeader): void {
    const directoryName = header.type === "directory" ? `${header.name}/` : header.name;
    const split = splitUstarName(directoryName);
    const records = paxRecords(header, split === undefined ? directoryName : undefined);
    const fits = (value: number, max: number) => value >= 0 && value <= max;

    if (records.length > 0) this.#writePaxHeader(directoryName, records);
    const linkname = header.linkname ?? "";
    this.#writeBlock({
      name: split?.name ?? fallbackName(directoryName),
      prefix: split?.prefix ?? "",
      typeFlag: TYPE_FLAGS[header.type],
      mode: header.mode & 0o7777,
      uid: fits(header.uid, MAX_OCTAL_8) ? header.uid : 0,
      gid: fits(header.gid, MAX_OCTAL_8) ? header.gid : 0,
      size: fits(header.size, MAX_OCTAL_12) ? header.size : 0,
      mtime: fits(header.mtime, MAX_OCTAL_12) ? header.mtime : 0,
      linkname: isAscii(linkname) && linkname.length <= NAME_LENGTH
        ? linkname
        : fallbackName(linkname),
      devmajor: header.devmajor ?? 0,
      devminor: header.devminor ?? 0,
    });
    this.#entryBytes = 0;
  }

  #writePaxHeader(name: string, records: Uint8Array[]): void {
    const size = records.reduce((total, record) => total + record.length, 0);
    const trimmed = name.endsWith("/") ? name.slice(0, -1) : name;
    const base = trimmed.slice(trimmed.lastIndexOf("/") + 1);
    this.#writeBlock({
      name: fallbackName(`PaxHeaders/${base}`),
      prefix: "",
      typeFlag: TYPE_FLAGS.pax,
      mode: 0o644,
      uid: 0,
      gid: 0,
      size,
      mtime: 0,
      linkname: "",
      devmajor: 0,
      devminor: 0,
    });
    for (const record of records) this.#writeBytes(record);
    this.#pad(size);
  }

  /** Returns free space of the current chunk for entry data; {@linkcode TarWriter.commit} counts what was filled. */
  space(): Uint8Array {
    if (this.#used === this.#chunkSize) this.#rotate();
    return this.#chunk.subarray(this.#used);
  }

  /** Counts `count` bytes filled in the view that {@linkcode TarWriter.space} returned. */
  commit(count: number): void {
    this.#used += count;
    this.#entryBytes += count;
  }

  /** Pads the current entry's data to a whole block. */
  endEntry(): void {
    this.#pad(this.#entryBytes);
    this.#entryBytes = 0;
  }

  /** Writes the two zero blocks that end an archive and releases the last partial chunk. */
  finish(): void {
    this.#skip(2 * BLOCK_SIZE);
    if (this.#used > 0) this.#ready.push(this.#chunk.subarray(0, this.#used));
    this.#chunk = new Uint8Array(0);
    this.#used = 0;
  }

  /** Reports whether a chunk is ready for {@linkcode TarWriter.takeChunks}. */
  hasChunks(): boolean {
    return this.#ready.length > 0;
  }

  /** Yields the chunks filled so far and clears the list. */
  *takeChunks(): Generator<Uint8Array> {
    const ready = this.#ready;
    this.#ready = [];
    yield* ready;
  }

  #rotate(): void {
    this.#ready.push(this.#chunk);
    this.#chunk = this.#pool?.pop() ?? new Uint8Array(this.#chunkSize);
    this.#used = 0;
  }

  /**
   * Encodes a header block in place. Entries and their padding are whole
   * blocks and the chunk size is a multiple of the block size, so a header
   * never straddles two chunks.
   */
  #writeBlock(fields: UstarFields): void {
    if (this.#used === this.#chunkSize) this.#rotate();
    const block = this.#chunk.subarray(this.#used, this.#used + BLOCK_SIZE);
    block.fill(0);
    encodeUstar(block, fields);
    this.#used += BLOCK_SIZE;
  }

  #writeBytes(bytes: Uint8Array): void {
    let offset = 0;
    while (offset < bytes.length) {
      if (this.#used === this.#chunkSize) this.#rotate();
      const count = Math.min(bytes.length - offset, this.#chunkSize - this.#used);
      this.#chunk.set(bytes.subarray(offset, offset + count), this.#used);
      this.#used += count;
      offset += count;
    }
  }

  /** Writes `count` zero bytes. */
  #skip(count: number): void {
    while (count > 0) {
      if (this.#used === this.#chunkSize) this.#rotate();
      const step = Math.min(count, this.#chunkSize - this.#used);
      // A reused chunk still contains its old bytes.
      this.#chunk.fill(0, this.#used, this.#used + step);
      this.#used += step;
      count -= step;
    }
  }

  #pad(dataSize: number): void {
    const remainder = dataSize % BLOCK_SIZE;
    if (remainder !== 0) this.#skip(BLOCK_SIZE - remainder);
  }
}
