/**
 * Runs a merge op: the first input's snapshot chain with the snapshots of
 * each later input stacked on top, each diff reused as it is.
 *
 * @module
 */

import { join } from "../deps.ts";
import { isOpaque, markOpaque } from "../snapshot/whiteout.ts";
import type { RunContext } from "./_run_context.ts";
import type { VertexResult } from "./solver.ts";

/**
 * Returns the top snapshot of the merged chain. Each snapshot of a later
 * input becomes a new snapshot whose diff contains hard links to the original's
 * files, so nothing is copied and the layer packed from it has the same
 * digest as the original's. Layer blobs already recorded on the original are
 * recorded on the copy too.
 */
export async function runMergeOp(
  inputs: VertexResult[],
  context: RunContext,
): Promise<string | undefined> {
  let parent = inputs[0]?.snapshot;
  for (const input of inputs.slice(1)) {
    for (const info of await context.store.snapshots.chain(input.snapshot)) {
      context.signal.throwIfAborted();
      const active = await context.store.snapshots.prepare();
      try {
        await linkTree(context.store.snapshots.diffDir(info.id), active.dir);
        const layers = info.layers;
        parent = (await active.commit({ parent, kind: "merge", ...(layers ? { layers } : {}) })).id;
      } catch (error) {
        await active.abort();
        throw error;
      }
    }
  }
  return parent;
}

// Snapshots are never modified once committed, which is what makes sharing their files safe.
// Directories are recreated (a directory cannot be hard linked) with their owner, mode, times
// and overlay opaque marker; everything else, whiteouts included, is linked.
async function linkTree(source: string, target: string): Promise<void> {
  const info = await Deno.lstat(source);
  await Deno.chown(target, info.uid, info.gid);
  await Deno.chmod(target, (info.mode ?? 0o755) & 0o7777);
  if (isOpaque(source)) markOpaque(target);

  for await (const entry of Deno.readDir(source)) {
    const from = join(source, entry.name);
    const to = join(target, entry.name);
    if (entry.isDirectory) {
      await Deno.mkdir(to);
      await linkTree(from, to);
    } else {
      await Deno.link(from, to);
    }
  }
  if (info.atime && info.mtime) await Deno.utime(target, info.atime, info.mtime);
}
