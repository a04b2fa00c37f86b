/**
 * Runs a file op: copy, mkdir, mkfile and rm actions applied in order to the
 * base input's filesystem, with the changes committed as a new snapshot.
 *
 * @module
 */

import type { FileOp } from "../graph/gen/tsbuild/graph/v1/definition_pb.ts";
import type { RunContext } from "./_run_context.ts";
import { lowerDirsOf, type View, withSourceView, withWritableView } from "./_views.ts";
import type { VertexResult } from "./solver.ts";
import { applyAction } from "./_file_actions.ts";
import { runDirectFileOp } from "./_direct_file_op.ts";
import { runLinkedCopy } from "./_linked_copy.ts";

/**
 * Runs `op` and returns the id of the snapshot holding its changes. An op
 * that only adds entries the base lacks is written straight into the new
 * diff; any other goes through an overlay, as {@linkcode runFileOpOnOverlay}
 * does. Both paths leave the same diff.
 */
export async function runFileOp(
  op: FileOp,
  inputs: VertexResult[],
  context: RunContext,
): Promise<string | undefined> {
  const linked = await runLinkedCopy(op, inputs, context);
  if (linked !== undefined) return linked;

  return await withSourceViews(
    inputs,
    context,
    async (sourceRoot) =>
      await runDirectFileOp(op, inputs, context, sourceRoot) ??
        await applyOnOverlay(op, inputs, context, sourceRoot),
  );
}

/**
 * Runs `op` through a writable overlay of its base, which records every
 * change in the new diff, and returns the new snapshot's id.
 */
export async function runFileOpOnOverlay(
  op: FileOp,
  inputs: VertexResult[],
  context: RunContext,
): Promise<string | undefined> {
  return await withSourceViews(
    inputs,
    context,
    (sourceRoot) => applyOnOverlay(op, inputs, context, sourceRoot),
  );
}

/** Calls `fn` with a function that opens copy sources' views on demand, released afterwards. */
async function withSourceViews<T>(
  inputs: VertexResult[],
  context: RunContext,
  fn: (sourceRoot: (input: number) => Promise<string>) => Promise<T>,
): Promise<T> {
  const views = new Map<number, View>();
  const sourceRoot = async (index: number) => {
    let view = views.get(index);
    if (!view) {
      view = await withSourceView(context.store, inputs[index]?.snapshot);
      views.set(index, view);
    }
    return view.dir;
  };
  try {
    return await fn(sourceRoot);
  } finally {
    for (const view of views.values()) await view.release();
  }
}

async function applyOnOverlay(
  op: FileOp,
  inputs: VertexResult[],
  context: RunContext,
  sourceRoot: (input: number) => Promise<string>,
): Promise<string | undefined> {
  const base = op.baseInput >= 0 ? inputs[op.baseInput] : undefined;
  const lowerDirs = await lowerDirsOf(context.store, base?.snapshot);
  const active = await context.store.snapshots.prepare();
  try {
    await withWritableView(lowerDirs, active.dir, async (root) => {
      for (const action of op.actions) {
        if (context.signal.aborted) throw context.signal.reason;
        await applyAction(action, root, sourceRoot);
      }
    });
    return (await active.commit({ parent: base?.snapshot, kind: "file" })).id;
  } catch (error) {
    await active.abort();
    throw error;
  }
}
