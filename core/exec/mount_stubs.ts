/**
 * Mount points that the container runtime creates in the root file system and
 * that are removed after the run, so they do not end up in the step's diff.
 *
 * @module
 */

import { join } from "../deps.ts";
import { lstatIfExists } from "../fs/lstat.ts";
import { resolveInRoot } from "./_root_path.ts";

interface Stub {
  /** Host paths the runtime will create, shallowest first. */
  created: string[];
  /** Existing directory the first of them goes into, with its times before the run. */
  parent: { path: string; info: Deno.FileInfo };
}

/** The mount points recorded before a run; `remove` undoes them after it. */
export interface MountStubs {
  /** Removes the recorded paths that are still empty and restores their parents' times. */
  remove(): void;
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
 *
 * The calls are synchronous, as those of `_root_path.ts` are.
 */
export function recordMountStubs(rootfs: string, destinations: string[]): MountStubs {
  const stubs: Stub[] = [];
  for (const destination of new Set(destinations)) {
    const stub = findStub(rootfs, destination);
    if (stub) stubs.push(stub);
  }
  return { remove: () => removeStubs(stubs) };
}

function findStub(rootfs: string, destination: string): Stub | undefined {
  const names = destination.split("/").filter((name) => name !== "" && name !== ".");
  let parentPath = rootfs;
  for (let index = 0; index < names.length; index++) {
    const hostPath = resolveInRoot(rootfs, names.slice(0, index + 1).join("/"));
    if (lstatIfExists(hostPath)) {
      parentPath = hostPath;
      continue;
    }

    const parentInfo = lstatIfExists(parentPath);
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

function removeStubs(stubs: Stub[]): void {
  const byDepth = [...stubs].sort((a, b) => b.created.length - a.created.length);
  for (const stub of byDepth) {
    for (const path of [...stub.created].reverse()) {
      if (!removeIfEmpty(path)) break;
    }
  }

  const parents = new Map(stubs.map((stub) => [stub.parent.path, stub.parent.info]));
  for (const [path, info] of parents) {
    if (!lstatIfExists(path) || !info.atime || !info.mtime) continue;
    Deno.utimeSync(path, info.atime, info.mtime);
  }
}

/** Removes `path` when it is missing, an empty directory or an empty file; reports whether it is gone. */
function removeIfEmpty(path: string): boolean {
  const info = lstatIfExists(path);
  if (!info) return true;
  if (info.isFile && info.size === 0) {
    Deno.removeSync(path);
    return true;
  }
  if (!info.isDirectory) return false;
  for (const _ of Deno.readDirSync(path)) return false;
  Deno.removeSync(path);
  return true;
}
