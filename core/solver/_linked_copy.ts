/**
 * A fast path for file ops that copy a whole directory of a local source, as
 * `COPY . /app` does: the new snapshot's diff gets hard links to the source
 * snapshot's files instead of copies, written straight into the diff
 * directory rather than through an overlay mount.
 *
 * Linking is safe because snapshots are never modified once committed (see
 * `merge_op.ts`). It gives the same files as a copy would, because the op sets
 * no owner and no mode, so each copied file would get the source's owner,
 * mode and mtime, which are the inode's own.
 *
 * NOTE: a RUN step over the result shows the shared inodes. A file's link
 * count grows with every snapshot linking it, and two copies have one inode.
 *
 * @module
 */

import { yieldToEventLoop } from "../event_loop.ts";
import type { FileActionCopy, FileOp } from "../graph/gen/tsbuild/graph/v1/definition_pb.ts";
import { hasWildcard, scopedPath } from "../fs/scoped_path.ts";
import { markOpaque } from "../snapshot/whiteout.ts";
import type { ActiveSnapshot } from "../store/snapshots.ts";
import type { RunContext } from "./_run_context.ts";
import { lowerDirsOf, withReadonlyView } from "./_views.ts";
import type { VertexResult } from "./solver.ts";
import { lchown, lutimes } from "../fs/link_metadata.ts";

/** Snapshot kinds whose diff contains plain files that no overlay wrote, so linking them is safe. */
const LINKABLE_KINDS = new Set(["local"]);

/** Milliseconds of synchronous calls between two yields to the event loop. */
const SLICE_MS = 16;

/** Counts of the files a linked copy wrote, by method. */
interface LinkCounts {
  linked: number;
  copied: number;
}

/**
 * Runs `op` by linking when it is a single copy of a directory's contents
 * from a one-layer local snapshot, with no owner, mode, include or exclude
 * patterns. Returns the new snapshot's id, or undefined when the op does not
 * qualify, in which case nothing was written.
 */
export async function runLinkedCopy(
  op: FileOp,
  inputs: VertexResult[],
  context: RunContext,
): Promise<string | undefined> {
  const copy = linkableCopy(op);
  if (!copy) return undefined;
  const sourceDir = await linkableSource(copy, inputs[copy.input], context);
  if (!sourceDir) return undefined;

  const base = op.baseInput >= 0 ? inputs[op.baseInput] : undefined;
  const active = await context.store.snapshots.prepare();
  try {
    const counts = await linkIntoDiff(copy, sourceDir, base, active, context);
    if (!counts) {
      await active.abort();
      return undefined;
    }
    context.sink.emit({
      type: "vertex.status",
      vertex: context.vertex,
      message: `${counts.linked} files linked, ${counts.copied} copied`,
      time: Date.now(),
    });
    return (await active.commit({ parent: base?.snapshot, kind: "file" })).id;
  } catch (error) {
    await active.abort();
    throw error;
  }
}

function linkableCopy(op: FileOp): FileActionCopy | undefined {
  if (op.actions.length !== 1) return undefined;
  const action = op.actions[0].action;
  if (action.case !== "copy") return undefined;
  const copy = action.value;
  const simple = copy.dirContentsOnly && copy.mode === 0 &&
    !copy.owner?.user && !copy.owner?.group &&
    copy.includePatterns.length === 0 && copy.excludePatterns.length === 0 &&
    !(copy.allowWildcard && hasWildcard(copy.src));
  return simple ? copy : undefined;
}

/** Returns the source directory to link from, inside the source's only diff, when there is one. */
async function linkableSource(
  copy: FileActionCopy,
  input: VertexResult | undefined,
  context: RunContext,
): Promise<string | undefined> {
  if (!input?.snapshot) return undefined;
  const chain = await context.store.snapshots.chain(input.snapshot);
  if (chain.length !== 1 || !LINKABLE_KINDS.has(chain[0].kind)) return undefined;
  const root = context.store.snapshots.diffDir(chain[0].id);
  const path = await scopedPath(root, copy.src, { followFinal: copy.followSymlinks });
  return lstatOrUndefined(path)?.isDirectory ? path : undefined;
}

/**
 * Creates the destination and its parents in the diff, then links the
 * source's contents into it. Returns undefined when the destination, as the
 * base resolves it, is not a directory or cannot be created as one.
 */
async function linkIntoDiff(
  copy: FileActionCopy,
  sourceDir: string,
  base: VertexResult | undefined,
  active: ActiveSnapshot,
  context: RunContext,
): Promise<LinkCounts | undefined> {
  const lowerDirs = await lowerDirsOf(context.store, base?.snapshot);
  const view = lowerDirs.length > 0
    ? await withReadonlyView(context.store, base?.snapshot, context.store.temporaryDir)
    : undefined;
  try {
    // The base resolves the destination, symlinks included, the way a copy through an overlay does.
    const baseRoot = view?.dir ?? active.dir;
    const dest = copy.dest.startsWith("/") ? copy.dest : `/${copy.dest}`;
    const resolved = await scopedPath(baseRoot, dest, { followFinal: true });
    const names = resolved.slice(baseRoot.length).split("/").filter(Boolean);
    const destDir = createDestination(names, view?.dir, active.dir);
    if (destDir === undefined) return undefined;

    const linker = new TreeLinker(context.signal);
    const baseDest = view ? `${view.dir}/${names.join("/")}` : undefined;
    await linker.children(sourceDir, destDir, baseDest);
    return linker.counts;
  } finally {
    await view?.release();
  }
}

