/**
 * Lists the regular files of an uncompressed tar stream with their sizes and sha256 digests,
 * hashing each file's bytes as they stream past.
 *
 * @module
 */

import { createHash } from "node:crypto";

/** One regular file of the archive. */
export interface TarFile {
  /** Path inside the archive, with a leading "/". */
  path: string;
  size: number;
  /** "sha256:" followed by the hex digest of the file's bytes. */
  digest: string;
}

const BLOCK = 512;

/**
 * Reads `stream` to its end and returns its regular files in archive order. Reads ustar names
 * with their prefix, PAX `path` records and GNU long names.
 *
 * @throws {RangeError} when the archive ends inside an entry.
 */
export async function listTarFiles(stream: ReadableStream<Uint8Array>): Promise<TarFile[]> {
  const reader = new ExactReader(stream);
  const files: TarFile[] = [];
  let pendingName: string | undefined;

  for (;;) {
    const header = await reader.read(BLOCK);
    if (header === undefined || header.every((byte) => byte === 0)) break;
    const size = parseOctal(header.subarray(124, 136));
    const type = header[156] === 0 ? "0" : String.fromCharCode(header[156]);
    const padding = (BLOCK - (size % BLOCK)) % BLOCK;

    if (type === "x" || type === "L") {
      const body = new TextDecoder().decode(await reader.readAll(size));
      await reader.skip(padding);
      pendingName = type === "x" ? paxPath(body) ?? pendingName : body.replace(/\0+$/, "");
      continue;
    }
    const path = pendingName ?? ustarName(header);
    pendingName = undefined;
    if (type !== "0" && type !== "7") {
      await reader.skip(size + padding);
      continue;
    }
    const hash = createHash("sha256");
    await reader.forEach(size, (chunk) => hash.update(chunk));
    await reader.skip(padding);
    files.push({
      path: `/${path.replace(/^\.?\//, "")}`,
      size,
      digest: `sha256:${hash.digest("hex")}`,
    });
  }
  await reader.cancel();
  return files;
}

function parseOctal(field: Uint8Array): number {
  const text = new TextDecoder().decode(field).replace(/[\0 ]+$/, "").trim();
  return text === "" ? 0 : parseInt(text, 8);
}

function cString(field: Uint8Array): string {
  const end = field.indexOf(0);
  return new TextDecoder().decode(end < 0 ? field : field.subarray(0, end));
}

function ustarName(header: Uint8Array): string {
  const name = cString(header.subarray(0, 100));
  const ustar = cString(header.subarray(257, 263)) === "ustar";
  const prefix = ustar ? cString(header.subarray(345, 500)) : "";
  return prefix ? `${prefix}/${name}` : name;
}

// A PAX record is "LENGTH KEY=VALUE\n"; only "path" matters here.
function paxPath(body: string): string | undefined {
  let path: string | undefined;
  for (const record of body.split("\n")) {
    const match = record.match(/^\d+ path=(.*)$/s);
    if (match) path = match[1];
  }
  return path;
}

/** Reads exact byte counts from a stream of arbitrarily sized chunks. */
class ExactReader {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  #buffer: Uint8Array = new Uint8Array(0);

  constructor(stream: ReadableStream<Uint8Array>) {
    this.#reader = stream.getReader();
  }

  /** Returns the next `size` bytes, or undefined at a clean end of the stream. */
  async read(size: number): Promise<Uint8Array | undefined> {
    while (this.#buffer.length < size) {
      const { done, value } = await this.#reader.read();
      if (done) {
        if (this.#buffer.length === 0) return undefined;
        throw new RangeError(`The archive ends inside an entry`);
      }
      this.#buffer = concat(this.#buffer, value);
    }
    const head = this.#buffer.subarray(0, size);
    this.#buffer = this.#buffer.subarray(size);
    return head;
  }

  /** Returns the next `size` bytes; the stream must have them. */
  async readAll(size: number): Promise<Uint8Array> {
    const parts: Uint8Array[] = [];
    await this.forEach(size, (chunk) => parts.push(chunk.slice()));
    return parts.reduce(concat, new Uint8Array(0));
  }

  /** Passes the next `size` bytes to `fn` in the pieces they arrive in. */
  async forEach(size: number, fn: (chunk: Uint8Array) => void): Promise<void> {
    let left = size;
    while (left > 0) {
      if (this.#buffer.length === 0) {
        const { done, value } = await this.#reader.read();
        if (done) throw new RangeError(`The archive ends inside an entry`);
        this.#buffer = value;
      }
      const piece = this.#buffer.subarray(0, Math.min(left, this.#buffer.length));
      fn(piece);
      this.#buffer = this.#buffer.subarray(piece.length);
      left -= piece.length;
    }
  }

  /** Drops the next `size` bytes. */
  skip(size: number): Promise<void> {
    return this.forEach(size, () => {});
  }

  /** Stops reading, releasing the stream. */
  async cancel(): Promise<void> {
    await this.#reader.cancel();
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const joined = new Uint8Array(a.length + b.length);
  joined.set(a);
  joined.set(b, a.length);
  return joined;
}
