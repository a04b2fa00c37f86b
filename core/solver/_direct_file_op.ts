/**
 * A fast path for file ops that only add entries, as WORKDIR and COPY into a
 * new path do: the actions write straight into the new snapshot's diff
 * directory instead of through an overlay mount.
 *
 * An overlay copies a lower directory up into the upper directory before
 * anything is created in it. This path does the same for every directory on
 * the way to what an action creates, from a lookup of the base's layers. The
 * copy gets the lower directory's owner, mode and times, and its parent keeps
 * its own times, as overlayfs restores them. An action that would replace or
 * change anything the base has, or whose path passes through a symlink, leaves
 * the op to the overlay. The writes, the symlink resolution and the error
 * messages then stay the overlay's.
 *
 * @module
 */

import type {
  FileAction,
  FileActionCopy,
  FileOp,
} from "../graph/gen/tsbuild/graph/v1/definition_pb.ts";
import { listXattrs } from "../snapshot/_libc.ts";
import type { RunContext } from "./_run_context.ts";
import { applyAction } from "./_file_actions.ts";
import { copiesContents, findCopySources } from "./_copy.ts";
import { type LayeredEntry, LayeredTree } from "../snapshot/layered_tree.ts";
import { lowerDirsOf } from "./_views.ts";
import type { VertexResult } from "./solver.ts";

/** Extended attributes overlayfs keeps to itself and does not copy up. */
const OVERLAY_XATTR_PREFIX = "trusted.overlay.";

/** A directory copied up from the base, with the base's `Deno.lstat` of it. */
interface CopiedDirectory {
  path: string;
  info: Deno.FileInfo;
}

/** Directories to copy up before an action, and whether the action may run here at all. */
type ActionPlan = { direct: false } | { direct: true; parents: string[][] };

/**
 * Runs `op` by writing into the diff directory when every action only adds
 * entries the base does not have. Returns the new snapshot's id, or
 * undefined when the op does not qualify, in which case nothing was kept.
 * `sourceRoot` returns the directory showing a copy's source input.
 */
export async function runDirectFileOp(
  op: FileOp,
  inputs: VertexResult[],
  context: RunContext,
  sourceRoot: (input: number) => Promise<string>,
): Promise<string | undefined> {
  if (!op.actions.every(hasDirectForm)) return undefined;
  const base = op.baseInput >= 0 ? inputs[op.baseInput] : undefined;
  const lowerDirs = await lowerDirsOf(context.store, base?.snapshot);
  // Without a base, the overlay path already writes straight into the diff directory.
  if (lowerDirs.length === 0) return undefined;

  const active = await context.store.snapshots.prepare();
  try {
    const tree = new LayeredTree([active.dir, ...[...lowerDirs].reverse()]);
    const copiedUp: CopiedDirectory[] = [];
    for (const action of op.actions) {
      if (context.signal.aborted) throw context.signal.reason;
      const plan = await planAction(action, tree, sourceRoot);
      if (!plan.direct || !copyUpDirectories(tree, plan.parents, active.dir, copiedUp)) {
        await active.abort();
        return undefined;
      }
      await applyAction(action, active.dir, sourceRoot);
    }
    removeUnchangedCopies(copiedUp);
    return (await active.commit({ parent: base?.snapshot, kind: "file" })).id;
  } catch (error) {
    await active.abort();
    throw error;
  }
}

/**
 * Reports whether `action` can run here as far as the action alone shows. An
 * owner given by name is looked up in the target's /etc/passwd, and an archive
 * is unpacked into paths only its contents name, so both stay on the overlay.
 */
function hasDirectForm(action: FileAction): boolean {
  switch (action.action.case) {
    case "mkdir":
    case "mkfile":
      return isNumericOwner(action.action.value.owner);
    case "copy":
      return !action.action.value.attemptUnpack && isNumericOwner(action.action.value.owner);
    default:
      return false;
  }
}

function isNumericOwner(owner: { user: string; group: string } | undefined): boolean {
  const numeric = (name: string) => name === "" || name === "root" || /^\d+$/.test(name);
  return !owner || (numeric(owner.user) && numeric(owner.group));
}

async function planAction(
  action: FileAction,
  tree: LayeredTree,
  sourceRoot: (input: number) => Promise<string>,
): Promise<ActionPlan> {
  switch (action.action.case) {
    case "mkdir": {
      const { path, makeParents } = action.action.value;
      const names = splitPath(path);
      return names ? planMkdir(tree, names, makeParents) : { direct: false };
    }
    case "mkfile": {
      const names = splitPath(action.action.value.path);
      return names ? planMkfile(tree, names) : { direct: false };
    }
    case "copy": {
      const copy = action.action.value;
      return await planCopy(copy, tree, await sourceRoot(copy.input));
    }
    default:
      return { direct: false };
  }
}

/**
 * mkdir creates the missing part of its path, all of it with `makeParents`
 * and only the last name without. With `makeParents`, the whole path may
 * exist already; without, that is an error left to the overlay.
 */
function planMkdir(tree: LayeredTree, names: string[], makeParents: boolean): ActionPlan {
  const existing = existingDirectories(tree, names);
  if (!existing || names.length === 0) return { direct: false };
  const missing = names.length - existing.length;
  if (!makeParents && missing !== 1) return { direct: false };
  return { direct: true, parents: prefixes(names, existing.length) };
}

