/**
 * The record a local source keeps between builds: every entry of the tree it
 * built, with the stat fields and digests of each, so that unchanged files
 * are not read again and an unchanged directory is not even listed.
 *
 * The record is a JSON header line, then a JSON array with one array per
 * entry, in the tree's order (each directory before its children, names
 * sorted). It is written to a temporary file and renamed into place. The
 * header contains the sha256 of the body, which is checked in place of every
 * field when it is read. A record damaged in any way reads as none, as does
 * one of another version, and either costs one full read.
 *
 * @module
 */

import { lstatIfExists } from "../../core/fs/lstat.ts";
import { createHash } from "../../core/deps.ts";
import type { Digest } from "../../core/digest.ts";
import { temporarySibling } from "../../core/fs/atomic.ts";
import type { LocalStat } from "./_local_stat.ts";
import {
  type DirectoryEntry,
  type FileEntry,
  ROOT_MODE,
  type TreeEntry,
  walkTree,
} from "./_local_tree.ts";

const FORMAT = "tsbuild-local-record";
// Version 5 records directories and symlinks too, so an unchanged tree can be rebuilt from it.
const VERSION = 5;

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

/**
 * One entry as stored: kind, path, mode, mtimeMs, ctimeMs, ino and digest,
 * then size and content digest for a file, or the target for a symlink.
 */
export type RecordedEntry =
  | ["f", string, number, number, number, number, Digest, number, Digest]
  | ["d", string, number, number, number, number, Digest]
  | ["l", string, number, number, number, number, Digest, string];

/** The result of the previous scan of the same directory and patterns. */
export interface PreviousScan {
  /** File system time when that scan started, in milliseconds. */
  stampMs: number;
  /** Paths the patterns left out. */
  excluded: number;
  /**
   * Whether the tree accounts for every name the scan met, so it can be
   * reused whole. Skipped special files (which warn on each scan) and
   * directories dropped because nothing in them was kept make it false.
   */
  complete: boolean;
  /** The entries, root first, in the tree's order. */
  entries: RecordedEntry[];
  /** The files by path, as tree entries ready to be reused. */
  files: RecordedFiles;
}

/** The files of a record, looked up by path relative to the scanned directory. */
export class RecordedFiles {
  readonly #recorded: RecordedEntry[];
  #byPath: Map<string, FileEntry> | undefined;

  constructor(recorded: RecordedEntry[]) {
    this.#recorded = recorded;
  }

  /** Number of files. */
  get size(): number {
    return this.#files().size;
  }

  /** Returns the entry of the file at `path`, or undefined. */
  get(path: string): FileEntry | undefined {
    return this.#files().get(path);
  }

  // Built on first use: a rescan that reuses the whole tree never looks files up by path.
  #files(): Map<string, FileEntry> {
    if (this.#byPath) return this.#byPath;
    this.#byPath = new Map();
    for (const recorded of this.#recorded) {
      if (recorded[0] === "f") this.#byPath.set(recorded[1], fileEntry(recorded));
    }
    return this.#byPath;
  }
}

/** Returns the tree entry of the recorded file `recorded`. */
export function fileEntry(
  recorded: Extract<RecordedEntry, ["f", ...unknown[]]>,
): FileEntry {
  const [, , mode, mtimeMs, ctimeMs, ino, digest, size, content] = recorded;
  return { kind: "file", mode, digest, content, size, mtimeMs, ctimeMs, ino };
}

/**
 * Rebuilds the tree the record was written from, with the file entries in
 * `replaced` (by index in `entries`) in place of the recorded ones. Entries
 * come root first and each directory before its children, in the order the
 * scan kept them.
 */
export function treeFromRecord(
  entries: RecordedEntry[],
  replaced?: ReadonlyMap<number, FileEntry>,
): DirectoryEntry {
  const [, , , rootMtime, rootCtime, rootIno, rootDigest] = entries[0];
  let children: Map<string, TreeEntry> | undefined;
  // The entries below the root are built on first use: a build whose context is unchanged and
  // cached needs only the root's digest, and building 20,000 entries took about 12 ms.
  return {
    kind: "dir",
    mode: ROOT_MODE,
    digest: rootDigest,
    get children() {
      return children ??= buildChildren(entries, replaced);
    },
    mtimeMs: rootMtime,
    ctimeMs: rootCtime,
    ino: rootIno,
  };
}

