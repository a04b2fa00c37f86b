/**
 * Walks the merged view of a chain of diff directories and copies file system
 * entries with their metadata; shared by materialize and diff.
 *
 * @module
 */

import { join } from "../deps.ts";
import { isOpaque, isWhiteout } from "./whiteout.ts";
import { lchown, lutimes } from "../fs/link_metadata.ts";

/** One entry of the merged view: the top-most layer's copy of a path. */
export interface MergedEntry {
  /** Host path of the entry in the layer it comes from. */
  path: string;
  /** `Deno.lstat` of `path`. */
  info: Deno.FileInfo;
  /** Index of that layer in the chain, 0 being the top-most. */
  layer: number;
  /**
   * For a directory, its copies in every layer that contributes children,
   * top-most first; empty for other entries.
   */
  layers: LayerDirectory[];
}

/** One layer's copy of a merged directory. */
export interface LayerDirectory {
  /** Host path of the directory in that layer. */
  path: string;
  /** Index of the layer in the chain, 0 being the top-most. */
  layer: number;
}

/**
 * Returns the root of the merged view of `lowerDirs`, given bottom-most first,
 * or undefined for an empty chain.
 */
export async function mergedRoot(lowerDirs: string[]): Promise<MergedEntry | undefined> {
  if (lowerDirs.length === 0) return undefined;
  const topFirst = [...lowerDirs].reverse();
  const layers: LayerDirectory[] = [];
  for (const [layer, path] of topFirst.entries()) {
    layers.push({ path, layer });
    if (isOpaque(path)) break;
  }
  return { path: topFirst[0], info: await Deno.lstat(topFirst[0]), layer: 0, layers };
}

/** Lists the children of the merged directory `dir`, sorted by name. */
export async function listMerged(dir: MergedEntry): Promise<Map<string, MergedEntry>> {
  const decided = new Map<string, MergedEntry | null>();
  for (const [index, layerDirectory] of dir.layers.entries()) {
    for await (const child of Deno.readDir(layerDirectory.path)) {
      if (decided.has(child.name)) continue;
      decided.set(child.name, await mergedChild(dir, index, child.name));
    }
  }

  const names = [...decided.keys()].sort();
  const children = new Map<string, MergedEntry>();
  for (const name of names) {
    const entry = decided.get(name);
    if (entry) children.set(name, entry);
  }
  return children;
}

/**
 * Builds the entry for `name` as first seen in `dir.layers[index]`, or null
 * when that layer contains a whiteout for it.
 */
async function mergedChild(
  dir: MergedEntry,
  index: number,
  name: string,
): Promise<MergedEntry | null> {
  const path = join(dir.layers[index].path, name);
  const info = await Deno.lstat(path);
  if (isWhiteout(info)) return null;

  const layer = dir.layers[index].layer;
  if (!info.isDirectory) return { path, info, layer, layers: [] };
  return { path, info, layer, layers: await directoryLayers(dir, index, name) };
}

/**
 * Collects the layers in which the directory `name` shows its children: from
 * where it is first seen down to an opaque copy, or to a layer where the name
 * is a whiteout or a non-directory, which hides everything below it.
 */
async function directoryLayers(
  dir: MergedEntry,
  index: number,
  name: string,
): Promise<LayerDirectory[]> {
  const layers: LayerDirectory[] = [];
  for (const layerDirectory of dir.layers.slice(index)) {
    const path = join(layerDirectory.path, name);
    const info = await lstatOrUndefined(path);
    if (!info) continue;
    if (!info.isDirectory) break;
    layers.push({ path, layer: layerDirectory.layer });
    if (isOpaque(path)) break;
  }
  return layers;
}

/** Returns `Deno.lstat(path)`, or undefined when nothing exists there. */
export async function lstatOrUndefined(path: string): Promise<Deno.FileInfo | undefined> {
  try {
    return await Deno.lstat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

/**
 * Copies one non-directory entry from `source` to `destination`, which must
 * not exist, with its owner, mode and times. A regular file whose identity is
 * already in `links` becomes a hard link to the earlier copy.
 */
export async function copyNode(
  source: string,
  info: Deno.FileInfo,
  destination: string,
  links: Map<string, string>,
  linkScope = "",
): Promise<void> {
  if (info.isFile && (info.nlink ?? 1) > 1) {
    const key = `${linkScope}:${info.dev}:${info.ino}`;
    const first = links.get(key);
    if (first !== undefined) {
      await Deno.link(first, destination);
      return;
    }
    links.set(key, destination);
  }

  if (info.isSymlink) {
    await Deno.symlink(await Deno.readLink(source), destination);
    lchown(destination, info.uid ?? 0, info.gid ?? 0);
    if (info.atime && info.mtime) lutimes(destination, info.atime, info.mtime);
    return;
  }

  if (info.isFile) await Deno.copyFile(source, destination);
  else mknod(destination, info.mode ?? 0, info.rdev ?? 0);
  await applyMetadata(destination, info);
}

/** Creates an empty directory at `destination` with the owner and mode of `info`. */
export async function createDirectory(destination: string, info: Deno.FileInfo): Promise<void> {
  await Deno.mkdir(destination);
  await Deno.chown(destination, info.uid, info.gid);
  await Deno.chmod(destination, (info.mode ?? 0o755) & 0o7777);
}

/** Sets owner, mode and times of `path`, which is not a symlink, from `info`. */
export async function applyMetadata(path: string, info: Deno.FileInfo): Promise<void> {
  // chown clears the set-user-ID and set-group-ID bits, so the mode comes after it.
  await Deno.chown(path, info.uid, info.gid);
  await Deno.chmod(path, (info.mode ?? 0) & 0o7777);
  await applyTimes(path, info);
}

/** Sets the access and modification times of `path` from `info`. */
export async function applyTimes(path: string, info: Deno.FileInfo): Promise<void> {
  if (info.atime && info.mtime) await Deno.utime(path, info.atime, info.mtime);
}

/**
 * Copies the tree at `source` (any type) to `destination`, which must not
 * exist, keeping owners, modes, times and hard links among the copied files.
 */
export async function copyTree(
  source: string,
  destination: string,
  links: Map<string, string>,
  signal?: AbortSignal,
): Promise<void> {
  signal?.throwIfAborted();
  const info = await Deno.lstat(source);
  if (!info.isDirectory) return copyNode(source, info, destination, links);

  await createDirectory(destination, info);
  const names: string[] = [];
  for await (const child of Deno.readDir(source)) names.push(child.name);
  for (const name of names.sort()) {
    await copyTree(join(source, name), join(destination, name), links, signal);
  }
  await applyTimes(destination, info);
}

function openLibc() {
  return Deno.dlopen("libc.so.6", {
    mknod: { parameters: ["buffer", "u32", "u64"], result: "i32" },
    __errno_location: { parameters: [], result: "pointer" },
  });
}

let libc: ReturnType<typeof openLibc> | undefined;

// TODO(handle): move this into core/snapshot/_libc.ts, whose mknodChar creates only character
// devices; until then this file opens libc a second time.
/** Creates a device node, FIFO or socket from a source's full `st_mode` and raw `st_rdev`. */
function mknod(path: string, mode: number, rdev: number): void {
  libc ??= openLibc();
  const cPath = new TextEncoder().encode(path + "\0");
  if (libc.symbols.mknod(cPath, mode, BigInt(rdev)) !== 0) {
    const pointer = libc.symbols.__errno_location();
    const errno = pointer === null ? 0 : new Deno.UnsafePointerView(pointer).getInt32();
    throw new Error(`Failed to create special file "${path}": errno ${errno}`);
  }
}