/**
 * Creates the directories of `names` in `diffDir` as a copy through an
 * overlay would leave them, and returns the last one's path. A directory the
 * base has gets the base's owner and mode, and its times unless an entry is
 * created directly in it. A missing one gets mode 0755 and owner root, as the
 * copy's parents do. Returns undefined when the base has a non-directory on
 * the path.
 */
function createDestination(
  names: string[],
  baseRoot: string | undefined,
  diffDir: string,
): string | undefined {
  const existing: Array<{ path: string; info: Deno.FileInfo }> = [];
  let path = diffDir;
  for (const [index, name] of names.entries()) {
    path = `${path}/${name}`;
    const info = baseRoot
      ? lstatOrUndefined(`${baseRoot}/${names.slice(0, index + 1).join("/")}`)
      : undefined;
    if (info && !info.isDirectory) return undefined;
    Deno.mkdirSync(path);
    if (info) {
      Deno.chownSync(path, info.uid, info.gid);
      Deno.chmodSync(path, (info.mode ?? 0o755) & 0o7777);
      existing.push({ path, info });
    } else {
      Deno.chmodSync(path, 0o755);
    }
  }
  // The deepest existing directory receives a new entry, so only the ones above keep their times.
  for (const { path, info } of existing.slice(0, -1)) {
    if (info.atime && info.mtime) Deno.utimeSync(path, info.atime, info.mtime);
  }
  return path;
}

/** Links a source tree into a diff, merging into the directories the base already has. */
class TreeLinker {
  readonly counts: LinkCounts = { linked: 0, copied: 0 };
  readonly #signal: AbortSignal;
  #sliceStart = performance.now();

  constructor(signal: AbortSignal) {
    this.#signal = signal;
  }

  /**
   * Writes the entries of `source` into the diff directory `dest`. `base` is
   * the same directory in the base's view, when the base has it.
   */
  async children(source: string, dest: string, base: string | undefined): Promise<void> {
    for (const entry of Deno.readDirSync(source)) {
      await this.#pause();
      const from = `${source}/${entry.name}`;
      const to = `${dest}/${entry.name}`;
      const info = Deno.lstatSync(from);
      const baseInfo = base ? lstatOrUndefined(`${base}/${entry.name}`) : undefined;
      const baseChild = baseInfo?.isDirectory ? `${base}/${entry.name}` : undefined;
      if (info.isDirectory) await this.#directory(from, to, info, baseChild, baseInfo);
      else if (info.isFile) this.#file(from, to, info);
      else if (info.isSymlink) {
        Deno.symlinkSync(Deno.readLinkSync(from), to);
        lchown(to, info.uid ?? 0, info.gid ?? 0);
        if (info.mtime) lutimes(to, info.atime ?? info.mtime, info.mtime);
      }
      // NOTE: whiteouts, sockets, FIFOs and device nodes are not copied, as in `_copy.ts`.
    }
  }

  /** Writes directory `from` as `to`, merging with `base`, the base's directory of that name. */
  async #directory(
    from: string,
    to: string,
    info: Deno.FileInfo,
    base: string | undefined,
    baseInfo: Deno.FileInfo | undefined,
  ): Promise<void> {
    Deno.mkdirSync(to);
    const merge = base !== undefined && baseInfo !== undefined;
    // An overlay makes a directory that replaces a file or symlink opaque, so this does too.
    if (baseInfo && !merge) markOpaque(to);
    await this.children(from, to, base);
    // As in `_copy.ts`, a directory that already exists keeps its owner and mode.
    const owner = merge ? baseInfo! : info;
    Deno.chownSync(to, owner.uid, owner.gid);
    Deno.chmodSync(to, (owner.mode ?? 0o755) & 0o7777);
    if (info.mtime) Deno.utimeSync(to, info.atime ?? info.mtime, info.mtime);
  }

  #file(from: string, to: string, info: Deno.FileInfo): void {
    try {
      Deno.linkSync(from, to);
      this.counts.linked++;
      return;
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (code !== "EMLINK" && code !== "EXDEV") throw error;
    }
    // The inode has as many links as the file system allows, or lives on another file system.
    Deno.copyFileSync(from, to);
    Deno.chownSync(to, info.uid, info.gid);
    Deno.chmodSync(to, (info.mode ?? 0o644) & 0o7777);
    if (info.mtime) Deno.utimeSync(to, info.atime ?? info.mtime, info.mtime);
    this.counts.copied++;
  }

  async #pause(): Promise<void> {
    if (performance.now() - this.#sliceStart < SLICE_MS) return;
    await yieldToEventLoop();
    this.#sliceStart = performance.now();
    this.#signal.throwIfAborted();
  }
}

function lstatOrUndefined(path: string): Deno.FileInfo | undefined {
  try {
    return Deno.lstatSync(path);
  } catch {
    return undefined;
  }
}
