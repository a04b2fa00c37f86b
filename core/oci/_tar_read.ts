/**
 * A streaming tar decoder: POSIX ustar and GNU headers, PAX extended headers
 * (per entry and global), GNU long names and base-256 numbers. It reads one
 * 512-byte block at a time from a byte stream and hands each entry's data on
 * as slices of the chunks it received, so nothing is held whole.
 *
 * @module
 */

import { CancelledError } from "../errors.ts";
import type { TarEntryHeader, TarEntryType } from "./_tar_diff_writer.ts";

const BLOCK_SIZE = 512;
const XATTR_PAX_PREFIX = "SCHILY.xattr.";
const EMPTY = new Uint8Array(0);
/** Maximum length of a name or link target, Linux's PATH_MAX. */
const MAX_PATH_LENGTH = 4096;
/** Most bytes of global PAX records kept for the rest of an archive. */
const MAX_GLOBAL_PAX_SIZE = 64 * 1024;
/** Global PAX records that apply to later entries; a global path or size would make no sense. */
const GLOBAL_PAX_KEYS = new Set(["uid", "gid", "mtime"]);
const utf8 = new TextDecoder();

/** Entry types by their type flag; "0" and NUL also become "directory" when the name ends in "/". */
const ENTRY_TYPES: Record<string, TarEntryType> = {
  "0": "file",
  "\0": "file",
  "7": "file",
  "1": "link",
  "2": "symlink",
  "3": "character-device",
  "4": "block-device",
  "5": "directory",
  "6": "fifo",
};

/** Type flags whose size field describes no data blocks, as GNU tar and Go's archive/tar read them. */
const HEADER_ONLY_TYPES = new Set(["1", "2", "3", "4", "5", "6"]);

/** A decoded entry: its header with PAX records applied, and how many data bytes follow. */
interface TarReadEntry {
  header: TarEntryHeader;
  size: number;
}

/** Handles one entry; the decoder skips whatever of `body` the handler leaves unread. */
export type EntryHandler = (
  header: TarEntryHeader,
  body: AsyncIterable<Uint8Array>,
) => Promise<void>;

/** Raised for bytes that are not a tar archive or that end partway through one. */
export class TarFormatError extends Error {
  override name = "TarFormatError";
}

/** Reads a byte stream in exact amounts, keeping the rest of the current chunk. */
class ByteReader {
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #signal: AbortSignal | undefined;
  #chunk: Uint8Array = EMPTY;
  #offset = 0;
  #ended = false;
  /** Bytes handed out so far, for error messages. */
  position = 0;

  constructor(reader: ReadableStreamDefaultReader<Uint8Array>, signal: AbortSignal | undefined) {
    this.#reader = reader;
    this.#signal = signal;
  }

