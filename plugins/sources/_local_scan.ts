/**
 * Scans a local directory into a Merkle tree, reading only the files whose
 * stat fields changed since the previous scan.
 *
 * @module
 */

import { InvalidInputError } from "../../core/errors.ts";
import { hashFile } from "./_local_hash.ts";
import type { LocalFilter } from "./_local_filter.ts";
import {
  type FileRecord,
  isSettled,
  isUnchanged,
  type PreviousScan,
  type RecordedEntry,
  treeFromRecord,
} from "./_local_record.ts";
import {
  directoryDigest,
  type DirectoryEntry,
  fileDigest,
  type FileEntry,
  ROOT_MODE,
  symlinkDigest,
  type TreeEntry,
} from "./_local_tree.ts";
import { createPacer, type Pacer } from "./_local_pacer.ts";
import { fdPath, type LocalStat, lstatAt, lstatLocal, statFd } from "./_local_stat.ts";
import { adviseWillRead } from "../../core/fs/file_reader.ts";
import {
  closeDescriptor,
  descriptorsAvailable,
  openDirectory,
  openDirectoryAt,
  openFileAt,
} from "./_local_fd.ts";

/** Number of files advised for reading (`adviseWillRead`) ahead of the one being hashed. */
const READ_AHEAD_FILES = 32;

/** A file rewritten while it is hashed is hashed again up to this many times in total. */
const MAX_HASH_ATTEMPTS = 3;

/** Counts of the entries a scan handled, reported as the step's status. */
export interface ScanCounts {
  /** Regular files hashed because they are new or their stat changed. */
  read: number;
  /** Regular files whose digest came from the previous scan. */
  reused: number;
  /** Sockets, FIFOs, device nodes and names that are not UTF-8, left out with a warning. */
  skipped: number;
  /** Paths left out by the patterns; a left-out directory counts once. */
  excluded: number;
}

/** The result of {@link scanDirectory}. */
export interface ScanResult {
  tree: DirectoryEntry;
  counts: ScanCounts;
  /** Whether the tree accounts for every name met; see {@linkcode PreviousScan.complete}. */
  complete: boolean;
  /** Whether the previous scan's tree was reused as it is, without reading any directory. */
  reusedWhole: boolean;
  /**
   * Whether the tree was rebuilt from the previous record with at most
   * {@linkcode MAX_REHASHED_FILES} files and {@linkcode MAX_REHASHED_BYTES}
   * bytes hashed again. The record can then stay as it is, because the next
   * scan hashes those files again for less than rewriting it costs.
   */
  fewRehashed: boolean;
}

/** Maximum number of files a rescan from the record may hash again with {@linkcode ScanResult.fewRehashed} set. */
export const MAX_REHASHED_FILES = 64;
/** Maximum number of bytes a rescan from the record may hash again with {@linkcode ScanResult.fewRehashed} set. */
export const MAX_REHASHED_BYTES = 1024 * 1024;

/** Options for {@link scanDirectory}. */
export interface ScanOptions {
  /** The local's name, for messages. */
  name: string;
  filter: LocalFilter;
  previous?: PreviousScan;
  signal: AbortSignal;
  /** Receives the relative path and the reason for each entry left out although no pattern excludes it. */
  onSkipped(path: string, reason: string): void;
}

/**
 * A directory being scanned: its path relative to the root and, where
 * descriptors are available, its open descriptor, through which its entries
 * are read so that a directory swapped above it cannot redirect the scan.
 */
interface ScannedDirectory {
  path: string;
  fd?: number;
}

/** A child of a directory after its `lstat` and the filter. */
interface Candidate {
  parent: ScannedDirectory;
  name: string;
  path: string;
  info: LocalStat;
  descendOnly: boolean;
}

/**
 * Scans `root` and returns its kept entries as a tree, with counts of what was read.
 *
 * NOTE: the scan makes synchronous `readDir` and `lstat` calls, which cost a
 * few microseconds each where the asynchronous ones cost about 25 (Deno
 * 2.9.6, 2-core machine). It yields to the event loop every few milliseconds,
 * so other steps of the build and cancellation still get their turn.
 */
