/**
 * Parses the git objects a checkout reads: commits (tree, parents, commit
 * time) and trees (entries with mode, name and id).
 *
 * @module
 */

import { toHex } from "./_git_pack.ts";

/** The fields of a commit that a checkout reads. */
export interface Commit {
  tree: string;
  parents: string[];
  /** Committer time in seconds since the epoch. */
  time: number;
}

/** One entry of a tree. */
export interface TreeEntry {
  /** Git mode, e.g. 0o100644, 0o100755, 0o120000, 0o40000 or 0o160000. */
  mode: number;
  name: string;
  oid: string;
  type: "tree" | "blob" | "commit";
}

/** Parses a commit object's headers. Throws a `RangeError` when it has no tree or committer. */
export function parseCommit(data: Uint8Array): Commit {
  const text = new TextDecoder().decode(data);
  const end = text.indexOf("\n\n");
  const headers = (end < 0 ? text : text.slice(0, end)).split("\n");
  let tree: string | undefined;
  let time: number | undefined;
  const parents: string[] = [];
  for (const line of headers) {
    if (line.startsWith("tree ")) tree = line.slice(5);
    else if (line.startsWith("parent ")) parents.push(line.slice(7));
    else if (line.startsWith("committer ")) {
      const match = /> (-?\d+) [+-]\d{4}$/.exec(line);
      if (match) time = Number(match[1]);
    }
  }
  if (!tree || time === undefined) throw new RangeError("commit has no tree or committer time");
  return { tree, parents, time };
}

/** Parses a tree object. Throws a `RangeError` when an entry is cut short. */
export function parseTree(data: Uint8Array): TreeEntry[] {
  const entries: TreeEntry[] = [];
  const decoder = new TextDecoder();
  let position = 0;
  while (position < data.length) {
    const space = data.indexOf(0x20, position);
    const nul = data.indexOf(0, space + 1);
    if (space < 0 || nul < 0 || nul + 21 > data.length) {
      throw new RangeError("tree entry is cut short");
    }
    const mode = parseInt(decoder.decode(data.subarray(position, space)), 8);
    const name = decoder.decode(data.subarray(space + 1, nul));
    const oid = toHex(data.subarray(nul + 1, nul + 21));
    entries.push({ mode, name, oid, type: typeOfMode(mode) });
    position = nul + 21;
  }
  return entries;
}

function typeOfMode(mode: number): TreeEntry["type"] {
  if (mode === 0o40000) return "tree";
  if (mode === 0o160000) return "commit";
  return "blob";
}