  /** Makes at least one unread byte available; false at the end of the stream. */
  async #fill(): Promise<boolean> {
    while (this.#offset >= this.#chunk.length) {
      if (this.#ended) return false;
      const { done, value } = await this.#reader.read();
      if (this.#signal?.aborted) {
        throw new CancelledError("Layer unpack cancelled", { cause: this.#signal.reason });
      }
      if (done) {
        this.#ended = true;
        return false;
      }
      this.#chunk = value;
      this.#offset = 0;
    }
    return true;
  }

  /** Takes up to `limit` bytes from the current chunk, without copying. */
  #take(limit: number): Uint8Array {
    const end = Math.min(this.#chunk.length, this.#offset + limit);
    const slice = this.#chunk.subarray(this.#offset, end);
    this.#offset = end;
    this.position += slice.length;
    return slice;
  }

  /**
   * Reads exactly `length` bytes, or returns undefined when the stream ends
   * before the first of them.
   *
   * @throws {TarFormatError} when the stream ends partway through.
   */
  async readExact(length: number, location: string): Promise<Uint8Array | undefined> {
    if (!(await this.#fill())) return undefined;
    const first = this.#take(length);
    if (first.length === length) return first;
    const bytes = new Uint8Array(length);
    bytes.set(first);
    let filled = first.length;
    while (filled < length) {
      if (!(await this.#fill())) throw this.#truncated(location);
      const part = this.#take(length - filled);
      bytes.set(part, filled);
      filled += part.length;
    }
    return bytes;
  }

  /** Yields the next `length` bytes as slices of the received chunks. */
  async *slices(length: number, location: string): AsyncGenerator<Uint8Array> {
    let remaining = length;
    while (remaining > 0) {
      if (!(await this.#fill())) throw this.#truncated(location);
      const slice = this.#take(remaining);
      remaining -= slice.length;
      yield slice;
    }
  }

  /** Discards the next `length` bytes. */
  async skip(length: number, location: string): Promise<void> {
    for await (const _slice of this.slices(length, location)) {
      // Only the position matters.
    }
  }

  /** Reads and discards everything left, so that digests taken upstream cover every byte. */
  async drain(): Promise<void> {
    while (await this.#fill()) this.#take(Infinity);
  }

  #truncated(location: string): TarFormatError {
    return new TarFormatError(`unexpected end of the tar stream in ${location}`);
  }
}

/** Decodes a NUL-terminated text field as UTF-8. */
function text(block: Uint8Array, offset: number, length: number): string {
  let end = offset;
  const limit = offset + length;
  let ascii = true;
  while (end < limit && block[end] !== 0) {
    if (block[end] >= 0x80) ascii = false;
    end++;
  }
  if (ascii && end - offset <= 256) return String.fromCharCode(...block.subarray(offset, end));
  // NOTE: names are decoded as UTF-8, so a name stored in another encoding is written with
  // U+FFFD in place of its invalid bytes.
  return utf8.decode(block.subarray(offset, end));
}

/**
 * Decodes a numeric field: octal digits ended by a space or NUL, or the base-256
 * form (high bit of the first byte set) that GNU tar writes for large values.
 */
function number(block: Uint8Array, offset: number, length: number, field: string): number {
  const first = block[offset];
  if (first & 0x80) {
    // Base-256: big-endian two's complement in the remaining bits. No field tsbuild reads may be
    // negative, and larger values than 2^53 cannot be exact.
    if (first & 0x40) throw new TarFormatError(`the ${field} field is negative`);
    let value = first & 0x3f;
    for (let i = offset + 1; i < offset + length; i++) value = value * 256 + block[i];
    if (!Number.isSafeInteger(value)) throw new TarFormatError(`the ${field} field is too large`);
    return value;
  }
  let value = 0;
  let i = offset;
  const end = offset + length;
  while (i < end && block[i] === 0x20) i++;
  for (; i < end; i++) {
    const byte = block[i];
    if (byte === 0 || byte === 0x20) break;
    if (byte < 0x30 || byte > 0x37) {
      throw new TarFormatError(`the ${field} field is not an octal number`);
    }
    value = value * 8 + (byte - 0x30);
  }
  return value;
}

/**
 * Reports whether a 512-byte header block's checksum matches. The sum is taken over unsigned
 * bytes, or over signed bytes as some old tars wrote it.
 */
export function checksumMatches(block: Uint8Array): boolean {
  let stored: number;
  try {
    stored = number(block, 148, 8, "checksum");
  } catch {
    return false;
  }
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK_SIZE; i++) {
    const byte = i >= 148 && i < 156 ? 0x20 : block[i];
    unsigned += byte;
    signed += byte >= 0x80 ? byte - 256 : byte;
  }
  return stored === unsigned || stored === signed;
}

function isZeroBlock(block: Uint8Array): boolean {
  for (let i = 0; i < BLOCK_SIZE; i++) if (block[i] !== 0) return false;
  return true;
}

/**
 * Parses PAX records ("LENGTH KEY=VALUE\n"). Values stay bytes, since an
 * extended attribute's value need not be text.
 */
function parsePax(data: Uint8Array): Map<string, Uint8Array<ArrayBuffer>> {
  const records = new Map<string, Uint8Array<ArrayBuffer>>();
  let offset = 0;
  while (offset < data.length) {
    if (data[offset] === 0) break; // Some writers pad the block with NULs.
    let space = offset;
    while (space < data.length && data[space] !== 0x20) space++;
    const digits = utf8.decode(data.subarray(offset, space));
    const length = Number(digits);
    const end = offset + length;
    if (
      !/^[0-9]+$/.test(digits) || space >= data.length || length <= space - offset ||
      end > data.length
    ) {
      throw new TarFormatError("invalid PAX header: a record length is wrong");
    }
    if (data[end - 1] !== 0x0a) {
      throw new TarFormatError("invalid PAX header: a record lacks its newline");
    }
    let equals = space + 1;
    while (equals < end && data[equals] !== 0x3d) equals++;
    if (equals >= end) throw new TarFormatError("invalid PAX header: a record has no '='");
    const key = utf8.decode(data.subarray(space + 1, equals));
    // A copy, so the value does not keep the whole received chunk alive.
    records.set(key, data.slice(equals + 1, end - 1));
    offset = end;
  }
  return records;
}

function paxText(records: Map<string, Uint8Array<ArrayBuffer>>, key: string): string | undefined {
  const value = records.get(key);
  return value === undefined ? undefined : utf8.decode(value);
}

/** Decimal forms of the numeric PAX records: whole numbers, and times with a fraction. */
const PAX_INTEGER = /^[0-9]{1,16}$/;
const PAX_TIME = /^-?[0-9]{1,16}(\.[0-9]+)?$/;

function paxNumber(
  records: Map<string, Uint8Array<ArrayBuffer>>,
  key: string,
  fallback: number,
): number {
  const value = paxText(records, key);
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (
    !(key === "mtime" ? PAX_TIME : PAX_INTEGER).test(value) ||
    !Number.isSafeInteger(Math.trunc(parsed))
  ) {
    throw new TarFormatError(`invalid PAX header: "${key}" is ${JSON.stringify(value)}`);
  }
  return parsed;
}
/** Extensions that apply to the next entry: PAX records and GNU long names. */
interface Pending {
  pax?: Map<string, Uint8Array<ArrayBuffer>>;
  longName?: string;
  longLink?: string;
}

/** Reads a metadata entry's data whole; these are small, and a cap keeps a corrupt size harmless. */
async function readMetadata(
  input: ByteReader,
  size: number,
  location: string,
): Promise<Uint8Array> {
  const MAX_METADATA_SIZE = 16 * 1024 * 1024;
  if (size > MAX_METADATA_SIZE) {
    throw new TarFormatError(`${location} is ${size} bytes, more than ${MAX_METADATA_SIZE}`);
  }
  const data = size === 0 ? EMPTY : await input.readExact(size, location);
  if (data === undefined) {
    throw new TarFormatError(`unexpected end of the tar stream in ${location}`);
  }
  await input.skip(padding(size), location);
  return data;
}

function padding(size: number): number {
  return (BLOCK_SIZE - (size % BLOCK_SIZE)) % BLOCK_SIZE;
}

/** Builds an entry's header from its block and the extensions before it. */
function decodeHeader(
  block: Uint8Array,
  pending: Pending,
  global: Map<string, Uint8Array<ArrayBuffer>>,
): TarReadEntry {
  const posix = text(block, 257, 6) === "ustar" && block[262] === 0;
  const prefix = posix ? text(block, 345, 155) : "";
  const stored = text(block, 0, 100);
  const flag = String.fromCharCode(block[156]);
  const pax = pending.pax ?? new Map<string, Uint8Array<ArrayBuffer>>();
  const lookup = (key: string) => pax.has(key) ? pax : global;

  const name = paxText(pax, "path") ?? pending.longName ??
    (prefix === "" ? stored : `${prefix}/${stored}`);
  const linkname = paxText(pax, "linkpath") ?? pending.longLink ?? text(block, 157, 100);
  for (const path of [name, linkname]) {
    if (path.length > MAX_PATH_LENGTH) {
      throw new TarFormatError(
        `the name "${
          path.slice(0, 64)
        }..." is ${path.length} characters, more than ${MAX_PATH_LENGTH}`,
      );
    }
  }
  // A sparse file stores a map of its holes, which only a sparse-aware reader can expand.
  // Written as it is, it would come out at the wrong size or under a placeholder name.
  if (flag === "S" || [...pax.keys()].some((key) => key.startsWith("GNU.sparse."))) {
    throw new TarFormatError(`entry "${name}" is a sparse file, which tsbuild cannot unpack`);
  }
  let type: TarEntryType = ENTRY_TYPES[flag] ?? "unsupported";
  if (type === "file" && flag !== "7" && name.endsWith("/")) type = "directory";

  const xattrs: [string, Uint8Array<ArrayBuffer>][] = [];
  const seen = new Set<string>();
  for (const records of [pax, global]) {
    for (const [key, value] of records) {
      if (!key.startsWith(XATTR_PAX_PREFIX) || seen.has(key)) continue;
      seen.add(key);
      const attribute = key.slice(XATTR_PAX_PREFIX.length);
      if (attribute === "" || attribute.includes("\0")) {
        throw new TarFormatError(
          `entry "${name}" has an invalid extended attribute name ${JSON.stringify(attribute)}`,
        );
      }
      xattrs.push([attribute, value]);
    }
  }

  const headerSize = number(block, 124, 12, "size");
  const size = HEADER_ONLY_TYPES.has(flag) ? 0 : paxNumber(pax, "size", headerSize);
  return {
    header: {
      name,
      type,
      mode: number(block, 100, 8, "mode") & 0o7777,
      uid: paxNumber(lookup("uid"), "uid", number(block, 108, 8, "uid")),
      gid: paxNumber(lookup("gid"), "gid", number(block, 116, 8, "gid")),
      mtime: paxNumber(lookup("mtime"), "mtime", number(block, 136, 12, "mtime")),
      linkname,
      devmajor: number(block, 329, 8, "devmajor"),
      devminor: number(block, 337, 8, "devminor"),
      xattrs,
    },
    size,
  };
}

/**
 * Calls `onEntry` for each entry of the tar stream `tar`, one at a time, and
 * resolves once the whole stream is read, end-of-archive blocks and anything
 * after them included. The first error, from the stream, the decoder or
 * `onEntry`, cancels the stream and rejects.
 *
 * @throws {TarFormatError} for a damaged or truncated archive.
 * @throws {CancelledError} when `signal` aborts.
 */
export async function extractEntries(
  tar: ReadableStream<Uint8Array>,
  onEntry: EntryHandler,
  signal?: AbortSignal,
): Promise<void> {
  const reader = tar.getReader();
  const onAbort = () => {
    reader.cancel(new CancelledError("Layer unpack cancelled", { cause: signal?.reason }))
      .catch(() => {});
  };
  signal?.addEventListener("abort", onAbort, { once: true });
  const input = new ByteReader(reader, signal);
  try {
    if (signal?.aborted) {
      throw new CancelledError("Layer unpack cancelled", { cause: signal.reason });
    }
    await readEntries(input, onEntry);
    await input.drain();
  } catch (error) {
    await reader.cancel(error).catch(() => {});
    throw error;
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
}

async function readEntries(input: ByteReader, onEntry: EntryHandler): Promise<void> {
  const global = new Map<string, Uint8Array<ArrayBuffer>>();
  let pending: Pending = {};
  for (;;) {
    const offset = input.position;
    const block = await input.readExact(BLOCK_SIZE, `the header at offset ${offset}`);
    // An archive may end at an entry boundary without its two zero blocks.
    if (block === undefined) return;
    if (isZeroBlock(block)) {
      const next = await input.readExact(BLOCK_SIZE, `the end of the archive at offset ${offset}`);
      if (next === undefined || isZeroBlock(next)) return;
      throw new TarFormatError(`a lone zero block at offset ${offset} is followed by more data`);
    }
    if (!checksumMatches(block)) {
      throw new TarFormatError(
        `invalid tar header at offset ${offset}: its checksum does not match; ` +
          "the data may be damaged or still compressed",
      );
    }
    // POSIX writes "ustar\0", GNU tar "ustar ", and the oldest (V7) tars nothing.
    const magic = text(block, 257, 6);
    if (magic !== "ustar" && magic !== "ustar " && magic !== "") {
      throw new TarFormatError(`invalid tar header at offset ${offset}: unknown format`);
    }

    let entry: TarReadEntry;
    try {
      const flag = String.fromCharCode(block[156]);
      const headerSize = number(block, 124, 12, "size");
      if (flag === "x" || flag === "g" || flag === "L" || flag === "K") {
        const location = `the extended header at offset ${offset}`;
        const data = await readMetadata(input, headerSize, location);
        if (flag === "x") pending.pax = parsePax(data);
        else if (flag === "g") addGlobalRecords(global, parsePax(data));
        else if (flag === "L") pending.longName = text(data, 0, data.length);
        else pending.longLink = text(data, 0, data.length);
        continue;
      }
      entry = decodeHeader(block, pending, global);
    } catch (error) {
      if (!(error instanceof TarFormatError) || error.message.includes(" offset ")) throw error;
      throw new TarFormatError(`${error.message}, in the header at offset ${offset}`);
    }
    pending = {};
    const location = `entry "${entry.header.name}"`;
    const start = input.position;
    await onEntry(entry.header, input.slices(entry.size, location));
    // Whatever the handler left unread, then the padding to the next block.
    await input.skip(entry.size - (input.position - start) + padding(entry.size), location);
  }
}

/** Keeps the global records later entries use, within {@linkcode MAX_GLOBAL_PAX_SIZE}. */
function addGlobalRecords(
  global: Map<string, Uint8Array<ArrayBuffer>>,
  records: Map<string, Uint8Array<ArrayBuffer>>,
): void {
  for (const [key, value] of records) {
    if (GLOBAL_PAX_KEYS.has(key) || key.startsWith(XATTR_PAX_PREFIX)) global.set(key, value);
  }
  let size = 0;
  for (const [key, value] of global) size += key.length + value.length;
  if (size > MAX_GLOBAL_PAX_SIZE) {
    throw new TarFormatError(
      `global PAX headers hold ${size} bytes of records, more than ${MAX_GLOBAL_PAX_SIZE}`,
    );
  }
}
