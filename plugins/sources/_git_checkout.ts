/**
 * Writes a commit's tree (or one subdirectory of it) into a directory with
 * git's file modes and symlinks, every timestamp set to the commit time.
 *
 * @module
 */

import * as isogit from "isomorphic-git";
import { join, nodeFsPromises, nodeFs } from "../../core/deps.ts";
import { NotFoundError, PathEscapeError } from "../../core/errors.ts";

/** Options for {@link checkoutCommit}. */
export interface CheckoutOptions {
  gitdir: string;
  commit: string;
  /** Directory inside the repository to write, "" for the whole tree. */
  subdir: string;
  /** An existing empty directory that receives the files. */
  dest: string;
  /** Shared by the reads of one operation, so pack indexes are parsed once. */
  cache: object;
  signal: AbortSignal;
  /** Names the repository and reference in messages, e.g. `"https://host/r.git" at "main"`. */
  label: string;
}

/** One file, symlink or submodule written, as a git index records it. */
export interface CheckedOutEntry {
  /** Path relative to the destination, with "/" separators. */
  path: string;
  /** Git mode: 0o100644, 0o100755, 0o120000 or 0o160000. */
  mode: number;
  oid: string;
  size: number;
}

/** What {@link checkoutCommit} wrote. */
export interface CheckoutResult {
  /** Files, symlinks and submodule directories, in the order git's index sorts them. */
  entries: CheckedOutEntry[];
  /** The ids of the trees written, the top one first. */
  trees: string[];
  /** The committer time, given to every entry as its modification time. */
  time: Date;
}

interface TreeJob {
  /** Path relative to the destination. */
  path: string;
  mode: number;
  oid: string;
}

const WRITE_CONCURRENCY = 16;

/** Writes `options.commit`'s tree, or its subdirectory `options.subdir`, into `options.dest`. */
export async function checkoutCommit(options: CheckoutOptions): Promise<CheckoutResult> {
  const { gitdir, cache } = options;
  const { commit } = await isogit.readCommit({ fs: nodeFs, gitdir, oid: options.commit, cache });
  const time = new Date(commit.committer.timestamp * 1000);
  const root = await findSubdirTree(commit.tree, options);

  const directories: string[] = [];
  const trees: string[] = [];
  const leaves: TreeJob[] = [];
  await collectTree(root, "", options, { directories, trees, leaves });

  let next = 0;
  const entries: CheckedOutEntry[] = [];
  const worker = async () => {
    while (next < leaves.length) {
      options.signal.throwIfAborted();
      const job = leaves[next++];
      entries.push(await writeLeaf(job, options, time));
    }
  };
  await Promise.all(Array.from({ length: Math.min(WRITE_CONCURRENCY, leaves.length) }, worker));

  // Deepest first, so that setting a directory's time is not undone by a child.
  for (const path of directories.reverse()) {
    const full = path ? join(options.dest, path) : options.dest;
    await Deno.chmod(full, 0o755);
    await Deno.utime(full, time, time);
  }
  entries.sort((a, b) => compareBytes(a.path, b.path));
  return { entries, trees, time };
}

/** Returns the tree of `subdir` inside `tree`, or `tree` itself for "". */
async function findSubdirTree(tree: string, options: CheckoutOptions): Promise<string> {
  if (!options.subdir) return tree;
  let current = tree;
  let walked = "";
  for (const name of options.subdir.split("/")) {
    const { tree: entries } = await isogit.readTree({
      fs: nodeFs,
      gitdir: options.gitdir,
      oid: current,
      cache: options.cache,
    });
    const entry = entries.find((candidate) => candidate.path === name);
    walked = walked ? `${walked}/${name}` : name;
    if (!entry || entry.type !== "tree") {
      const state = entry ? "it is not a directory" : "no such directory";
      throw new NotFoundError(
        `Failed to find subdirectory "${options.subdir}" in ${options.label}: "${walked}": ${state}`,
        { data: { subdir: options.subdir } },
      );
    }
    current = entry.oid;
  }
  return current;
}

interface Collected {
  directories: string[];
  trees: string[];
  leaves: TreeJob[];
}

// Creates the directories of `tree` right away and lists its other entries.
async function collectTree(
  tree: string,
  path: string,
  options: CheckoutOptions,
  collected: Collected,
): Promise<void> {
  options.signal.throwIfAborted();
  collected.directories.push(path);
  collected.trees.push(tree);
  const { tree: entries } = await isogit.readTree({
    fs: nodeFs,
    gitdir: options.gitdir,
    oid: tree,
    cache: options.cache,
  });
  for (const entry of entries) {
    checkEntryName(entry.path, path, options.label);
    const child = path ? `${path}/${entry.path}` : entry.path;
    const mode = parseInt(entry.mode, 8);
    if (entry.type === "tree") {
      await Deno.mkdir(join(options.dest, child));
      await collectTree(entry.oid, child, options, collected);
    } else {
      collected.leaves.push({ path: child, mode, oid: entry.oid });
    }
  }
}

// Git itself refuses these names on checkout; a tree that has them was made to attack a checkout.
function checkEntryName(name: string, parent: string, label: string): void {
  if (
    name === "" || name === "." || name === ".." || name.includes("/") || name.includes("\0") ||
    name.toLowerCase() === ".git"
  ) {
    throw new PathEscapeError(
      `Failed to check out ${label}: the tree at "${parent || "/"}" has an entry named "${name}", which git refuses to check out`,
    );
  }
}

async function writeLeaf(job: TreeJob, options: CheckoutOptions, time: Date) {
  const full = join(options.dest, job.path);
  if (job.mode === 0o160000) {
    // A submodule: an empty directory unless submodules are checked out later.
    await Deno.mkdir(full, { mode: 0o755 });
    await Deno.utime(full, time, time);
    return { path: job.path, mode: job.mode, oid: job.oid, size: 0 };
  }
  const { blob } = await isogit.readBlob({
    fs: nodeFs,
    gitdir: options.gitdir,
    oid: job.oid,
    cache: options.cache,
  });
  if (job.mode === 0o120000) {
    await Deno.symlink(new TextDecoder().decode(blob), full);
    await nodeFsPromises.lutimes(full, time, time);
    return { path: job.path, mode: job.mode, oid: job.oid, size: blob.byteLength };
  }
  // Git records only whether a file is executable; old trees may say 100664.
  const mode = job.mode & 0o111 ? 0o755 : 0o644;
  await Deno.writeFile(full, blob, { createNew: true, mode });
  await Deno.chmod(full, mode);
  await Deno.utime(full, time, time);
  return { path: job.path, mode: mode === 0o755 ? 0o100755 : 0o100644, oid: job.oid, size: blob.byteLength };
}

function compareBytes(a: string, b: string): number {
  const left = new TextEncoder().encode(a);
  const right = new TextEncoder().encode(b);
  const length = Math.min(left.length, right.length);
  for (let i = 0; i < length; i++) {
    if (left[i] !== right[i]) return left[i] - right[i];
  }
  return left.length - right.length;
}
