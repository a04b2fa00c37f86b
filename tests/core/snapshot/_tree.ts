/**
 * Test helpers that build diff directories and describe directory trees.
 *
 * @module
 */

import { join } from "../../../core/deps.ts";
import { createWhiteout, isOpaque, isWhiteout } from "../../../core/snapshot/whiteout.ts";

/** Writes `content` to `root/path`, creating parent directories. */
export async function writeFile(
  root: string,
  path: string,
  content: string,
  mode = 0o644,
): Promise<void> {
  const full = join(root, path);
  await Deno.mkdir(join(full, ".."), { recursive: true });
  await Deno.writeTextFile(full, content);
  await Deno.chmod(full, mode);
}

/** Creates a whiteout for `root/path`, creating parent directories. */
export async function whiteout(root: string, path: string): Promise<void> {
  const full = join(root, path);
  await Deno.mkdir(join(full, ".."), { recursive: true });
  createWhiteout(full);
}

/**
 * Describes every entry under `root` as one line per relative path. A line
 * gives type, mode and owner, then modification time and content for files
 * or the target for symlinks. Whiteouts and opaque directories are marked.
 */
export async function describeTree(
  root: string,
  options: { times?: boolean } = {},
): Promise<Record<string, string>> {
  const result: Record<string, string> = {};
  await describeInto(root, "", result, options.times ?? true);
  return result;
}

async function describeInto(
  root: string,
  path: string,
  result: Record<string, string>,
  times: boolean,
) {
  const names: string[] = [];
  for await (const entry of Deno.readDir(join(root, path))) names.push(entry.name);
  for (const name of names.sort()) {
    const relative = path === "" ? name : `${path}/${name}`;
    const full = join(root, relative);
    const info = await Deno.lstat(full);
    const owner = `${((info.mode ?? 0) & 0o7777).toString(8)} ${info.uid}:${info.gid}`;
    const time = times && !info.isSymlink ? ` ${info.mtime?.getTime()}` : "";
    if (isWhiteout(info)) {
      result[relative] = "whiteout";
    } else if (info.isDirectory) {
      result[relative] = `dir ${owner}${isOpaque(full) ? " opaque" : ""}${time}`;
      await describeInto(root, relative, result, times);
    } else if (info.isSymlink) {
      result[relative] = `symlink ${owner} -> ${await Deno.readLink(full)}`;
    } else if (info.isFile) {
      result[relative] = `file ${owner}${time} ${JSON.stringify(await Deno.readTextFile(full))}`;
    } else {
      result[relative] = `special ${owner} ${info.isFifo ? "fifo" : info.rdev}`;
    }
  }
}
