/**
 * Records how a directory tree differs from the merged view of a chain of diff
 * directories, as a new diff directory in overlayfs's upper-dir format.
 *
 * @module
 */

import { yieldToEventLoop } from "../event_loop.ts";
import { join } from "../deps.ts";
import {
  applyMetadata,
  applyTimes,
  copyTree,
  createDirectory,
  listMerged,
  type MergedEntry,
  mergedRoot,
} from "./_walk.ts";
import { LayeredTree } from "./layered_tree.ts";
import { createWhiteout, isOpaque, markOpaque } from "./whiteout.ts";

/** Options of {@linkcode writeDiff}. */
export interface WriteDiffOptions {
  /** Stops between two entries; the partial diff is left for the caller to remove. */
  signal?: AbortSignal;
}

interface DiffContext {
  resultDir: string;
  upperDir: string;
  /** Hard-link identities of result files already copied, mapped to their copies. */
  links: Map<string, string>;
  /** Relative paths of directories that exist in upperDir. */
  upperDirectories: Set<string>;
  /** Directories created in upperDir, whose times are set once their children are written. */
  created: Array<{ path: string; info: Deno.FileInfo }>;
  signal?: AbortSignal;
}

/**
 * Writes into the existing empty directory `upperDir` the changes that turn
 * the merged view of `lowerDirs` (bottom-most first) into the tree at
 * `resultDir`, so that mounting `upperDir` over `lowerDirs` shows `resultDir`.
 *
 * An entry counts as changed when its type, mode, owner, size, modification
 * time, symlink target or device number differs. A deleted entry becomes a
 * whiteout. A directory none of whose lower entries is left becomes an opaque
 * directory instead of one whiteout per entry, and so does a directory that
 * replaces a non-directory.
 *
 * NOTE: a file rewritten with the same size whose modification time is then
 * set back to the old value, to the millisecond, is not detected. Comparing
 * every file's content instead would make each run read the whole root file
 * system.
 */
export async function writeDiff(
  lowerDirs: string[],
  resultDir: string,
  upperDir: string,
  options: WriteDiffOptions = {},
): Promise<void> {
  const context: DiffContext = {
    resultDir,
    upperDir,
    links: new Map(),
    upperDirectories: new Set([""]),
    created: [],
    signal: options.signal,
  };

  const lowerRoot = await mergedRoot(lowerDirs);
  if (lowerRoot) await diffDirectory(context, "", lowerRoot);
  else await copyChildren(context, "", await readNames(resultDir));

  for (const { path, info } of context.created.reverse()) await applyTimes(path, info);
  await applyMetadata(upperDir, await Deno.lstat(resultDir));
}

async function diffDirectory(
  context: DiffContext,
  path: string,
  lower: MergedEntry,
): Promise<void> {
  const lowerChildren = await listMerged(lower);
  const names = await readNames(join(context.resultDir, path));
  const kept = names.filter((name) => lowerChildren.has(name));
  if (lowerChildren.size > 0 && kept.length === 0) {
    await ensureUpperDirectory(context, path);
    markOpaque(join(context.upperDir, path));
    await copyChildren(context, path, names);
    return;
  }

  const present = new Set(names);
  for (const name of lowerChildren.keys()) {
    if (present.has(name)) continue;
    await ensureUpperDirectory(context, path);
    createWhiteout(join(context.upperDir, path, name));
  }
  for (const name of names) {
    await diffEntry(context, joinRelative(path, name), lowerChildren.get(name));
  }

  const info = await Deno.lstat(join(context.resultDir, path));
  if (!sameMetadata(info, lower.info)) await ensureUpperDirectory(context, path);
}

async function diffEntry(
  context: DiffContext,
  path: string,
  lower: MergedEntry | undefined,
): Promise<void> {
  context.signal?.throwIfAborted();
  const resultPath = join(context.resultDir, path);
  const info = await Deno.lstat(resultPath);
  if (lower?.info.isDirectory && info.isDirectory) return diffDirectory(context, path, lower);
  if (lower && await sameEntry(resultPath, info, lower)) return;

  await ensureUpperDirectory(context, parentOf(path));
  const upperPath = join(context.upperDir, path);
  await copyTree(resultPath, upperPath, context.links, context.signal);
  // Overlayfs stops merging at a type change, so lower-layer entries are hidden anyway.
  // The mark makes that explicit for readers of the diff directory, such as the layer codec.
  if (lower && info.isDirectory) markOpaque(upperPath);
}

async function copyChildren(context: DiffContext, path: string, names: string[]): Promise<void> {
  await ensureUpperDirectory(context, path);
  for (const name of names) {
    const child = joinRelative(path, name);
    await copyTree(
      join(context.resultDir, child),
      join(context.upperDir, child),
      context.links,
      context.signal,
    );
  }
}

