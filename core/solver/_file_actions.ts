/**
 * The actions of a file op (copy, mkdir, mkfile, rm), each applied to a
 * root filesystem directory.
 *
 * @module
 */

import type { FileAction } from "../graph/gen/tsbuild/graph/v1/definition_pb.ts";
import { InvalidInputError, NotFoundError } from "../errors.ts";
import { copyAction } from "./_copy.ts";
import { resolveOwner } from "./_owner.ts";
import { expandWildcard, hasWildcard, scopedPath } from "../fs/scoped_path.ts";

/**
 * Applies `action` to the filesystem at `root`. `sourceRoot` returns the
 * directory showing a copy's source input.
 */
export async function applyAction(
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
      // An existing directory keeps its mode and owner, as `WORKDIR /tmp` must keep /tmp's 1777.
      if (makeParents && isDirectory(target)) return;
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

function isDirectory(path: string): boolean {
  try {
    return Deno.lstatSync(path).isDirectory;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
      return false;
    }
    throw error;
  }
}
