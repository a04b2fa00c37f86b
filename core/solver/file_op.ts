/**
 * Runs a file op: copy, mkdir, mkfile and rm actions applied in order to the
 * base input's filesystem, with the changes committed as a new snapshot.
 *
 * @module
 */

import type { FileAction, FileOp } from "../graph/gen/tsbuild/graph/v1/definition_pb.ts";
import { InvalidInputError, NotFoundError } from "../errors.ts";
import type { RunContext } from "./_run_context.ts";
import { lowerDirsOf, type View, withReadonlyView, withWritableView } from "./_views.ts";
import type { VertexResult } from "./solver.ts";
import { copyAction } from "./_copy.ts";
import { runLinkedCopy } from "./_linked_copy.ts";
import { resolveOwner } from "./_owner.ts";
import { expandWildcard, hasWildcard, scopedPath } from "../fs/scoped_path.ts";

/** Runs `op` and returns the id of the snapshot holding its changes. */
export async function runFileOp(
  op: FileOp,
  inputs: VertexResult[],
  context: RunContext,
): Promise<string | undefined> {
  const linked = await runLinkedCopy(op, inputs, context);
  if (linked !== undefined) return linked;

  const base = op.baseInput >= 0 ? inputs[op.baseInput] : undefined;
  const lowerDirs = await lowerDirsOf(context.store, base?.snapshot);
  const views = new Map<number, View>();
  const active = await context.store.snapshots.prepare();
  try {
    await withWritableView(lowerDirs, active.dir, async (root) => {
      for (const action of op.actions) {
        if (context.signal.aborted) throw context.signal.reason;
        await applyAction(action, root, async (index) => {
          let view = views.get(index);
          if (!view) {
            view = await withReadonlyView(
              context.store,
              inputs[index]?.snapshot,
              context.store.temporaryDir,
            );
            views.set(index, view);
          }
          return view.dir;
        });
      }
    });
    return (await active.commit({ parent: base?.snapshot, kind: "file" })).id;
  } catch (error) {
    await active.abort();
    throw error;
  } finally {
    for (const view of views.values()) await view.release();
  }
}

async function applyAction(
  action: FileAction,
  root: string,
  sourceRoot: (input: number) => Promise<string>,
) {
  switch (action.action.case) {
    case "copy":
      return copyAction(action.action.value, root, await sourceRoot(action.action.value.input));
    case "mkdir": {
      const { path, mode, makeParents, owner } = action.action.value;
      const target = await scopedPath(root, path);
      const ids = await resolveOwner(root, owner);
      await Deno.mkdir(target, { recursive: makeParents, mode: mode || 0o755 });
      await Deno.chmod(target, mode || 0o755);
      if (ids) await Deno.chown(target, ids.uid, ids.gid);
      return;
    }
    case "mkfile": {
      const { path, mode, data, owner } = action.action.value;
      const target = await scopedPath(root, path);
      const ids = await resolveOwner(root, owner);
      await Deno.writeFile(target, data, { mode: mode || 0o644 });
      await Deno.chmod(target, mode || 0o644);
      if (ids) await Deno.chown(target, ids.uid, ids.gid);
      return;
    }
    case "rm":
      return removeAction(action.action.value, root);
    default:
      throw new InvalidInputError("Invalid file op: an action has no kind");
  }
}

async function removeAction(
  rm: { path: string; allowNotFound: boolean; allowWildcard: boolean },
  root: string,
) {
  const targets = rm.allowWildcard && hasWildcard(rm.path)
    ? await expandWildcard(root, rm.path)
    : [await scopedPath(root, rm.path)];
  if (targets.length === 0 && !rm.allowNotFound) {
    throw new NotFoundError(`Failed to remove "${rm.path}": no such file`);
  }
  for (const target of targets) {
    try {
      await Deno.remove(target, { recursive: true });
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound) || !rm.allowNotFound) {
        throw new NotFoundError(`Failed to remove "${rm.path}": ${(error as Error).message}`, {
          cause: error,
        });
      }
    }
  }
}
