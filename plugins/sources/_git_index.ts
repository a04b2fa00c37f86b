/**
 * Encodes a git index (version 2) for a fresh checkout, with stat fields
 * that depend only on the commit, so equal commits give equal bytes.
 *
 * @module
 */

import { createHash } from "../../core/deps.ts";
import type { CheckedOutEntry } from "./_git_checkout.ts";

// ctime, mtime (seconds and nanoseconds each), dev, ino, mode, uid, gid, size,
// the object id and a 16-bit flags field.
const ENTRY_FIXED_BYTES = 10 * 4 + 20 + 2;
const MAX_NAME_LENGTH_FLAG = 0xfff;

/**
 * Returns the bytes of an index listing `entries` (sorted by path), each
 * with `time` as its ctime and mtime and zero device, inode, uid and gid.
 * Git compares those fields with the files it finds, sees a difference and
 * hashes the files again, so `git status` reports a clean tree.
 */
export function encodeIndex(entries: CheckedOutEntry[], time: Date): Uint8Array {
  const seconds = Math.floor(time.getTime() / 1000);
  const encoder = new TextEncoder();
  const parts: Uint8Array[] = [];

  const header = new Uint8Array(12);
  header.set(encoder.encode("DIRC"));
  new DataView(header.buffer).setUint32(4, 2);
  new DataView(header.buffer).setUint32(8, entries.length);
  parts.push(header);

  for (const entry of entries) {
    const name = encoder.encode(entry.path);
    // One to eight NUL bytes end the name and pad the entry to a multiple of 8.
    const length = Math.ceil((ENTRY_FIXED_BYTES + name.length + 1) / 8) * 8;
    const bytes = new Uint8Array(length);
    const view = new DataView(bytes.buffer);
    view.setUint32(0, seconds);
    view.setUint32(8, seconds);
    view.setUint32(24, entry.mode);
    view.setUint32(36, Math.min(entry.size, 0xffffffff));
    bytes.set(hexBytes(entry.oid), 40);
    view.setUint16(60, Math.min(name.length, MAX_NAME_LENGTH_FLAG));
    bytes.set(name, ENTRY_FIXED_BYTES);
    parts.push(bytes);
  }

  const hash = createHash("sha1");
  for (const part of parts) hash.update(part);
  parts.push(new Uint8Array(hash.digest()));
  return concat(parts);
}

function hexBytes(hex: string): Uint8Array {
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return bytes;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const total = parts.reduce((sum, part) => sum + part.length, 0);
  const joined = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    joined.set(part, offset);
    offset += part.length;
  }
  return joined;
}
