/**
 * A minimal streaming tar writer for the archives tsbuild exports: directories and regular files
 * with short names, written to a WritableStream one entry after another.
 *
 * @module
 */

import { InternalError } from "../errors.ts";

const BLOCK_SIZE = 512;
const NAME_FIELD_SIZE = 100;
// Eleven octal digits hold sizes below 8 GiB; larger sizes use the base-256 form that GNU tar,
// Go's archive/tar and Docker read.
const MAX_OCTAL_SIZE = 0o77777777777;

/** Metadata written into an entry's header. */
export interface TarEntryOptions {
  /** Permission bits. @default 0o644 for files, 0o755 for directories */
  mode?: number;
  /** Modification time in seconds since the epoch. @default the writer's `mtime` */
  mtime?: number;
}

/** Options for {@link createTarWriter}. */
export interface TarWriterOptions {
  /**
   * Modification time of every entry, in seconds since the epoch. A fixed time makes equal
   * input give byte-identical archives.
   * @default 0
   */
  mtime?: number;
  /** Stops the writer between chunks when aborted, failing with the signal's reason. */
  signal?: AbortSignal;
}

/** A tar archive being written; call `close()` to finish it or `abort()` to discard the output. */
export interface TarWriter {
  /** Adds a directory entry; `name` must end with "/". */
  addDirectory(name: string, options?: TarEntryOptions): Promise<void>;
  /** Adds a regular file whose content is `data`. */
  addFile(name: string, data: Uint8Array, options?: TarEntryOptions): Promise<void>;
  /**
   * Adds a regular file of `size` bytes read from `content`, without buffering it. Fails when
   * `content` carries more or fewer bytes than `size`, since the header is already written.
   */
  addFileStream(
    name: string,
    size: number,
    content: ReadableStream<Uint8Array>,
    options?: TarEntryOptions,
  ): Promise<void>;
  /** Writes the end-of-archive blocks and closes the underlying stream. */
  close(): Promise<void>;
  /** Aborts the underlying stream with `reason`, so its sink can discard what was written. */
  abort(reason?: unknown): Promise<void>;
}

/** Creates a tar writer that writes POSIX ustar entries to `writable`. */
export function createTarWriter(
  writable: WritableStream<Uint8Array>,
  options: TarWriterOptions = {},
): TarWriter {
  const output = writable.getWriter();
  const mtime = options.mtime ?? 0;
  const signal = options.signal;

  const write = async (chunk: Uint8Array) => {
    signal?.throwIfAborted();
    await output.write(chunk);
  };
  const writePadding = (size: number) => {
    const remainder = size % BLOCK_SIZE;
    return remainder === 0 ? Promise.resolve() : write(new Uint8Array(BLOCK_SIZE - remainder));
  };

  return {
    async addDirectory(name, entry = {}) {
      if (!name.endsWith("/")) {
        throw new InternalError(`Tar directory name "${name}" must end with "/"`);
      }
      await write(
        encodeHeader({
          name,
          size: 0,
          type: "5",
          mode: entry.mode ?? 0o755,
          mtime: entry.mtime ?? mtime,
        }),
      );
    },
    async addFile(name, data, entry = {}) {
      await write(
        encodeHeader({
          name,
          size: data.byteLength,
          type: "0",
          mode: entry.mode ?? 0o644,
          mtime: entry.mtime ?? mtime,
        }),
      );
      await write(data);
      await writePadding(data.byteLength);
    },
    async addFileStream(name, size, content, entry = {}) {
      await write(
        encodeHeader({
          name,
          size,
          type: "0",
          mode: entry.mode ?? 0o644,
          mtime: entry.mtime ?? mtime,
        }),
      );
      const written = await copyExactly(content, size, write, name);
      await writePadding(written);
    },
    async close() {
      await write(new Uint8Array(2 * BLOCK_SIZE));
      await output.close();
    },
    async abort(reason) {
      await output.abort(reason).catch(() => {});
    },
  };
}

// Copies `content` through `write`, failing as soon as it carries more than `size` bytes.
async function copyExactly(
  content: ReadableStream<Uint8Array>,
  size: number,
  write: (chunk: Uint8Array) => Promise<void>,
  name: string,
): Promise<number> {
  let written = 0;
  for await (const chunk of content) {
    written += chunk.byteLength;
    if (written > size) {
      throw new InternalError(
        `Failed to write tar entry "${name}": content is longer than the declared ${size} bytes`,
      );
    }
    await write(chunk);
  }
  if (written < size) {
    throw new InternalError(
      `Failed to write tar entry "${name}": content ended after ${written} of the declared ${size} bytes`,
    );
  }
  return written;
}

interface HeaderFields {
  name: string;
  size: number;
  /** "0" for a regular file, "5" for a directory. */
  type: "0" | "5";
  mode: number;
  mtime: number;
}

/** Encodes a 512-byte ustar header. */
export function encodeHeader(fields: HeaderFields): Uint8Array {
  const header = new Uint8Array(BLOCK_SIZE);
  const name = new TextEncoder().encode(fields.name);
  // NOTE: the ustar prefix field and PAX headers are not written, because every name tsbuild
  // exports ("blobs/sha256/<64 hex>", "index.json", ...) fits in the 100-byte name field.
  if (name.byteLength > NAME_FIELD_SIZE) {
    throw new InternalError(
      `Tar entry name "${fields.name}" is longer than ${NAME_FIELD_SIZE} bytes`,
    );
  }
  header.set(name, 0);
  writeOctal(header, 100, 8, fields.mode);
  writeOctal(header, 108, 8, 0); // uid
  writeOctal(header, 116, 8, 0); // gid
  writeSize(header, fields.size);
  writeOctal(header, 136, 12, fields.mtime);
  header.set(new TextEncoder().encode(fields.type), 156);
  header.set(new TextEncoder().encode("ustar\u000000"), 257);

  // The checksum is computed with its own field filled with spaces.
  header.fill(0x20, 148, 156);
  const checksum = header.reduce((sum, byte) => sum + byte, 0);
  writeOctal(header, 148, 7, checksum);
  header[155] = 0x20;
  return header;
}

function writeSize(header: Uint8Array, size: number): void {
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new InternalError(`Invalid tar entry size ${size}`);
  }
  if (size <= MAX_OCTAL_SIZE) {
    writeOctal(header, 124, 12, size);
    return;
  }
  // Base-256: the top bit of the first byte is set and the value follows big-endian.
  let value = BigInt(size);
  for (let offset = 124 + 11; offset > 124; offset--) {
    header[offset] = Number(value & 0xffn);
    value >>= 8n;
  }
  header[124] = 0x80;
}

// Writes `value` as zero-padded octal digits followed by a NUL, filling `length` bytes.
function writeOctal(header: Uint8Array, offset: number, length: number, value: number): void {
  const digits = Math.trunc(value).toString(8).padStart(length - 1, "0");
  if (value < 0 || digits.length > length - 1) {
    throw new InternalError(`Tar header value ${value} does not fit ${length} bytes`);
  }
  header.set(new TextEncoder().encode(digits), offset);
  header[offset + length - 1] = 0;
}
