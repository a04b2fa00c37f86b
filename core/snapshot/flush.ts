/**
 * Flushing a diff directory's entries to disk, so that a snapshot committed
 * after it keeps its content through a power loss.
 *
 * @module
 */

import { syncFilesystem } from "./_libc.ts";

/**
 * Entries up to which each file and directory is flushed on its own. A larger
 * tree is flushed with one syncfs(2) of its file system instead, which also
 * writes out whatever other processes left unwritten there.
 */
export const MAX_ENTRIES_FLUSHED_SEPARATELY = 64;

/**
 * Flushes the regular files and directories under `dir`, `dir` included, to
 * disk. Symbolic links, whiteouts and other special files are names and
 * inodes without data, made durable by flushing the directory that lists them.
 */
export async function flushTree(dir: string): Promise<void> {
  const paths = listFlushable(dir, MAX_ENTRIES_FLUSHED_SEPARATELY + 1);
  if (paths.length > MAX_ENTRIES_FLUSHED_SEPARATELY) return await syncFilesystem(dir);
  await Promise.all(paths.map(flushPath));
}

/** Returns the directories and regular files under `dir`, stopping once `limit` are found. */
function listFlushable(dir: string, limit: number): string[] {
  const directories = [dir];
  const files: string[] = [];
  // The walk stops at `limit` entries, so its synchronous calls stay few.
  for (let index = 0; index < directories.length; index++) {
    for (const entry of Deno.readDirSync(directories[index])) {
      const path = `${directories[index]}/${entry.name}`;
      if (entry.isDirectory) directories.push(path);
      else if (entry.isFile) files.push(path);
      if (directories.length + files.length >= limit) return [...directories, ...files];
    }
  }
  return [...directories, ...files];
}

async function flushPath(path: string): Promise<void> {
  using file = await Deno.open(path, { read: true });
  await file.sync();
}