/** Creates `path` and its missing parents in upperDir with the result tree's owners and modes. */
async function ensureUpperDirectory(context: DiffContext, path: string): Promise<void> {
  if (context.upperDirectories.has(path)) return;
  await ensureUpperDirectory(context, parentOf(path));

  const info = await Deno.lstat(join(context.resultDir, path));
  const upperPath = join(context.upperDir, path);
  await createDirectory(upperPath, info);
  context.created.push({ path: upperPath, info });
  context.upperDirectories.add(path);
}

/** Reports whether two entries of the same path have the same type and metadata. */
async function sameEntry(
  resultPath: string,
  info: Deno.FileInfo,
  lower: MergedEntry,
): Promise<boolean> {
  const other = lower.info;
  if (entryType(info) !== entryType(other)) return false;
  if (((info.mode ?? 0) & 0o7777) !== ((other.mode ?? 0) & 0o7777)) return false;
  if (info.uid !== other.uid || info.gid !== other.gid) return false;

  if (info.isSymlink) return await Deno.readLink(resultPath) === await Deno.readLink(lower.path);
  if (info.isCharDevice || info.isBlockDevice) return info.rdev === other.rdev;
  return info.size === other.size && info.mtime?.getTime() === other.mtime?.getTime();
}

/** Reports whether two directories have the same mode, owner and modification time. */
function sameMetadata(info: Deno.FileInfo, other: Deno.FileInfo): boolean {
  return info.mode === other.mode && info.uid === other.uid && info.gid === other.gid &&
    info.mtime?.getTime() === other.mtime?.getTime();
}

function entryType(info: Deno.FileInfo): string {
  if (info.isFile) return "file";
  if (info.isDirectory) return "directory";
  if (info.isSymlink) return "symlink";
  if (info.isCharDevice) return "char";
  if (info.isBlockDevice) return "block";
  if (info.isFifo) return "fifo";
  return "socket";
}

/**
 * Removes from `upperDir` the directories that change nothing: empty, not
 * opaque, and with the same mode, owner and modification time as the merged
 * view of `lowerDirs` shows. Overlayfs copies a directory up as soon as
 * anything inside it is created, even when that entry is removed again, as
 * the mount points a container runtime creates are.
 *
 * The calls are synchronous, because each takes microseconds and an
 * asynchronous call costs a thread-pool round trip of about 0.1 ms (Deno
 * 2.9.6 on a 2-core VM). The walk yields to the event loop every 16 ms.
 */
export async function removeUnchangedDirectories(
  lowerDirs: string[],
  upperDir: string,
): Promise<void> {
  if (lowerDirs.length === 0) return;
  const lower = new LayeredTree([...lowerDirs].reverse());
  await pruneChildren({ upperDir, lower, pause: createPacer() }, []);
}

interface PruneContext {
  upperDir: string;
  lower: LayeredTree;
  pause: () => Promise<void>;
}

/** Prunes the subdirectories of `names` and reports whether that directory is now empty. */
async function pruneChildren(context: PruneContext, names: string[]): Promise<boolean> {
  const directory = join(context.upperDir, ...names);
  const before = Deno.lstatSync(directory);
  let remaining = 0;
  let removed = false;
  for (const name of readNamesSync(directory)) {
    await context.pause();
    const child = [...names, name];
    if (await isRemovableDirectory(context, child)) {
      Deno.removeSync(join(context.upperDir, ...child));
      removed = true;
    } else {
      remaining++;
    }
  }

  // Removing entries touched the directory's times, which the comparison with the lower one reads.
  if (removed && before.atime && before.mtime) {
    Deno.utimeSync(directory, before.atime, before.mtime);
  }
  return remaining === 0;
}

async function isRemovableDirectory(context: PruneContext, names: string[]): Promise<boolean> {
  const upperPath = join(context.upperDir, ...names);
  const info = Deno.lstatSync(upperPath);
  if (!info.isDirectory) return false;
  if (!await pruneChildren(context, names)) return false;
  if (isOpaque(upperPath)) return false;

  const lower = context.lower.lookup(names);
  return lower !== undefined && lower.info.isDirectory &&
    sameMetadata(Deno.lstatSync(upperPath), lower.info);
}

/** Milliseconds of synchronous calls between two yields to the event loop. */
const SLICE_MS = 16;

/** Returns a function that yields to the event loop once `SLICE_MS` passed since the last yield. */
function createPacer(): () => Promise<void> {
  let sliceStart = performance.now();
  return async () => {
    if (performance.now() - sliceStart < SLICE_MS) return;
    await yieldToEventLoop();
    sliceStart = performance.now();
  };
}

function readNamesSync(path: string): string[] {
  return Array.from(Deno.readDirSync(path), (entry) => entry.name).sort();
}

async function readNames(path: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(path)) names.push(entry.name);
  return names.sort();
}

function joinRelative(parent: string, name: string): string {
  return parent === "" ? name : `${parent}/${name}`;
}

function parentOf(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash === -1 ? "" : path.slice(0, slash);
}