export async function scanDirectory(
  root: string,
  options: ScanOptions,
): Promise<ScanResult> {
  const previous = options.previous;
  if (previous?.complete) {
    const reused = await rescanFromRecord(root, previous, options);
    if (reused) return reused;
  }

  const scan = new Scan(root, options);
  const rootFd = descriptorsAvailable() ? openRoot(root, options.name) : undefined;
  try {
    const children = await scan.children({ path: "", fd: rootFd });
    const rootInfo = rootFd === undefined ? lstatLocal(root) : statFd(rootFd);
    const tree: DirectoryEntry = {
      kind: "dir",
      mode: ROOT_MODE,
      digest: directoryDigest(ROOT_MODE, children),
      children,
      mtimeMs: rootInfo.mtimeMs,
      ctimeMs: rootInfo.ctimeMs,
      ino: rootInfo.ino,
    };
    const complete = scan.counts.skipped === 0 && scan.dropped === 0;
    return { tree, counts: scan.counts, complete, reusedWhole: false, fewRehashed: false };
  } finally {
    if (rootFd !== undefined) closeDescriptor(rootFd);
  }
}

/**
 * Rebuilds the tree from the previous scan's record when every directory and
 * symlink it recorded still has the recorded stat fields, settled before that
 * scan began. Unchanged directories list the same names, so nothing was
 * added, removed or renamed, and no directory is read. Files whose stat
 * fields changed are hashed again, through descriptors of the directories on
 * their path, and the digests of the directories above them recomputed. Any
 * other difference returns undefined, and the caller scans in full.
 */
async function rescanFromRecord(
  root: string,
  previous: PreviousScan,
  options: ScanOptions,
): Promise<ScanResult | undefined> {
  const { entries, stampMs } = previous;
  const pacer = createPacer(options.signal);
  const changed: { index: number; info: LocalStat }[] = [];
  let files = 0;
  for (let index = 0; index < entries.length; index++) {
    if (index % 1024 === 0) await pacer.pause();
    const recorded = entries[index];
    const [kind, path, mode, mtimeMs, ctimeMs, ino] = recorded;
    let info: LocalStat;
    try {
      info = lstatLocal(path ? `${root}/${path}` : root);
    } catch {
      return undefined;
    }
    const unchanged = info.mtimeMs === mtimeMs && info.ctimeMs === ctimeMs && info.ino === ino &&
      (index === 0 || info.mode === mode) && isSettled(info, stampMs);
    if (kind === "f") {
      if (info.kind !== "file") return undefined;
      files++;
      if (!unchanged || info.size !== recorded[7]) changed.push({ index, info });
    } else if (!unchanged || info.kind !== (kind === "d" ? "dir" : "symlink")) {
      return undefined;
    }
  }

  const scan = new Scan(root, options);
  const replaced = new Map<number, FileEntry>();
  const directoryInodes = changed.length > 0 ? recordedDirectoryInodes(entries) : new Map();
  for (const { index, info } of changed) {
    await pacer.pause();
    replaced.set(index, await scan.rehash(entries[index][1], info, directoryInodes));
  }
  const tree = treeFromRecord(entries, replaced);
  for (const { index } of changed) refreshDigestsAbove(tree, entries[index][1]);
  const counts = {
    read: changed.length,
    reused: files - changed.length,
    skipped: 0,
    excluded: previous.excluded,
  };
  const rehashedBytes = [...replaced.values()].reduce((total, entry) => total + entry.size, 0);
  const fewRehashed = changed.length <= MAX_REHASHED_FILES && rehashedBytes <= MAX_REHASHED_BYTES;
  return { tree, counts, complete: true, reusedWhole: changed.length === 0, fewRehashed };
}

/** Returns the recorded inode of every directory, keyed by its path ("" for the root). */
function recordedDirectoryInodes(entries: RecordedEntry[]): Map<string, number> {
  const inodes = new Map<string, number>();
  for (const recorded of entries) {
    if (recorded[0] === "d") inodes.set(recorded[1], recorded[5]);
  }
  return inodes;
}

