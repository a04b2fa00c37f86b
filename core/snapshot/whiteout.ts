/**
 * Whiteouts and opaque directories in a snapshot's diff directory.
 *
 * A diff directory uses overlayfs's own format so that it can be mounted as an
 * overlay layer directly: a deleted entry is a character device 0:0 with the
 * deleted name, and a directory whose lower contents are hidden carries the
 * `trusted.overlay.opaque` attribute set to "y". OCI layer tars use ".wh."
 * names instead; the layer codec converts between the two.
 *
 * @module
 */

import { getXattr, mknodChar, setXattr } from "./_libc.ts";

/** The extended attribute overlayfs reads to treat a directory as opaque. */
export const OPAQUE_XATTR = "trusted.overlay.opaque";

/** Prefix OCI layers use for a deleted entry's name. */
export const WHITEOUT_PREFIX = ".wh.";

/** Name of the OCI entry that marks its directory opaque. */
export const OPAQUE_WHITEOUT = ".wh..wh..opq";

/** Creates a whiteout for the entry `path`, which must not exist. */
export function createWhiteout(path: string): void {
  mknodChar(path, 0, 0);
}

/** Reports whether `info`, from `Deno.lstat`, describes an overlay whiteout. */
export function isWhiteout(info: Deno.FileInfo): boolean {
  return info.isCharDevice === true && info.rdev === 0;
}

/** Marks the directory `path` opaque, so lower layers' entries under it are hidden. */
export function markOpaque(path: string): void {
  setXattr(path, OPAQUE_XATTR, "y");
}

/** Reports whether the directory `path` is marked opaque. */
export function isOpaque(path: string): boolean {
  return getXattr(path, OPAQUE_XATTR) === "y";
}
