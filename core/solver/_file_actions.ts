/**
 * The actions of a file op (copy, mkdir, mkfile, rm), each applied to a
 * root filesystem directory.
 *
 * @module
 */

import { lstatIfExists } from "../fs/lstat.ts";
import type { FileAction } from "../graph/gen/tsbuild/graph/v1/definition_pb.ts";
import { InvalidInputError, NotFoundError, TsbuildError } from "../errors.ts";
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
  try {
    return await applyActionUnchecked(action, root, sourceRoot);
  } catch (error) {
    throw describeFailure(action, error);
  }
}

/**
 * Turns a system error of an action into one that names the path in the
 * image, as the Dockerfile wrote it, instead of the store paths the system
 * call saw. Errors tsbuild raised itself already name what failed.
 */
function describeFailure(action: FileAction, error: unknown): unknown {
  if (!(error instanceof Error) || error instanceof TsbuildError) return error;
  const value = action.action.value;
  if (!value) return error;
  const [verb, path] = action.action.case === "copy"
    ? [`copy "${(value as { src: string }).src}" to`, (value as { dest: string }).dest]
    : action.action.case === "mkdir"
    ? ["create directory", (value as { path: string }).path]
    : action.action.case === "mkfile"
    ? ["write file", (value as { path: string }).path]
    : ["remove", (value as { path: string }).path];
  const reason = error instanceof Deno.errors.NotADirectory
    ? "a path component of it is not a directory"
    : error instanceof Deno.errors.AlreadyExists
    ? "a file or directory is already there"
    : error instanceof Deno.errors.NotFound
    ? "a parent directory does not exist"
    : error instanceof Deno.errors.PermissionDenied
    ? "permission denied"
    : error instanceof Deno.errors.IsADirectory
    ? "a directory is already there"
    : undefined;
  if (!reason) return error;
  return new InvalidInputError(`Failed to ${verb} "${path}": ${reason}`, {
    cause: error,
    data: { path },
  });
}

async function applyActionUnchecked(
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
      if (makeParents && lstatIfExists(target)?.isDirectory) return;
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
