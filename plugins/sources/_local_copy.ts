/**
 * Writes the kept entries of a scanned local directory into a snapshot's diff
 * directory, owned by root as Docker does for a build context. Files come
 * from the file store as hard links. A file the store lacks is copied from
 * the directory, checked against the digest the scan computed, and published
 * to the store for the next snapshot.
 *
 * @module
 */

import { markSharedFile } from "../../core/fs/shared_file.ts";
import { DigestMismatchError, InvalidInputError } from "../../core/errors.ts";
import { type FileStore, fileStoreKey } from "./_local_file_store.ts";
import { hashFile } from "./_local_hash.ts";
import { createPacer, type Pacer } from "./_local_pacer.ts";
import { isSettled } from "./_local_record.ts";
import { fdPath, type LocalStat, lstatLocal, statFd } from "./_local_stat.ts";
import { closeDescriptor, descriptorsAvailable, openFileAt } from "./_local_fd.ts";
import type { DirectoryEntry, FileEntry, TreeEntry } from "./_local_tree.ts";
import { lchown, lutimes } from "../../core/fs/link_metadata.ts";

/** Options for {@link copyTree}. */
export interface CopyTreeOptions {
  /** The local's name, for messages. */
  name: string;
  /** File system time when the scan started; see `isUnchanged` in `_local_record.ts`. */
  stampMs: number;
  /** The file store that unchanged files are linked from and new ones are published to. */
  files: FileStore;
  signal: AbortSignal;
}

/** Counts of the files a snapshot got, by method. */
export interface CopyCounts {
  /** Files read from the local directory. */
  copied: number;
  /** Files linked from the file store. */
  linked: number;
}

/**
 * Writes `tree`, scanned from `sourceRoot`, into the empty directory
 * `diffDir`.
 *
 * NOTE: the calls are synchronous, as in the scan, because a snapshot of
 * thousands of files is mostly mkdir(2) and link(2) calls that take a few
 * microseconds each.
 */
export async function copyTree(
  tree: DirectoryEntry,
  sourceRoot: string,
  diffDir: string,
  options: CopyTreeOptions,
): Promise<CopyCounts> {
  const copier = new TreeCopier(sourceRoot, diffDir, options);
  await copier.children(tree, "");
  lchown(diffDir, 0, 0);
  Deno.chmodSync(diffDir, tree.mode);
  return copier.counts;
}

class TreeCopier {
  readonly counts: CopyCounts = { copied: 0, linked: 0 };
  readonly #sourceRoot: string;
  readonly #diffDir: string;
  readonly #options: CopyTreeOptions;
  readonly #pacer: Pacer;

  constructor(sourceRoot: string, diffDir: string, options: CopyTreeOptions) {
    this.#sourceRoot = sourceRoot;
    this.#diffDir = diffDir;
    this.#options = options;
    this.#pacer = createPacer(options.signal);
  }

  /** Writes the children of `dir`, at relative path `path`, each directory before its metadata. */
  async children(dir: DirectoryEntry, path: string): Promise<void> {
    for (const [name, entry] of dir.children) {
      await this.#pacer.pause();
      const childPath = path ? `${path}/${name}` : name;
      const dest = `${this.#diffDir}/${childPath}`;
      if (entry.kind === "dir") {
        Deno.mkdirSync(dest);
        await this.children(entry, childPath);
      } else if (entry.kind === "symlink") {
        Deno.symlinkSync(entry.target, dest);
      } else {
        await this.#file(childPath, dest, entry);
        continue;
      }
      // Set last, because creating the children moved the directory's mtime.
      setMetadata(dest, entry);
    }
  }

  async #file(path: string, dest: string, entry: FileEntry): Promise<void> {
    const key = fileStoreKey({ ...entry, path });
    if (this.#options.files.linkTo(key, dest)) {
      this.counts.linked++;
      return;
    }
    await this.#copy(path, dest, entry);
    setMetadata(dest, entry);
    // Every snapshot that links this file gets its own copy when copied or packed elsewhere.
    markSharedFile(dest);
    this.#options.files.publish(key, dest);
    this.counts.copied++;
  }

  async #copy(path: string, dest: string, entry: FileEntry): Promise<void> {
    const source = `${this.#sourceRoot}/${path}`;
    if (!descriptorsAvailable()) return await this.#copyByPath(path, source, dest, entry);

    // The file is opened once and read through its descriptor, whose inode must be the scanned one.
    // A directory swapped for a symlink since the scan leads to another inode, so the copy fails.
    let fd: number;
    try {
      fd = openFileAt(undefined, source);
    } catch (error) {
      if (isGone(error)) throw this.#changedError(path);
      throw this.#readError(path, error);
    }
    try {
      const opened = statFd(fd);
      if (opened.kind !== "file" || opened.ino !== entry.ino) throw this.#changedError(path);
      try {
        Deno.copyFileSync(fdPath(fd), dest);
      } catch (error) {
        throw this.#readError(path, error);
      }
      if (matchesScan(entry, statFd(fd), this.#options.stampMs)) return;
    } finally {
      closeDescriptor(fd);
    }
    await this.#checkCopy(path, dest, entry);
  }

  /** Copies without descriptors, where libc or /proc is unavailable. */
  async #copyByPath(path: string, source: string, dest: string, entry: FileEntry): Promise<void> {
    try {
      Deno.copyFileSync(source, dest);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) throw this.#changedError(path);
      throw this.#readError(path, error);
    }
    const after = lstatOrUndefined(source);
    if (after && matchesScan(entry, after, this.#options.stampMs)) return;
    await this.#checkCopy(path, dest, entry);
  }

  /**
   * Hashes the copy and compares it with the scanned digest. Callers skip this
   * only when the stat fields still match a settled scan record, so every copy
   * is checked before it is published under the scanned digest.
   */
  async #checkCopy(path: string, dest: string, entry: FileEntry): Promise<void> {
    const content = await hashFile(dest, { pacer: this.#pacer });
    if (content !== entry.content) throw this.#changedError(path);
  }

  #readError(path: string, error: unknown): Error {
    return new InvalidInputError(
      `Failed to copy local "${this.#options.name}": cannot read "${path}": ${
        (error as Error).message
      }`,
      {
        cause: error,
        data: { local: this.#options.name, path },
      },
    );
  }

  #changedError(path: string): Error {
    return new DigestMismatchError(
      `Failed to copy local "${this.#options.name}": "${path}" changed during the build (run the build again)`,
      { data: { local: this.#options.name, path } },
    );
  }
}

function isGone(error: unknown): boolean {
  return error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory ||
    error instanceof Deno.errors.FilesystemLoop;
}

function lstatOrUndefined(path: string): LocalStat | undefined {
  try {
    return lstatLocal(path);
  } catch {
    return undefined;
  }
}

function matchesScan(entry: FileEntry, info: LocalStat, stampMs: number): boolean {
  return info.kind === "file" &&
    isSettled(entry, stampMs) &&
    info.size === entry.size &&
    info.mtimeMs === entry.mtimeMs &&
    info.ctimeMs === entry.ctimeMs &&
    info.ino === entry.ino;
}

/** Sets owner 0:0, then the mode (chown clears setuid bits), then the mtime. */
function setMetadata(dest: string, entry: TreeEntry): void {
  const mtime = new Date(entry.mtimeMs);
  if (entry.kind === "symlink") {
    lchown(dest, 0, 0);
    lutimes(dest, mtime, mtime);
    return;
  }
  Deno.chownSync(dest, 0, 0);
  Deno.chmodSync(dest, entry.mode);
  Deno.utimeSync(dest, mtime, mtime);
}