/** mkfile needs its parent directory, and writes a file the base does not have. */
function planMkfile(tree: LayeredTree, names: string[]): ActionPlan {
  if (names.length === 0) return { direct: false };
  const parents = names.slice(0, -1);
  const existing = existingDirectories(tree, parents);
  if (existing?.length !== parents.length) return { direct: false };
  const file = tree.lookup(names);
  if (file && (inBase(file) || !file.info.isFile)) return { direct: false };
  return { direct: true, parents: prefixes(names, parents.length) };
}

/**
 * copy creates what it copies inside or at its destination: the destination
 * may be missing or a directory, and no name it writes there may exist in the base.
 */
async function planCopy(
  copy: FileActionCopy,
  tree: LayeredTree,
  sourceRoot: string,
): Promise<ActionPlan> {
  const names = splitPath(copy.dest);
  const existing = names && existingDirectories(tree, names);
  if (!names || !existing) return { direct: false };
  const parents = prefixes(names, existing.length);
  // Below a destination the base lacks, the base has nothing the copy could meet.
  if (existing.length < names.length) return { direct: true, parents };

  // An existing directory receives the sources inside it, under their names or as contents.
  for (const source of await findCopySources(copy, sourceRoot)) {
    const written = copiesContents(copy, source, sourceRoot)
      ? Array.from(Deno.readDirSync(source.path), (entry) => entry.name)
      : [source.name];
    for (const name of written) {
      const entry = tree.lookup([...names, name]);
      if (entry && inBase(entry)) return { direct: false };
    }
  }
  return { direct: true, parents };
}

/**
 * Returns the directories that already exist along `names`, from the top, or
 * undefined when a symlink or non-directory lies on the path.
 */
function existingDirectories(tree: LayeredTree, names: string[]): LayeredEntry[] | undefined {
  const found: LayeredEntry[] = [];
  for (let index = 0; index < names.length; index++) {
    const entry = tree.lookup(names.slice(0, index + 1));
    if (!entry) return found;
    if (!entry.info.isDirectory) return undefined;
    found.push(entry);
  }
  return found;
}

/** Reports whether the base's layers, not only the new diff (layer 0), hold `entry`. */
function inBase(entry: LayeredEntry): boolean {
  return entry.layers.some((layer) => layer > 0);
}

/**
 * Copies the base's directories at `paths` (each a list of names, parents
 * first) into the diff directory `upperDir` where it lacks them, and adds
 * the copies to `copiedUp`. Returns false without finishing when a directory
 * carries extended attributes, which an overlay would copy too.
 */
function copyUpDirectories(
  tree: LayeredTree,
  paths: string[][],
  upperDir: string,
  copiedUp: CopiedDirectory[],
): boolean {
  // The deepest directory the diff already has receives the first copy.
  let parent = { path: upperDir, info: Deno.lstatSync(upperDir) };
  const copied: CopiedDirectory[] = [];
  for (const names of paths) {
    const entry = tree.lookup(names)!;
    const path = `${upperDir}${entry.relative}`;
    if (entry.layers[0] === 0) {
      parent = { path, info: entry.info };
      continue;
    }
    if (listXattrs(entry.path).some((name) => !name.startsWith(OVERLAY_XATTR_PREFIX))) {
      return false;
    }
    Deno.mkdirSync(path);
    Deno.chownSync(path, entry.info.uid, entry.info.gid);
    Deno.chmodSync(path, (entry.info.mode ?? 0o755) & 0o7777);
    copied.push({ path, info: entry.info });
  }
  if (copied.length === 0) return true;

  // As overlayfs does, copies keep the base's times and their parent keeps its own.
  for (const { path, info } of [parent, ...copied]) setTimes(path, info);
  copiedUp.push(...copied);
  return true;
}

/**
 * Removes the copied-up directories that nothing changed, deepest first: an
 * empty copy with the base's mode, owner and modification time. The overlay
 * path leaves the same diff, through `removeUnchangedDirectories`.
 */
function removeUnchangedCopies(copiedUp: CopiedDirectory[]): void {
  const deepestFirst = [...copiedUp].sort((a, b) => b.path.length - a.path.length);
  for (const { path, info } of deepestFirst) {
    const now = Deno.lstatSync(path);
    const unchanged = now.mode === info.mode && now.uid === info.uid && now.gid === info.gid &&
      now.mtime?.getTime() === info.mtime?.getTime();
    if (!unchanged || !isEmptyDirectory(path)) continue;
    const parent = path.slice(0, path.lastIndexOf("/"));
    const parentInfo = Deno.lstatSync(parent);
    Deno.removeSync(path);
    // Removing the entry touched the parent's times, which decide whether it is unchanged.
    setTimes(parent, parentInfo);
  }
}

function isEmptyDirectory(path: string): boolean {
  for (const _ of Deno.readDirSync(path)) return false;
  return true;
}

function setTimes(path: string, info: Deno.FileInfo): void {
  if (info.atime && info.mtime) Deno.utimeSync(path, info.atime, info.mtime);
}

/** Returns the first `count` prefixes of `names`: ["a"], ["a", "b"], ... */
function prefixes(names: string[], count: number): string[][] {
  return names.slice(0, count).map((_, index) => names.slice(0, index + 1));
}

/**
 * Splits a path inside the root into names, or returns undefined for a path
 * with "..", which scopedPath applies after following the symlinks before it.
 */
function splitPath(path: string): string[] | undefined {
  const names = path.split("/").filter((name) => name !== "" && name !== ".");
  return names.includes("..") ? undefined : names;
}
