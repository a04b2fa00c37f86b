/**
 * Mount points that the container runtime creates in the root file system and
 * that are removed after the run, so they do not end up in the step's diff.
 *
 * @module
 */

import { join } from "../deps.ts";
import { lstatOrUndefined, resolveInRoot } from "./_root_path.ts";

interface Stub {
  /** Host paths the runtime will create, shallowest first. */
  created: string[];
  /** Existing directory the first of them goes into, with its times before the run. */
  parent: { path: string; info: Deno.FileInfo };
}

/** The mount points recorded before a run; `remove` undoes them after it. */
export interface MountStubs {
  /** Removes the recorded paths that are still empty and restores their parents' times. */
  remove(): Promise<void>;
}

/**
 * Records which parts of each of `destinations` (container paths) do not
 * exist yet in the root file system at `rootfs`.
 *
 * After the run, `remove` deletes each recorded path that is an empty
 * directory or an empty file, deepest first, and sets the parent directories'
 * times back to their values before the run, which the runtime's mkdir
 * changed. A path the process wrote into is kept.
 *
 * NOTE: the times are set back even when the process itself also changed the
 * parent directory during the run.
 */
export async function recordMountStubs(
  rootfs: string,
  destinations: string[],
): Promise<MountStubs> {
  const stubs: Stub[] = [];
  for (const destination of new Set(destinations)) {
    const stub = await findStub(rootfs, destination);
    if (stub) stubs.push(stub);
  }
  return { remove: () => removeStubs(stubs) };
}

async function findStub(rootfs: string, destination: string): Promise<Stub | undefined> {
  const names = destination.split("/").filter((name) => name !== "" && name !== ".");
  let parentPath = rootfs;
  for (let index = 0; index < names.length; index++) {
    const hostPath = await resolveInRoot(rootfs, names.slice(0, index + 1).join("/"));
    if (await lstatOrUndefined(hostPath)) {
      parentPath = hostPath;
      continue;
    }

    const parentInfo = await lstatOrUndefined(parentPath);
    if (!parentInfo?.isDirectory) return undefined;
    const created: string[] = [];
    let path = parentPath;
    for (const name of names.slice(index)) {
      path = join(path, name);
      created.push(path);
    }
    return { created, parent: { path: parentPath, info: parentInfo } };
  }
  return undefined;
}

async function removeStubs(stubs: Stub[]): Promise<void> {
  const byDepth = [...stubs].sort((a, b) => b.created.length - a.created.length);
  for (const stub of byDepth) {
    for (const path of [...stub.created].reverse()) {
      if (!await removeIfEmpty(path)) break;
    }
  }

  const parents = new Map(stubs.map((stub) => [stub.parent.path, stub.parent.info]));
  for (const [path, info] of parents) {
    if (!await lstatOrUndefined(path) || !info.atime || !info.mtime) continue;
    await Deno.utime(path, info.atime, info.mtime);
  }
}

/** Removes `path` when it is missing, an empty directory or an empty file; reports whether it is gone. */
async function removeIfEmpty(path: string): Promise<boolean> {
  const info = await lstatOrUndefined(path);
  if (!info) return true;
  if (info.isFile && info.size === 0) {
    await Deno.remove(path);
    return true;
  }
  if (!info.isDirectory) return false;
  for await (const _ of Deno.readDir(path)) return false;
  await Deno.remove(path);
  return true;
}