/** Recomputes the digests of the directories above `path`, deepest first. */
function refreshDigestsAbove(tree: DirectoryEntry, path: string): void {
  const chain: DirectoryEntry[] = [tree];
  const names = path.split("/");
  for (const name of names.slice(0, -1)) {
    chain.push(chain.at(-1)!.children.get(name) as DirectoryEntry);
  }
  for (let depth = chain.length - 1; depth >= 0; depth--) {
    const dir = chain[depth];
    dir.digest = directoryDigest(depth === 0 ? ROOT_MODE : dir.mode, dir.children);
  }
}

function openRoot(root: string, name: string): number {
  try {
    return openDirectory(root);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new InvalidInputError(
      `Failed to read local "${name}": cannot open "${root}": ${reason}`,
      {
        cause: error,
        data: { local: name, path: root },
      },
    );
  }
}

class Scan {
  readonly counts: ScanCounts = { read: 0, reused: 0, skipped: 0, excluded: 0 };
  /** Directories left out because nothing in them was kept. */
  dropped = 0;
  readonly #root: string;
  readonly #options: ScanOptions;
  readonly #pacer: Pacer;

  constructor(root: string, options: ScanOptions) {
    this.#root = root;
    this.#options = options;
    this.#pacer = createPacer(options.signal);
  }

  /** Returns the kept children of `dir` ("" for the root), sorted by name. */
  async children(dir: ScannedDirectory): Promise<Map<string, TreeEntry>> {
    await this.#pacer.pause();
    const children = new Map<string, TreeEntry>();
    const candidates: Candidate[] = [];
    for (const name of this.#readNames(dir)) {
      const candidate = this.#candidate(dir, name);
      if (candidate) candidates.push(candidate);
    }
    // Most files of a rescan are unchanged; taking them without an await keeps the scan's cost
    // close to that of its lstat calls. The others are advised for reading ahead of their turn.
    const reused = candidates.map((candidate) => this.#reused(candidate));
    const toRead = candidates.filter((candidate, index) =>
      candidate.info.kind === "file" && reused[index] === undefined
    );
    let reading = 0;
    let advised = 0;
    for (let index = 0; index < candidates.length; index++) {
      const candidate = candidates[index];
      if (candidate.info.kind === "file" && reused[index] === undefined) {
        const limit = Math.min(toRead.length, ++reading + READ_AHEAD_FILES);
        for (; advised < limit; advised++) this.#advise(toRead[advised]);
      }
      const entry = candidate.info.kind === "dir"
        ? await this.#directory(candidate)
        : reused[index] ?? await this.#leaf(candidate);
      if (entry) children.set(candidate.name, entry);
    }
    return children;
  }

  /**
   * Advises `candidate` for reading through its directory's descriptor, so a
   * directory swapped for a symlink cannot lead the open elsewhere. Without
   * descriptors nothing is advised.
   */
  #advise(candidate: Candidate): void {
    if (candidate.parent.fd !== undefined) adviseWillRead(candidate.name, candidate.parent.fd);
  }

