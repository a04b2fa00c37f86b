/**
 * Container paths resolved to host paths under a root file system, following
 * symlinks as the container would see them, so none leads outside the root.
 *
 * @module
 */

import { join } from "../deps.ts";

/** The maximum number of symlinks followed in one resolution, as Linux's MAXSYMLINKS. */
const MAX_SYMLINKS = 40;

/**
 * Resolves the container path `path` to a host path under `root`. Symlinks
 * are followed with `root` as "/", and ".." stops at `root`. Components that
 * do not exist are kept as written.
 *
 * @throws {Error} when more than 40 symlinks are followed
 */
export async function resolveInRoot(root: string, path: string): Promise<string> {
  let resolved: string[] = [];
  let pending = path.split("/");
  let followed = 0;
  while (pending.length > 0) {
    const name = pending.shift()!;
    if (name === "" || name === ".") continue;
    if (name === "..") {
      resolved.pop();
      continue;
    }

    const hostPath = join(root, ...resolved, name);
    const info = await lstatOrUndefined(hostPath);
    if (!info?.isSymlink) {
      resolved.push(name);
      continue;
    }

    followed++;
    if (followed > MAX_SYMLINKS) {
      throw new Error(
        `Failed to resolve "${path}" in the root file system: too many levels of symbolic links`,
      );
    }
    const target = await Deno.readLink(hostPath);
    if (target.startsWith("/")) resolved = [];
    pending = [...target.split("/"), ...pending];
  }
  return join(root, ...resolved);
}

/**
 * Creates the directory `path` and its missing parents in the root file
 * system, each owned by `uid`:`gid` with mode 0755, and returns its host path.
 *
 * @throws {Error} when a component of `path` exists and is not a directory
 */
export async function mkdirInRoot(
  root: string,
  path: string,
  uid: number,
  gid: number,
): Promise<string> {
  const names = path.split("/").filter((name) => name !== "" && name !== ".");
  let hostPath = root;
  for (let index = 1; index <= names.length; index++) {
    hostPath = await resolveInRoot(root, names.slice(0, index).join("/"));
    const info = await lstatOrUndefined(hostPath);
    if (info?.isDirectory) continue;
    if (info) {
      throw new Error(
        `Failed to create directory "${path}": "/${
          names.slice(0, index).join("/")
        }" is not a directory`,
      );
    }
    await Deno.mkdir(hostPath);
    await Deno.chown(hostPath, uid, gid);
    await Deno.chmod(hostPath, 0o755);
  }
  return hostPath;
}

/** Returns `Deno.lstat(path)`, or undefined when nothing exists there. */
export async function lstatOrUndefined(path: string): Promise<Deno.FileInfo | undefined> {
  try {
    return await Deno.lstat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
      return undefined;
    }
    throw error;
  }
}
