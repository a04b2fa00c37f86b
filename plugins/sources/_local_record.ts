/**
 * The record a local source keeps between builds: the stat fields and content
 * digest of every file it hashed, so unchanged files are not read again.
 *
 * The record is JSON Lines: a header, then one array per file. It is written
 * to a temporary file and renamed into place, so a crash leaves the old record.
 * Version 2 added each file's entry digest, so an unchanged scan computes no
 * file digests. A record of another version reads as none, which costs one
 * full read.
 *
 * @module
 */

import { lstatIfExists } from "../../core/fs/lstat.ts";
import { createHash } from "../../core/deps.ts";
import { type Digest, isDigest } from "../../core/digest.ts";
import { temporarySibling } from "../../core/fs/atomic.ts";
import type { LocalStat } from "./_local_stat.ts";
import { type DirectoryEntry, type FileEntry, walkTree } from "./_local_tree.ts";

const FORMAT = "tsbuild-local-record";
// Version 4 stores each file as the tree entry it becomes, keyed by path.
const VERSION = 4;

/** The stored stat fields and digests of one file. */
export interface FileRecord {
  size: number;
  mode: number;
  mtimeMs: number;
  ctimeMs: number;
  ino: number;
  /** sha256 of the file's bytes. */
  content: Digest;
  /** The file's entry digest in the tree, from its mode and content; see `fileDigest`. */
  digest: Digest;
}

/** The files seen by the previous scan of the same directory and patterns. */
export interface PreviousScan {
  /** File system time when that scan started, in milliseconds. */
  stampMs: number;
  /** The files by path, as tree entries ready to be reused. */
  files: RecordedFiles;
}

/** The files of a record, looked up by path relative to the scanned directory. */
export class RecordedFiles {
  readonly #entries: Record<string, FileEntry>;
  /** Number of files. */
  readonly size: number;

  constructor(entries: Record<string, FileEntry>, size: number) {
    this.#entries = entries;
    this.size = size;
  }

  /** Returns the entry of the file at `path`, or undefined. */
  get(path: string): FileEntry | undefined {
    return Object.hasOwn(this.#entries, path) ? this.#entries[path] : undefined;
  }
}

/**
 * Returns the record file for `root` filtered by `include` and `exclude`, inside `dataDir`.
 *
 * TODO(handle): records of directories that are gone are never removed, so
 * the data directory grows with every distinct directory and pattern set.
 */
export function recordPath(
  dataDir: string,
  root: string,
  include: string[],
  exclude: string[],
): string {
  const key = JSON.stringify([root, include, exclude]);
  return `${dataDir}/${createHash("sha256").update(key).digest("hex")}.jsonl`;
}

/**
 * Returns the current time of the file system clock that stamps `dir`, by
 * truncating a file there, which sets its modification time. File times come
 * from a coarse kernel clock that can lag `Date.now()`, so the comparison with
 * file mtimes must use the same clock. Concurrent builds share the file; a
 * later stamp from another build still precedes this build's scan.
 */
export function fileSystemNow(dir: string): number {
  const clock = `${dir}/clock`;
  // Synchronous calls: two quick system calls cost less than two trips through the event loop.
  Deno.writeFileSync(clock, new Uint8Array(), { mode: 0o600 });
  return Deno.lstatSync(clock).mtime?.getTime() ?? Date.now();
}

/**
 * Reports whether `info` shows the same file content as `record`. A file whose
 * recorded mtime or ctime is not older than the scan that recorded it may have
 * changed again within the same clock tick, so it is never trusted (git calls
 * such entries "racily clean").
 */
export function isUnchanged(record: FileRecord, info: LocalStat, stampMs: number): boolean {
  return isSettled(record, stampMs) &&
    record.size === info.size &&
    record.mode === info.mode &&
    record.mtimeMs === info.mtimeMs &&
    record.ctimeMs === info.ctimeMs &&
    record.ino === info.ino;
}

/**
 * Reports whether the file's last change, as recorded, came before the clock
 * tick of the scan started at `stampMs`. Times are rounded down to what
 * `Deno.lstat` reports, so a change counts as settled only when the whole
 * rounding interval lies before the stamp.
 */
export function isSettled(
  record: Pick<FileRecord, "mtimeMs" | "ctimeMs">,
  stampMs: number,
): boolean {
  // Where the scan falls back to `Deno.lstatSync`, Deno 2.9 rounds ctime down to
  // whole seconds. A ctime on a whole second may have been rounded, so it is
  // treated as covering that whole second.
  const ctimeResolution = record.ctimeMs % 1000 === 0 ? 1000 : 1;
  return record.mtimeMs + 1 <= stampMs && record.ctimeMs + ctimeResolution <= stampMs;
}

/** Reads the record at `path`; a missing, foreign or damaged record reads as none. */
export async function readRecord(path: string): Promise<PreviousScan | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    // A directory in the record's place is damage too, which the next write replaces.
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.IsADirectory) {
      return undefined;
    }
    throw error;
  }

  try {
    const headerEnd = text.indexOf("\n");
    const header = JSON.parse(headerEnd < 0 ? text : text.slice(0, headerEnd));
    if (header?.format !== FORMAT || header.version !== VERSION) return undefined;
    // The body is the members of one JSON object, each line ending in a comma. Parsing it in one
    // call builds every entry natively, which measured about half the time of building them here.
    const body = headerEnd < 0 ? "" : text.slice(headerEnd + 1).trimEnd().replace(/,$/, "");
    const entries: Record<string, FileEntry> = JSON.parse(`{${body}}`);
    let size = 0;
    for (const path in entries) {
      if (!isFileEntry(entries[path])) return undefined;
      size++;
    }
    return { stampMs: Number(header.stampMs), files: new RecordedFiles(entries, size) };
  } catch (error) {
    // A record is only a cache: a damaged one costs a full read, not a failed build.
    if (error instanceof SyntaxError) return undefined;
    throw error;
  }
}

