/**
 * Copies the kept entries of a scanned local directory into a snapshot's diff
 * directory, owned by root as Docker does for a build context, and checks that
 * each file still has the content the scan hashed.
 *
 * @module
 */

import { nodeFsPromises } from "../../core/deps.ts";
import { DigestMismatchError, InvalidInputError } from "../../core/errors.ts";
import { hashFile } from "./_local_hash.ts";
import { isSettled } from "./_local_record.ts";
import type { DirectoryEntry, FileEntry, TreeEntry } from "./_local_tree.ts";

const COPY_CONCURRENCY = 8;

/** Options for {@link copyTree}. */
export interface CopyTreeOptions {
  /** The local's name, for messages. */
  name: string;
  /** File system time when the scan started; see `isUnchanged` in `_local_record.ts`. */
  stampMs: number;
  signal: AbortSignal;
}

/** Copies `tree`, scanned from `sourceRoot`, into the empty directory `diffDir`. */
export async function copyTree(
  tree: DirectoryEntry,
  sourceRoot: string,
  diffDir: string,
  options: CopyTreeOptions,
): Promise<void> {
  const copier = new TreeCopier(sourceRoot, diffDir, options);
  await copier.children(tree, "");
  await nodeFsPromises.lchown(diffDir, 0, 0);
  await Deno.chmod(diffDir, tree.mode);
}

class TreeCopier {
  readonly #sourceRoot: string;
  readonly #diffDir: string;
  readonly #options: CopyTreeOptions;

  constructor(sourceRoot: string, diffDir: string, options: CopyTreeOptions) {
    this.#sourceRoot = sourceRoot;
    this.#diffDir = diffDir;
    this.#options = options;
  }

  /** Copies the children of `dir`, at relative path `path`: files a few at a time, then directories. */
  async children(dir: DirectoryEntry, path: string): Promise<void> {
    this.#options.signal.throwIfAborted();
    const entries = [...dir.children].map(([name, entry]) => ({
      path: path ? `${path}/${name}` : name,
      entry,
    }));
    const leaves = entries.filter(({ entry }) => entry.kind !== "dir");
    let next = 0;
    const worker = async () => {
      while (next < leaves.length) {
        const { path, entry } = leaves[next++];
        await this.#leaf(path, entry);
      }
    };
    await Promise.all(Array.from({ length: Math.min(COPY_CONCURRENCY, leaves.length) }, worker));

    for (const { path, entry } of entries) {
      if (entry.kind !== "dir") continue;
      const dest = `${this.#diffDir}/${path}`;
      await Deno.mkdir(dest);
      await this.children(entry, path);
      await setMetadata(dest, entry);
    }
  }

  async #leaf(path: string, entry: TreeEntry): Promise<void> {
    const dest = `${this.#diffDir}/${path}`;
    if (entry.kind === "symlink") {
      await Deno.symlink(entry.target, dest);
    } else if (entry.kind === "file") {
      await this.#file(path, dest, entry);
    }
    await setMetadata(dest, entry);
  }

  async #file(path: string, dest: string, entry: FileEntry): Promise<void> {
    const source = `${this.#sourceRoot}/${path}`;
    // NOTE: files hard-linked to each other in the directory become separate copies.
    try {
      await Deno.copyFile(source, dest);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) throw this.#changedError(path);
      throw new InvalidInputError(
        `Failed to copy local "${this.#options.name}": cannot read "${path}": ${
          (error as Error).message
        }`,
        {
          cause: error,
          data: { local: this.#options.name, path },
        },
      );
    }

    // Stat fields that still match the scan show the file was not written
    // since. When they differ, or the scan's record is within its clock tick,
    // the copy is hashed and compared instead.
    const after = await Deno.lstat(source).catch(() => undefined);
    if (after && matchesScan(entry, after, this.#options.stampMs)) return;
    const { content } = await hashFile(dest, entry.size, this.#options.signal);
    if (content !== entry.content) throw this.#changedError(path);
  }

  #changedError(path: string): Error {
    return new DigestMismatchError(
      `Failed to copy local "${this.#options.name}": "${path}" changed during the build (run the build again)`,
      { data: { local: this.#options.name, path } },
    );
  }
}

function matchesScan(entry: FileEntry, info: Deno.FileInfo, stampMs: number): boolean {
  return info.isFile &&
    isSettled(entry, stampMs) &&
    info.size === entry.size &&
    info.mtime?.getTime() === entry.mtimeMs &&
    info.ctime?.getTime() === entry.ctimeMs &&
    info.ino === entry.ino;
}

/** Sets owner 0:0, then the mode (chown clears setuid bits), then the mtime. */
async function setMetadata(dest: string, entry: TreeEntry): Promise<void> {
  const mtime = new Date(entry.mtimeMs);
  if (entry.kind === "symlink") {
    await nodeFsPromises.lchown(dest, 0, 0);
    await nodeFsPromises.lutimes(dest, mtime, mtime);
    return;
  }
  await Deno.chown(dest, 0, 0);
  await Deno.chmod(dest, entry.mode);
  await Deno.utime(dest, mtime, mtime);
}
