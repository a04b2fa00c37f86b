/**
 * The Merkle tree of a local directory: one entry per kept path, each with a
 * digest of its type, permission bits, link target or content, and children.
 *
 * @module
 */

import { createHash } from "../../core/deps.ts";
import type { Digest } from "../../core/digest.ts";

/** A regular file, with the stat fields that tell whether it changed since it was hashed. */
export interface FileEntry {
  kind: "file";
  /** Permission bits, including setuid, setgid and sticky (`mode & 0o7777`). */
  mode: number;
  /** Digest of the entry: type, mode and content digest. */
  digest: Digest;
  /** sha256 of the file's bytes. */
  content: Digest;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  ino: number;
}

/** A symbolic link, recorded as its target text and never followed. */
export interface SymlinkEntry {
  kind: "symlink";
  mode: number;
  digest: Digest;
  target: string;
  mtimeMs: number;
  ctimeMs: number;
  ino: number;
}

/** A directory with its kept children, sorted by name. */
export interface DirectoryEntry {
  kind: "dir";
  mode: number;
  digest: Digest;
  children: Map<string, TreeEntry>;
  /**
   * Stat fields. While they are unchanged, the directory lists the same
   * names, because adding, removing or renaming an entry updates its
   * directory's mtime and ctime.
   */
  mtimeMs: number;
  ctimeMs: number;
  ino: number;
}

/** One kept path of a local directory. */
export type TreeEntry = FileEntry | SymlinkEntry | DirectoryEntry;

/** Mode recorded for the root, whose own permissions do not reach the snapshot. */
export const ROOT_MODE = 0o755;

/** Returns the digest of a file entry; mtime, owner and inode are left out on purpose. */
export function fileDigest(mode: number, content: Digest): Digest {
  return sha256(`file\0${octal(mode)}\0${content}`);
}

/** Returns the digest of a symlink entry. */
export function symlinkDigest(mode: number, target: string): Digest {
  return sha256(`symlink\0${octal(mode)}\0${target}`);
}

/**
 * Returns the digest of a directory entry from its children, which must be
 * sorted by name. File names cannot contain NUL, so NUL separates fields.
 */
export function directoryDigest(mode: number, children: Map<string, TreeEntry>): Digest {
  // One update per directory: each update call has a fixed cost that dominates for short strings.
  let text = `dir\0${octal(mode)}\0`;
  for (const [name, child] of children) text += `${name}\0${child.digest}\0`;
  return sha256(text);
}

/** Visits every entry below `dir` depth first, with its slash-separated path relative to the root. */
export function* walkTree(dir: DirectoryEntry, prefix = ""): Generator<[string, TreeEntry]> {
  for (const [name, child] of dir.children) {
    const path = prefix ? `${prefix}/${name}` : name;
    yield [path, child];
    if (child.kind === "dir") yield* walkTree(child, path);
  }
}

function octal(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, "0");
}

function sha256(text: string): Digest {
  return `sha256:${createHash("sha256").update(text).digest("hex")}`;
}