function isFileEntry(value: FileEntry): boolean {
  return value?.kind === "file" && typeof value.size === "number" &&
    typeof value.mode === "number" && typeof value.mtimeMs === "number" &&
    typeof value.ctimeMs === "number" && typeof value.ino === "number" &&
    isDigest(value.content) && isDigest(value.digest);
}

/** Writes the files of `tree` to the record at `path`, replacing it whole. */
export async function writeRecord(
  path: string,
  stampMs: number,
  tree: DirectoryEntry,
): Promise<void> {
  const temporary = temporarySibling(path);
  try {
    const file = await Deno.open(temporary, { write: true, createNew: true, mode: 0o600 });
    try {
      const writer = createLineWriter(file);
      await writer.write(JSON.stringify({ format: FORMAT, version: VERSION, stampMs }));
      for (const [name, entry] of walkTree(tree)) {
        if (entry.kind !== "file") continue;
        const { size, mode, mtimeMs, ctimeMs, ino, content, digest } = entry;
        const fields = { kind: "file", size, mode, mtimeMs, ctimeMs, ino, content, digest };
        await writer.write(`${JSON.stringify(name)}:${JSON.stringify(fields)},`);
      }
      await writer.flush();
      await file.sync();
    } finally {
      file.close();
    }
    // Only tsbuild writes here, so anything but a record in the record's place is damage.
    if (lstatIfExists(path)?.isDirectory) Deno.removeSync(path, { recursive: true });
    await Deno.rename(temporary, path);
  } catch (error) {
    await Deno.remove(temporary).catch(() => {});
    throw error;
  }
}

/** Buffers lines into writes of about 64 KiB. */
function createLineWriter(file: Deno.FsFile) {
  const encoder = new TextEncoder();
  let buffered: string[] = [];
  let length = 0;
  const flush = async () => {
    const bytes = encoder.encode(buffered.join(""));
    buffered = [];
    length = 0;
    let written = 0;
    while (written < bytes.length) written += await file.write(bytes.subarray(written));
  };
  return {
    async write(line: string) {
      buffered.push(line, "\n");
      length += line.length + 1;
      if (length >= 65536) await flush();
    },
    flush,
  };
}
