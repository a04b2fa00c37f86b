/**
 * Whole-or-nothing file writes: data goes to a temporary file in the same
 * directory, is flushed to disk, and is renamed over the target.
 *
 * @module
 */

import { dirname, randomBytes } from "../deps.ts";

/** Returns a unique temporary name next to `path`. */
export function temporarySibling(path: string): string {
  return `${dirname(path)}/.tmp-${Deno.pid}-${randomBytes(6).toString("hex")}`;
}

/** Writes `data` to `path` so that readers see either the old content or all of the new. */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const temporary = temporarySibling(path);
  try {
    const file = await Deno.open(temporary, { write: true, createNew: true, mode: 0o644 });
    try {
      let written = 0;
      while (written < bytes.length) written += await file.write(bytes.subarray(written));
      await file.sync();
    } finally {
      file.close();
    }
    await Deno.rename(temporary, path);
  } catch (error) {
    await Deno.remove(temporary).catch(() => {});
    throw error;
  }
}

/** Reads and parses the JSON file `path`, or returns undefined when it does not exist. */
export async function readJsonIfExists<T>(path: string): Promise<T | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  return JSON.parse(text) as T;
}
