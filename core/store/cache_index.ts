/**
 * The cache index: which snapshot each cache key produced.
 *
 * @module
 */

import type { Digest } from "../digest.ts";
import { digestHex } from "../digest.ts";
import { readJsonIfExists, writeFileAtomic } from "../fs/atomic.ts";

/** The stored result of one op, found by its cache key. */
export interface CacheRecord {
  key: Digest;
  /** Top snapshot of the result, or undefined for an empty filesystem. */
  snapshot?: string;
  createdAt: string;
  /** The op's progress name, for `tsbuild du`. */
  description?: string;
  /** When a build last found the record, as `list()` reports it; not stored in the record. */
  lastUsedAt?: string;
}

/** Cache records under `<root>/cache/<key hex>.json`. */
export class CacheIndex {
  readonly dir: string;

  constructor(root: string) {
    this.dir = `${root}/cache`;
  }

  /** Returns the record for `key`, or undefined on a miss. */
  async get(key: Digest): Promise<CacheRecord | undefined> {
    const path = `${this.dir}/${digestHex(key)}.json`;
    const record = await readJsonIfExists<CacheRecord>(path);
    if (record) markUsed(path);
    return record;
  }

  /** Records that `key` produced `record.snapshot`, replacing any older record. */
  async put(record: CacheRecord): Promise<void> {
    // Synchronous, as the small calls of writeFileAtomic are.
    Deno.mkdirSync(this.dir, { recursive: true });
    await writeFileAtomic(`${this.dir}/${digestHex(record.key)}.json`, JSON.stringify(record));
  }

  /** Lists every record. */
  async *list(): AsyncGenerator<CacheRecord> {
    let entries: Deno.DirEntry[] = [];
    try {
      entries = await Array.fromAsync(Deno.readDir(this.dir));
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    for (const entry of entries) {
      if (!entry.name.endsWith(".json") || entry.name.startsWith(".")) continue;
      const path = `${this.dir}/${entry.name}`;
      const record = await readJsonIfExists<CacheRecord>(path).catch(() => undefined);
      if (!record) continue;
      const usedAt = lastUsed(path);
      yield usedAt ? { ...record, lastUsedAt: usedAt } : record;
    }
  }

  /** Removes the record for `key`. */
  async remove(key: Digest): Promise<void> {
    await Deno.remove(`${this.dir}/${digestHex(key)}.json`).catch(() => {});
  }
}

/**
 * Stamps a record as used now, through its file's modification time, so
 * that `prune --keep-duration` keeps results that recent builds reused.
 */
function markUsed(path: string): void {
  const now = new Date();
  try {
    // Synchronous: one quick call, where an asynchronous one costs a thread-pool round trip.
    Deno.utimeSync(path, now, now);
  } catch {
    // A record that cannot be stamped only risks being pruned sooner.
  }
}

function lastUsed(path: string): string | undefined {
  try {
    return Deno.statSync(path).mtime?.toISOString();
  } catch {
    return undefined;
  }
}
