/**
 * The local source's file store: one immutable inode per relative path,
 * content, mode and mtime, which snapshots of local directories hard-link
 * instead of copying, so an unchanged file is written once however many
 * snapshots contain it. The path is part of the key so that two files of one
 * snapshot never share an inode, which would make them hard links of each
 * other in the image.
 *
 * Entries live in the plugin's data directory as `files/<2 hex>/<62 hex>`,
 * named by {@link fileStoreKey}, owned by root, with the entry's mode and
 * mtime. An entry is published with link(2), which never replaces an existing
 * name, after its content has been checked. Nothing ever writes to an entry
 * afterwards: snapshots are never modified once committed (a RUN step writes
 * through an overlay, and the copy snapshotter copies), so every name linked
 * to an entry keeps the content its key promises.
 *
 * TODO(handle): entries whose snapshots were all pruned keep their inode
 * until `tsbuild prune` removes the plugin data, so the store grows with
 * every version of every file the local source has snapshotted.
 *
 * @module
 */

import { createHash } from "../../core/deps.ts";
import type { Digest } from "../../core/digest.ts";

/** The fields an entry is keyed by: the file's path and what a snapshot's file takes from it. */
export interface StoredFile {
  /** Path relative to the local directory. */
  path: string;
  content: Digest;
  /** Permission bits (`mode & 0o7777`). */
  mode: number;
  mtimeMs: number;
}

/** Returns the hex key of the entry holding `file`. */
export function fileStoreKey(file: StoredFile): string {
  const text =
    `tsbuild local file v1\0${file.path}\0${file.content}\0${file.mode}\0${file.mtimeMs}`;
  return createHash("sha256").update(text).digest("hex");
}

/** The store's entries under one directory. */
export class FileStore {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  /** Returns the path of the entry with key `key`. */
  entryPath(key: string): string {
    return `${this.dir}/${key.slice(0, 2)}/${key.slice(2)}`;
  }

  /**
   * Links the entry `key` to the new name `dest`. Returns false when there is
   * no such entry, when the entry has as many links as the file system allows
   * (EMLINK), or when `dest` is on another file system (EXDEV), so the caller
   * writes `dest` itself.
   */
  linkTo(key: string, dest: string): boolean {
    try {
      Deno.linkSync(this.entryPath(key), dest);
      return true;
    } catch (error) {
      if (error instanceof Deno.errors.NotFound || isLinkLimit(error)) return false;
      throw error;
    }
  }

  /**
   * Publishes the finished file `path`, whose content, owner, mode and mtime
   * must already be those of the key, as entry `key`. An entry that another
   * build published meanwhile is kept, since its content is the same.
   */
  publish(key: string, path: string): void {
    const entry = this.entryPath(key);
    try {
      Deno.linkSync(path, entry);
    } catch (error) {
      if (error instanceof Deno.errors.AlreadyExists || isLinkLimit(error)) return;
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      Deno.mkdirSync(entry.slice(0, entry.lastIndexOf("/")), { recursive: true, mode: 0o700 });
      try {
        Deno.linkSync(path, entry);
      } catch (retryError) {
        if (!(retryError instanceof Deno.errors.AlreadyExists)) throw retryError;
      }
    }
  }
}

// A file with too many links, or a store whose data directory is on another file system, only
// costs the store its sharing.
function isLinkLimit(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  return code === "EMLINK" || code === "EXDEV";
}
