/**
 * Reading a tar stream entry by entry with tar-stream, with PAX records that
 * tar-stream leaves unapplied (uid, gid, mtime, extended attributes) applied.
 *
 * @module
 */

import { Buffer, loadTarStream, type TarStream } from "../deps.ts";
import { CancelledError } from "../errors.ts";
import type { TarEntryHeader, TarEntryType } from "./_tar_diff_writer.ts";

/** Handles one entry; `body` must be read to its end before the next entry arrives. */
export type EntryHandler = (
  header: TarEntryHeader,
  body: AsyncIterable<Uint8Array>,
) => Promise<void>;

type Extract = ReturnType<TarStream["extract"]>;

const XATTR_PAX_PREFIX = "SCHILY.xattr.";

const ENTRY_TYPES: Record<string, TarEntryType> = {
  "file": "file",
  "contiguous-file": "file",
  "directory": "directory",
  "symlink": "symlink",
  "link": "link",
  "character-device": "character-device",
  "block-device": "block-device",
  "fifo": "fifo",
};

/** Reads a decimal PAX value, or returns `fallback` when the record is absent or malformed. */
function paxNumber(pax: Record<string, string>, key: string, fallback: number): number {
  const value = pax[key];
  if (value === undefined) return fallback;
  const number = Number(value);
  return Number.isFinite(number) ? number : fallback;
}

/** Converts a tar-stream header into the codec's own, applying the PAX records. */
export function toEntryHeader(raw: {
  name: string;
  type: string | null;
  mode: number;
  uid: number;
  gid: number;
  mtime: Date;
  linkname: string | null;
  devmajor: number;
  devminor: number;
  pax?: unknown;
}): TarEntryHeader {
  // NOTE: tar-stream decodes names as UTF-8, so a name stored in another encoding is written
  // with U+FFFD in place of its invalid bytes.
  const pax = (raw.pax ?? {}) as Record<string, string>;
  const xattrs: [string, string][] = [];
  for (const [key, value] of Object.entries(pax)) {
    if (key.startsWith(XATTR_PAX_PREFIX)) xattrs.push([key.slice(XATTR_PAX_PREFIX.length), value]);
  }
  return {
    name: raw.name,
    type: ENTRY_TYPES[raw.type ?? ""] ?? "unsupported",
    mode: raw.mode & 0o7777,
    uid: paxNumber(pax, "uid", raw.uid),
    gid: paxNumber(pax, "gid", raw.gid),
    mtime: paxNumber(pax, "mtime", raw.mtime.getTime() / 1000),
    linkname: raw.linkname ?? "",
    devmajor: raw.devmajor,
    devminor: raw.devminor,
    xattrs,
  };
}

/** Resolves when `extract` can take more data, or once it is destroyed. */
function waitForDrain(extract: Extract): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      extract.off("drain", done);
      extract.off("close", done);
      resolve();
    };
    extract.on("drain", done);
    extract.on("close", done);
  });
}

/**
 * Feeds the tar bytes into `extract` with backpressure. It reads `tar` to its
 * end even after the end-of-archive blocks, so digests cover every byte.
 */
async function feed(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  extract: Extract,
): Promise<void> {
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (extract.destroying) {
      await reader.cancel();
      return;
    }
    const buffer = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    if (!extract.write(buffer)) await waitForDrain(extract);
  }
  // streamx types `end` with a required argument; `end()` without data is how it is meant to be called.
  if (!extract.destroying) extract.end(undefined);
}

/**
 * Calls `onEntry` for each entry of the tar stream `tar`, one at a time, and
 * resolves once the stream has ended and every entry is handled. The first
 * error, from the stream, the parser or `onEntry`, stops reading and rejects.
 *
 * @throws {CancelledError} when `signal` aborts.
 */
export async function extractEntries(
  tar: ReadableStream<Uint8Array>,
  onEntry: EntryHandler,
  signal?: AbortSignal,
): Promise<void> {
  let tarStream: TarStream;
  try {
    tarStream = await loadTarStream();
  } catch (error) {
    await tar.cancel(error).catch(() => {});
    throw error;
  }
  const extract = tarStream.extract();
  const reader = tar.getReader();
  const onAbort = () => {
    const error = new CancelledError("Layer unpack cancelled", { cause: signal?.reason });
    extract.destroy(error);
    reader.cancel(error).catch(() => {});
  };
  signal?.addEventListener("abort", onAbort, { once: true });
  const feeding = feed(reader, extract).catch((error) => {
    extract.destroy(error);
    throw error;
  });

  try {
    if (signal?.aborted) onAbort();
    for await (const entry of extract) {
      await onEntry(toEntryHeader(entry.header), entry as AsyncIterable<Uint8Array>);
    }
  } catch (error) {
    // The loop's exit destroyed the parser. Cancelling the reader also ends a read
    // that waits on a stalled source, and the feeder's own error, if any, is a
    // consequence of this one.
    await reader.cancel(error).catch(() => {});
    await feeding.catch(() => {});
    throw error;
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
  await feeding;
}