function buildChildren(
  entries: RecordedEntry[],
  replaced: ReadonlyMap<number, FileEntry> | undefined,
): Map<string, TreeEntry> {
  const top = new Map<string, TreeEntry>();
  const directories = new Map<string, Map<string, TreeEntry>>([["", top]]);
  for (let index = 1; index < entries.length; index++) {
    const recorded = entries[index];
    const path = recorded[1];
    const slash = path.lastIndexOf("/");
    const parent = directories.get(slash < 0 ? "" : path.slice(0, slash))!;
    let entry: TreeEntry;
    if (recorded[0] === "f") {
      entry = replaced?.get(index) ?? fileEntry(recorded);
    } else {
      const [kind, , mode, mtimeMs, ctimeMs, ino, digest] = recorded;
      entry = kind === "d"
        ? { kind: "dir", mode, digest, children: new Map(), mtimeMs, ctimeMs, ino }
        : { kind: "symlink", mode, digest, target: recorded[7], mtimeMs, ctimeMs, ino };
      if (entry.kind === "dir") directories.set(path, entry.children);
    }
    parent.set(slash < 0 ? path : path.slice(slash + 1), entry);
  }
  return top;
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
    if (headerEnd < 0) return undefined;
    const header = JSON.parse(text.slice(0, headerEnd));
    if (header?.format !== FORMAT || header.version !== VERSION) return undefined;
    const body = text.slice(headerEnd + 1);
    if (createHash("sha256").update(body).digest("hex") !== header.body) return undefined;
    const entries: RecordedEntry[] = JSON.parse(body);
    if (entries[0]?.[0] !== "d" || entries[0][1] !== "") return undefined;
    return {
      stampMs: Number(header.stampMs),
      excluded: Number(header.excluded),
      complete: header.complete === true,
      entries,
      files: new RecordedFiles(entries),
    };
  } catch (error) {
    // A record is only a cache: a damaged one costs a full read, not a failed build.
    if (error instanceof SyntaxError) return undefined;
    throw error;
  }
}

/** The counts of a scan that the record's header keeps besides its tree. */
export interface RecordSummary {
  excluded: number;
  complete: boolean;
}

/**
 * Writes `tree` to the record at `path`, replacing it whole. The record is
 * not flushed to disk: after a power loss an old, a new or a damaged record
 * may be found, and the body's digest turns a damaged one into a full scan.
 */
export async function writeRecord(
  path: string,
  stampMs: number,
  tree: DirectoryEntry,
  summary: RecordSummary,
): Promise<void> {
  const entries = [recordedEntry("", tree)];
  for (const [name, entry] of walkTree(tree)) entries.push(recordedEntry(name, entry));
  // One stringify call for the whole body measured far less than one per entry.
  const body = new TextEncoder().encode(JSON.stringify(entries));
  const header = new TextEncoder().encode(`${
    JSON.stringify({
      format: FORMAT,
      version: VERSION,
      stampMs,
      ...summary,
      body: createHash("sha256").update(body).digest("hex"),
    })
  }\n`);
  const temporary = temporarySibling(path);
  try {
    const file = await Deno.open(temporary, { write: true, createNew: true, mode: 0o600 });
    try {
      for (const bytes of [header, body]) {
        let written = 0;
        while (written < bytes.length) written += await file.write(bytes.subarray(written));
      }
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

function recordedEntry(path: string, entry: TreeEntry): RecordedEntry {
  const { mode, mtimeMs, ctimeMs, ino, digest } = entry;
  if (entry.kind === "file") {
    return ["f", path, mode, mtimeMs, ctimeMs, ino, digest, entry.size, entry.content];
  }
  if (entry.kind === "dir") return ["d", path, mode, mtimeMs, ctimeMs, ino, digest];
  return ["l", path, mode, mtimeMs, ctimeMs, ino, digest, entry.target];
}
