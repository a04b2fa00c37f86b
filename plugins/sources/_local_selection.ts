/**
 * Digests of the parts of a local directory that copy sources select, found
 * in its Merkle tree the way a copy finds them on disk.
 *
 * @module
 */

import { createHash } from "../../core/deps.ts";
import type { Digest } from "../../core/digest.ts";
import { globSegment, hasWildcard } from "../../core/fs/scoped_path.ts";
import type { DirectoryEntry, TreeEntry } from "./_local_tree.ts";

/** Symlink hops allowed while resolving one path, as in `scopedPath`. */
const MAX_SYMLINK_HOPS = 255;

/** One entry a pattern selects: its resolved path from the root and the entry. */
interface Selected {
  names: string[];
  entry: TreeEntry;
}

/**
 * Returns the digest of what `patterns` select in `tree`. Each pattern is a
 * path relative to the root, or a wildcard with `*`, `?` and `[...]` within
 * one path segment. For every pattern, in order, the digest covers the
 * resolved path and digest of each selected entry, and for a selected
 * symlink the digest of what it points to, because a copy may follow it.
 * Spellings of one path ("a", "/a", "./a") give one digest, and a pattern
 * that selects nothing contributes a count of zero, so the result is stable
 * and the copy reports the missing path itself.
 */
export function selectionDigest(tree: DirectoryEntry, patterns: string[]): Digest {
  const hash = createHash("sha256");
  hash.update("tsbuild local selection v1\0");
  for (const pattern of patterns) {
    const selected = selectPattern(tree, pattern);
    hash.update(`pattern\0${selected.length}\0`);
    for (const { names, entry } of selected) {
      const followed = entry.kind === "symlink"
        ? lookup(tree, resolve(tree, names, true))?.digest ?? "-"
        : "-";
      hash.update(`${names.join("/")}\0${entry.digest}\0${followed}\0`);
    }
  }
  return `sha256:${hash.digest("hex")}`;
}

/**
 * Expands `pattern` against the tree segment by segment: a literal segment
 * follows symlinks unless it is the last one, and a wildcard segment lists
 * the (resolved) directory it applies to, in name order.
 */
function selectPattern(tree: DirectoryEntry, pattern: string): Selected[] {
  const segments = splitPath(pattern);
  let current: string[][] = [[]];
  for (const [index, segment] of segments.entries()) {
    const isFinal = index === segments.length - 1;
    const next: string[][] = [];
    for (const dir of current) {
      if (segment === "..") {
        next.push(dir.slice(0, -1));
      } else if (!hasWildcard(segment)) {
        const names = resolve(tree, [...dir, segment], !isFinal);
        if (lookup(tree, names)) next.push(names);
      } else {
        next.push(...matchChildren(tree, dir, globSegment(segment)));
      }
    }
    current = next;
  }

  const selected: Selected[] = [];
  for (const names of current) {
    const entry = lookup(tree, names);
    if (entry) selected.push({ names, entry });
  }
  return selected;
}

function matchChildren(tree: DirectoryEntry, dir: string[], matcher: RegExp): string[][] {
  const parentNames = resolve(tree, dir, true);
  const parent = lookup(tree, parentNames);
  if (parent?.kind !== "dir") return [];
  const matched: string[][] = [];
  for (const name of parent.children.keys()) {
    if (matcher.test(name)) matched.push([...parentNames, name]);
  }
  return matched;
}

/**
 * Resolves `segments` inside the tree as if its root were `/`: `..` stops at
 * the root, and symlinks in the path are followed, the final one only with
 * `followFinal`. Returns the resolved names, which may not exist.
 */
function resolve(tree: DirectoryEntry, segments: string[], followFinal: boolean): string[] {
  const pending = [...segments];
  const resolved: string[] = [];
  let hops = 0;
  while (pending.length > 0) {
    const segment = pending.shift()!;
    if (segment === "..") {
      resolved.pop();
      continue;
    }
    const entry = lookup(tree, [...resolved, segment]);
    const isFinal = pending.length === 0;
    if (entry?.kind !== "symlink" || (isFinal && !followFinal) || ++hops > MAX_SYMLINK_HOPS) {
      resolved.push(segment);
      continue;
    }
    if (entry.target.startsWith("/")) resolved.length = 0;
    pending.unshift(...splitPath(entry.target));
  }
  return resolved;
}

function lookup(tree: DirectoryEntry, names: string[]): TreeEntry | undefined {
  let entry: TreeEntry | undefined = tree;
  for (const name of names) {
    if (entry?.kind !== "dir") return undefined;
    entry = entry.children.get(name);
  }
  return entry;
}

function splitPath(path: string): string[] {
  return path.split("/").filter((part) => part !== "" && part !== ".");
}
