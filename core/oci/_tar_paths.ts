/**
 * Entry names of layer tars: cleaning them into paths relative to the layer
 * root, and recognising the ".wh." whiteout names of the OCI layer format.
 *
 * @module
 */

import { PathEscapeError } from "../errors.ts";
import { OPAQUE_WHITEOUT, WHITEOUT_PREFIX } from "../snapshot/whiteout.ts";

/** Prefix of AUFS metadata entries such as ".wh..wh.plnk", which carry nothing for overlayfs. */
const AUFS_META_PREFIX = ".wh..wh.";

/**
 * Returns `name` as a clean path relative to the layer root, "" for the root
 * itself. A leading "/" is dropped, so absolute names are read as relative
 * ones, and "." and ".." components are resolved.
 *
 * @throws {PathEscapeError} when a ".." component would climb above the root.
 */
export function cleanEntryPath(name: string): string {
  const parts: string[] = [];
  for (const part of name.split("/")) {
    if (part === "" || part === ".") continue;
    if (part !== "..") {
      parts.push(part);
      continue;
    }
    if (parts.length === 0) {
      throw new PathEscapeError(`path "${name}" leads outside the layer root`, { data: { name } });
    }
    parts.pop();
  }
  return parts.join("/");
}

/** Returns the parent of the clean relative path `path`, "" for a top-level entry. */
export function parentPath(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash === -1 ? "" : path.slice(0, slash);
}

/** Returns the last component of the clean relative path `path`. */
export function baseName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/** Joins a clean relative path onto `root`; "" gives `root` itself. */
export function joinRoot(root: string, path: string): string {
  return path === "" ? root : `${root}/${path}`;
}

/** The meaning of a ".wh." entry of an OCI layer. */
export type WhiteoutEntry =
  /** Hide the lower layers' entry `path`. */
  | { kind: "whiteout"; path: string }
  /** Hide everything the lower layers hold under the directory `dir`. */
  | { kind: "opaque"; dir: string }
  /** AUFS metadata, which has no overlayfs meaning and is skipped. */
  | { kind: "aufs-meta" };

/**
 * Returns the whiteout meaning of the clean relative path `path`, or undefined
 * when it is an ordinary entry.
 *
 * @throws {PathEscapeError} for ".wh.." and ".wh..", which would name the parent or the directory itself.
 */
export function parseWhiteout(path: string): WhiteoutEntry | undefined {
  const base = baseName(path);
  if (!base.startsWith(WHITEOUT_PREFIX)) return undefined;

  const dir = parentPath(path);
  if (base === OPAQUE_WHITEOUT) return { kind: "opaque", dir };
  if (base.startsWith(AUFS_META_PREFIX)) return { kind: "aufs-meta" };

  const name = base.slice(WHITEOUT_PREFIX.length);
  if (name === "" || name === "." || name === "..") {
    throw new PathEscapeError(`whiteout "${path}" does not name an entry`, {
      data: { name: path },
    });
  }
  return { kind: "whiteout", path: dir === "" ? name : `${dir}/${name}` };
}

/** Compares two names by their UTF-8 bytes, the order layer tars list entries in. */
export function compareNames(a: string, b: string): number {
  // UTF-16 code unit order matches UTF-8 byte order except around surrogates, so only
  // names with characters at or above U+D800 take the slower path.
  if (!HIGH_CHARACTER.test(a) && !HIGH_CHARACTER.test(b)) {
    if (a === b) return 0;
    return a < b ? -1 : 1;
  }
  const left = encoder.encode(a);
  const right = encoder.encode(b);
  const length = Math.min(left.length, right.length);
  for (let i = 0; i < length; i++) {
    if (left[i] !== right[i]) return left[i] - right[i];
  }
  return left.length - right.length;
}

const HIGH_CHARACTER = /[\uD800-\uFFFF]/;
const encoder = new TextEncoder();