  #readNames(dir: ScannedDirectory): string[] {
    const names: string[] = [];
    const location = dir.fd === undefined ? this.#hostPath(dir.path) : fdPath(dir.fd);
    try {
      for (const entry of Deno.readDirSync(location)) names.push(entry.name);
    } catch (error) {
      throw this.#readError(dir.path || ".", error);
    }
    // Code-unit order is deterministic for a given set of names, which is all the digest needs.
    return names.sort();
  }

  #candidate(parent: ScannedDirectory, name: string): Candidate | undefined {
    const path = parent.path ? `${parent.path}/${name}` : name;
    let info: LocalStat;
    try {
      info = parent.fd === undefined ? lstatLocal(this.#hostPath(path)) : lstatAt(parent.fd, name);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw this.#readError(path, error);
      // Deno decodes a name that is not UTF-8 with U+FFFD in place of the bad
      // bytes, and that name leads nowhere. Any other entry that is not found
      // was removed after readDir and is no longer part of the directory.
      if (name.includes("\uFFFD")) {
        this.counts.skipped++;
        this.#options.onSkipped(path, "its name is not valid UTF-8");
      }
      return undefined;
    }

    const decision = this.#options.filter.decide(path, info.kind === "dir");
    if (decision === "skip") {
      this.counts.excluded++;
      return undefined;
    }
    return { parent, name, path, info, descendOnly: decision === "descend" };
  }

  async #directory(candidate: Candidate): Promise<TreeEntry | undefined> {
    const children = candidate.parent.fd === undefined
      ? await this.children({ path: candidate.path })
      : await this.#childrenThroughDescriptor(candidate, candidate.parent.fd);
    // A directory kept only because something below it might be included disappears when nothing is.
    if (candidate.descendOnly && children.size === 0) {
      this.dropped++;
      return undefined;
    }
    const mode = candidate.info.mode;
    return {
      kind: "dir",
      mode,
      digest: directoryDigest(mode, children),
      children,
      mtimeMs: candidate.info.mtimeMs,
      ctimeMs: candidate.info.ctimeMs,
      ino: candidate.info.ino,
    };
  }

  /** Opens the directory `candidate` inside its parent's descriptor, checks it, and scans it. */
  async #childrenThroughDescriptor(
    candidate: Candidate,
    parentFd: number,
  ): Promise<Map<string, TreeEntry>> {
    const fd = this.#open(candidate.path, () => openDirectoryAt(parentFd, candidate.name));
    try {
      if (statFd(fd).ino !== candidate.info.ino) throw this.#changedError(candidate.path);
      return await this.children({ path: candidate.path, fd });
    } finally {
      closeDescriptor(fd);
    }
  }

  async #leaf(candidate: Candidate): Promise<TreeEntry | undefined> {
    const { path, info, parent } = candidate;
    const mode = info.mode;
    if (info.kind === "symlink") {
      let target: string;
      try {
        target = Deno.readLinkSync(
          parent.fd === undefined ? this.#hostPath(path) : `${fdPath(parent.fd)}/${candidate.name}`,
        );
      } catch (error) {
        throw this.#readError(path, error);
      }
      return {
        kind: "symlink",
        mode,
        digest: symlinkDigest(mode, target),
        target,
        mtimeMs: info.mtimeMs,
        ctimeMs: info.ctimeMs,
        ino: info.ino,
      };
    }
    if (info.kind === "file") return await this.#file(candidate);

    this.counts.skipped++;
    this.#options.onSkipped(path, `a ${specialKind(info)} is not a file, directory or symlink`);
    return undefined;
  }

  /** Returns the previous scan's entry for an unchanged file, or undefined. */
  #reused({ path, info }: Candidate): FileEntry | undefined {
    const previous = this.#options.previous;
    if (info.kind !== "file" || !previous) return undefined;
    const record = previous.files.get(path);
    if (!record || !isUnchanged(record, info, previous.stampMs)) return undefined;
    this.counts.reused++;
    return record;
  }

  async #file(candidate: Candidate): Promise<FileEntry> {
    this.counts.read++;
    const { parent, path, info } = candidate;
    const record = parent.fd === undefined
      ? await this.#hash(path, info)
      : await this.#hashThroughDescriptor(parent.fd, candidate.name, path, info);
    return { kind: "file", ...record };
  }

  /**
   * Hashes the file at `path` again for a rescan from the record, reaching it
   * through descriptors of the directories above it, each of which must have
   * its recorded inode in `inodes` (keyed by directory path).
   */
  async rehash(path: string, info: LocalStat, inodes: Map<string, number>): Promise<FileEntry> {
    if (!descriptorsAvailable()) return { kind: "file", ...await this.#hash(path, info) };
    const names = path.split("/");
    const name = names.pop()!;
    let dirPath = "";
    let fd = openRoot(this.#root, this.#options.name);
    try {
      for (const component of ["", ...names]) {
        if (component) {
          dirPath = dirPath ? `${dirPath}/${component}` : component;
          const next = this.#open(dirPath, () => openDirectoryAt(fd, component));
          closeDescriptor(fd);
          fd = next;
        }
        if (statFd(fd).ino !== inodes.get(dirPath)) throw this.#changedError(dirPath || ".");
      }
      return { kind: "file", ...await this.#hashThroughDescriptor(fd, name, path, info) };
    } finally {
      closeDescriptor(fd);
    }
  }

  /** Hashes `path`, starting over when its stat shows it changed during the read. */
  async #hash(path: string, before: LocalStat): Promise<FileRecord> {
    for (let attempt = 1;; attempt++) {
      let content: FileRecord["content"];
      let after: LocalStat;
      try {
        content = await hashFile(this.#hostPath(path), { pacer: this.#pacer });
        after = lstatLocal(this.#hostPath(path));
      } catch (error) {
        if (this.#options.signal.aborted) throw error;
        throw this.#readError(path, error);
      }
      if (sameStat(before, after)) return statRecord(after, content);
      if (attempt === MAX_HASH_ATTEMPTS) throw this.#changedError(path);
      before = after;
    }
  }

  /**
   * Hashes `name` in the directory open as `dirFd` through its own descriptor,
   * which must show the inode the scan found: a file replaced by a symlink or
   * another file between the lstat and the open is not read.
   */
  async #hashThroughDescriptor(
    dirFd: number,
    name: string,
    path: string,
    before: LocalStat,
  ): Promise<FileRecord> {
    for (let attempt = 1;; attempt++) {
      const fd = this.#open(path, () => openFileAt(dirFd, name));
      try {
        const opened = statFd(fd);
        if (opened.kind === "file" && sameStat(before, opened)) {
          const content = await hashFile(fdPath(fd), { pacer: this.#pacer });
          const after = statFd(fd);
          if (sameStat(before, after)) return statRecord(after, content);
        }
      } catch (error) {
        if (this.#options.signal.aborted) throw error;
        throw this.#readError(path, error);
      } finally {
        closeDescriptor(fd);
      }
      if (attempt === MAX_HASH_ATTEMPTS) throw this.#changedError(path);
      try {
        before = lstatAt(dirFd, name);
      } catch (error) {
        throw this.#readError(path, error);
      }
      if (before.kind !== "file") throw this.#changedError(path);
    }
  }

  /** Runs `open` for the entry at `path`, reporting an entry replaced since its lstat as changed. */
  #open(path: string, open: () => number): number {
    try {
      return open();
    } catch (error) {
      if (isReplaced(error)) throw this.#changedError(path);
      throw this.#readError(path, error);
    }
  }

  #changedError(path: string): Error {
    return new InvalidInputError(
      `Failed to read local "${this.#options.name}": "${path}" kept changing while it was read`,
      { data: { local: this.#options.name, path } },
    );
  }

  #hostPath(path: string): string {
    return path ? `${this.#root}/${path}` : this.#root;
  }

  #readError(path: string, error: unknown): Error {
    const reason = error instanceof Error ? error.message : String(error);
    return new InvalidInputError(
      `Failed to read local "${this.#options.name}": cannot read "${path}": ${reason}`,
      {
        cause: error,
        data: { local: this.#options.name, path },
      },
    );
  }
}

/** Reports whether an open failed because the entry is no longer what the scan found. */
function isReplaced(error: unknown): boolean {
  return error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory ||
    error instanceof Deno.errors.FilesystemLoop;
}

function statRecord(info: LocalStat, content: FileRecord["content"]): FileRecord {
  const { size, mode, mtimeMs, ctimeMs, ino } = info;
  return { size, mode, mtimeMs, ctimeMs, ino, content, digest: fileDigest(mode, content) };
}

function sameStat(a: LocalStat, b: LocalStat): boolean {
  return a.kind === b.kind && a.size === b.size && a.mtimeMs === b.mtimeMs &&
    a.ctimeMs === b.ctimeMs && a.ino === b.ino;
}

function specialKind(info: LocalStat): string {
  const names: Record<string, string> = {
    fifo: "FIFO",
    socket: "socket",
    block: "block device",
    char: "character device",
  };
  return names[info.kind] ?? "special file";
}
