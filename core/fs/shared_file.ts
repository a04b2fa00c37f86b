/**
 * The mark on files that several snapshots share by hard link, such as the
 * build context's files that the local source links into every snapshot of
 * it. Two links to such a file are two separate files of the build, not a
 * hard link the user made, so copies and layers must not keep them linked.
 *
 * The mark is an extended attribute in the trusted namespace, which only
 * tsbuild (as root) sets and which is never written into a layer.
 *
 * @module
 */

import { listXattrs, writeXattr } from "../oci/_tar_libc.ts";

/** Name of the extended attribute that marks a shared file. */
export const SHARED_FILE_XATTR = "trusted.tsbuild.shared";

const MARK = new Uint8Array([0x31]);

/** Marks the regular file at `path` as shared by snapshots. */
export function markSharedFile(path: string): void {
  try {
    writeXattr(path, SHARED_FILE_XATTR, MARK);
  } catch (error) {
    // A file system without trusted attributes, or a process not allowed to set them, leaves the
    // file unmarked. Its copies then keep their links, as before the mark existed.
    const unsupported = error instanceof Deno.errors.NotSupported ||
      error instanceof Deno.errors.PermissionDenied;
    if (!unsupported) throw error;
  }
}

/** Reports whether the file at `path` carries the shared mark. */
export function isSharedFile(path: string): boolean {
  return listXattrs(path).includes(SHARED_FILE_XATTR);
}
