/**
 * Writes a commit's tree (or one subdirectory of it) into a directory with
 * git's file modes and symlinks, every timestamp set to the commit time.
 *
 * @module
 */

import { join } from "../../core/deps.ts";
import { NotFoundError, PathEscapeError } from "../../core/errors.ts";
import { parseCommit, parseTree } from "./_git_objects.ts";
import type { PackReader } from "./_git_pack.ts";
import { lutimes } from "../../core/fs/link_metadata.ts";

/** Options for {@link checkoutCommit}. */
export interface CheckoutOptions {
  /** Reads the repository's objects. */
  reader: PackReader;
  commit: string;
  /** Directory inside the repository to write, "" for the whole tree. */
  subdir: string;
  /** An existing empty directory that receives the files. */
  dest: string;
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

/** The result of {@link checkoutCommit}. */
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

/**
 * Writes `options.commit`'s tree, or its subdirectory `options.subdir`, into `options.dest`.
 *
 * NOTE: files are written with synchronous calls, which took about a third
 * of the time of asynchronous ones for thousands of small files on Deno 2.9.
 * The event loop waits meanwhile, and cancellation is checked every 256 entries.
 */
export function checkoutCommit(options: CheckoutOptions): CheckoutResult {
  const commit = parseCommit(options.reader.readTyped(options.commit, "commit"));
  const time = new Date(commit.time * 1000);
  const root = findSubdirTree(commit.tree, options);

  const directories: string[] = [];
  const trees: string[] = [];
  const leaves: TreeJob[] = [];
  collectTree(root, "", options, { directories, trees, leaves });

  const entries: CheckedOutEntry[] = [];
  for (const [index, job] of leaves.entries()) {
    if (index % 256 === 0) options.signal.throwIfAborted();
    entries.push(writeLeaf(job, options, time));
  }

  // Deepest first, so that setting a directory's time is not undone by a child.
  for (const path of directories.reverse()) {
    const full = path ? join(options.dest, path) : options.dest;
    Deno.chmodSync(full, 0o755);
    Deno.utimeSync(full, time, time);
  }
  entries.sort((a, b) => compareBytes(a.path, b.path));
  return { entries, trees, time };
}

/** Returns the tree of `subdir` inside `tree`, or `tree` itself for "". */
function findSubdirTree(tree: string, options: CheckoutOptions): string {
  if (!options.subdir) return tree;
  let current = tree;
  let walked = "";
  for (const name of options.subdir.split("/")) {
    const entries = parseTree(options.reader.readTyped(current, "tree"));
    const entry = entries.find((candidate) => candidate.name === name);
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
function collectTree(tree: string, path: string, options: CheckoutOptions, collected: Collected) {
  collected.directories.push(path);
  collected.trees.push(tree);
  for (const entry of parseTree(options.reader.readTyped(tree, "tree"))) {
    checkEntryName(entry.name, path, options.label);
    const child = path ? `${path}/${entry.name}` : entry.name;
    if (entry.type === "tree") {
      Deno.mkdirSync(join(options.dest, child));
      collectTree(entry.oid, child, options, collected);
    } else {
      collected.leaves.push({ path: child, mode: entry.mode, oid: entry.oid });
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
      `Failed to check out ${label}: the tree at "${
        parent || "/"
      }" has an entry named "${name}", which git refuses to check out`,
    );
  }
}

function writeLeaf(job: TreeJob, options: CheckoutOptions, time: Date): CheckedOutEntry {
  const full = join(options.dest, job.path);
  if (job.mode === 0o160000) {
    // A submodule: an empty directory unless submodules are checked out later.
    Deno.mkdirSync(full, { mode: 0o755 });
    Deno.utimeSync(full, time, time);
    return { path: job.path, mode: job.mode, oid: job.oid, size: 0 };
  }
  const blob = options.reader.readTyped(job.oid, "blob");
  if (job.mode === 0o120000) {
    Deno.symlinkSync(new TextDecoder().decode(blob), full);
    lutimes(full, time, time);
    return { path: job.path, mode: job.mode, oid: job.oid, size: blob.byteLength };
  }
  // Git records only whether a file is executable, and old trees may record 100664.
  const mode = job.mode & 0o111 ? 0o755 : 0o644;
  const file = Deno.openSync(full, { write: true, createNew: true, mode });
  try {
    for (let written = 0; written < blob.length;) written += file.writeSync(blob.subarray(written));
    file.utimeSync(time, time);
  } finally {
    file.close();
  }
  // The mode given to open() passes through the umask.
  Deno.chmodSync(full, mode);
  const gitMode = mode === 0o755 ? 0o100755 : 0o100644;
  return { path: job.path, mode: gitMode, oid: job.oid, size: blob.byteLength };
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
