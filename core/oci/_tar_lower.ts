/**
 * Looking up a path in the lower layers of a diff directory the way overlayfs
 * would show it, honouring whiteouts and opaque directories.
 *
 * @module
 */

import { lstatIfExists } from "../fs/lstat.ts";
import { PathEscapeError } from "../errors.ts";
import { isOpaque, isWhiteout } from "../snapshot/whiteout.ts";
import { joinRoot } from "./_tar_paths.ts";

/** An entry found in a lower layer: its path on disk and its `lstat` information. */
export interface LowerEntry {
  path: string;
  info: Deno.FileInfo;
}

/** Result of a lookup in one layer: found there, hidden from the layers below, or absent. */
type LayerAnswer = LowerEntry | "hidden" | "absent";

/**
 * Looks `path` up in the single layer `root`. A whiteout or a non-directory on
 * the way hides the path from every layer below, and so does an opaque
 * directory on the way when this layer does not have the path itself.
 */
function lookUpInLayer(root: string, parts: string[]): LayerAnswer {
  let hidesBelow = false;
  for (let i = 0; i < parts.length; i++) {
    const relative = parts.slice(0, i + 1).join("/");
    const path = joinRoot(root, relative);
    const info = lstatIfExists(path);
    if (info === undefined) return hidesBelow ? "hidden" : "absent";
    if (isWhiteout(info)) return "hidden";
    if (i === parts.length - 1) return { path, info };
    if (info.isSymlink) {
      // The merged view would follow this symlink, possibly out of the image; the
      // codec never resolves symlinks, so it reports the path instead.
      throw new PathEscapeError(`lower layer path "${relative}" is a symlink`, {
        data: { path: relative },
      });
    }
    if (!info.isDirectory) return "hidden";
    if (isOpaque(path)) hidesBelow = true;
  }
  return "absent";
}

/**
 * Returns the entry `path`, a clean relative path, as the merged view of
 * `lowerDirs` would show it, or undefined when no lower layer has it.
 * `lowerDirs` lists the layers bottom-most first, so the last one wins.
 *
 * @throws {PathEscapeError} when a parent component in the deciding layer is a symlink.
 */
export function findInLowers(lowerDirs: readonly string[], path: string): LowerEntry | undefined {
  if (path === "") return undefined;
  const parts = path.split("/");
  for (let i = lowerDirs.length - 1; i >= 0; i--) {
    const answer = lookUpInLayer(lowerDirs[i], parts);
    if (answer === "hidden") return undefined;
    if (answer !== "absent") return answer;
  }
  return undefined;
}
