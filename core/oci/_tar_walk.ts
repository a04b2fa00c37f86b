/**
 * A depth-first walk of a directory tree in the order layer tars list entries:
 * each directory before its children, siblings sorted by their UTF-8 bytes.
 *
 * @module
 */

import { adviseWillRead } from "../fs/file_reader.ts";
import { compareNames, joinRoot } from "./_tar_paths.ts";

/** One entry found by {@linkcode walkSorted}. */
export interface WalkEntry {
  /** Path relative to the walked root. */
  path: string;
  /** Path on disk. */
  absolute: string;
}

interface DirectoryListing {
  dir: string;
  entries: Deno.DirEntry[];
  index: number;
  /** Entries before this index have had their files advised for reading. */
  advised: number;
}

/** Files of a directory advised for reading ahead of the one being packed. */
const READ_AHEAD_FILES = 32;

function listSorted(root: string, dir: string): DirectoryListing {
  // NOTE: Deno decodes file names as UTF-8, so a name that is not valid UTF-8 comes back with
  // U+FFFD in it, and packing fails when that entry is read.
  const entries = [...Deno.readDirSync(joinRoot(root, dir))];
  entries.sort((a, b) => compareNames(a.name, b.name));
  return { dir, entries, index: 0, advised: 0 };
}

/**
 * Yields every entry under `root`, the root itself excluded. A directory is
 * read only when the walk resumes after yielding it, so an error reading it
 * follows its own entry. Directories are recognised by the type the directory
 * listing reports, which never follows a symlink.
 */
export function* walkSorted(root: string): Generator<WalkEntry> {
  const stack = [listSorted(root, "")];
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    if (top.index === top.entries.length) {
      stack.pop();
      continue;
    }
    adviseAhead(root, top);
    const entry = top.entries[top.index++];
    const path = top.dir === "" ? entry.name : `${top.dir}/${entry.name}`;
    yield { path, absolute: joinRoot(root, path) };
    if (entry.isDirectory) stack.push(listSorted(root, path));
  }
}

/** Advises the next regular files of `listing` for reading, so their data is read in parallel. */
function adviseAhead(root: string, listing: DirectoryListing): void {
  const end = Math.min(listing.entries.length, listing.index + READ_AHEAD_FILES);
  for (; listing.advised < end; listing.advised++) {
    const entry = listing.entries[listing.advised];
    if (!entry.isFile) continue;
    const path = listing.dir === "" ? entry.name : `${listing.dir}/${entry.name}`;
    adviseWillRead(joinRoot(root, path));
  }
}
