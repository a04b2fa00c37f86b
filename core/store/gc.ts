/**
 * Disk usage and pruning of the store: what `tsbuild du` shows and
 * `tsbuild prune` reclaims.
 *
 * @module
 */

import type { Digest } from "../digest.ts";
import type { Store } from "./store.ts";

/** Space used by each part of the store, in bytes. */
export interface DiskUsage {
  blobs: { count: number; bytes: number };
  snapshots: { count: number; bytes: number };
  cacheRecords: number;
  data: { bytes: number };
}

/** Measures the store. */
export async function diskUsage(store: Store): Promise<DiskUsage> {
  const usage: DiskUsage = {
    blobs: { count: 0, bytes: 0 },
    snapshots: { count: 0, bytes: 0 },
    cacheRecords: 0,
    data: { bytes: 0 },
  };
  for await (const digest of store.blobs.list()) {
    usage.blobs.count++;
    usage.blobs.bytes += (await store.blobs.size(digest)) ?? 0;
  }
  for await (const snapshot of store.snapshots.list()) {
    usage.snapshots.count++;
    usage.snapshots.bytes += await treeSize(store.snapshots.diffDir(snapshot.id));
  }
  for await (const _ of store.cache.list()) usage.cacheRecords++;
  usage.data.bytes = await treeSize(`${store.root}/data`);
  return usage;
}

/** Options for {@link prune}. */
export interface PruneOptions {
  /** Also remove plugin data (cache mounts, local-source records, git repositories). */
  all?: boolean;
  /** Keep cache records used more recently than this many milliseconds ago. */
  keepNewerThanMs?: number;
}

/** The counts and bytes {@link prune} removed. */
export interface PruneResult {
  cacheRecords: number;
  snapshots: number;
  blobs: number;
  bytes: number;
}

/**
 * Removes cache records (all, or those older than `keepNewerThanMs`), then
 * every snapshot and blob no remaining record reaches. The caller must hold
 * the store exclusively, so no build is using what is removed.
 */
export async function prune(store: Store, options: PruneOptions = {}): Promise<PruneResult> {
  const result: PruneResult = { cacheRecords: 0, snapshots: 0, blobs: 0, bytes: 0 };
  const now = Date.now();
  const keptSnapshots = new Set<string>();
  for await (const record of store.cache.list()) {
    const age = now - Date.parse(record.createdAt);
    if (options.keepNewerThanMs !== undefined && age < options.keepNewerThanMs) {
      for (const info of await store.snapshots.chain(record.snapshot).catch(() => [])) {
        keptSnapshots.add(info.id);
      }
      continue;
    }
    await store.cache.remove(record.key);
    result.cacheRecords++;
  }

  const keptBlobs = new Set<Digest>();
  for await (const snapshot of store.snapshots.list()) {
    if (keptSnapshots.has(snapshot.id)) {
      for (const layer of Object.values(snapshot.layers ?? {})) keptBlobs.add(layer.digest);
      continue;
    }
    result.bytes += await treeSize(store.snapshots.diffDir(snapshot.id));
    await store.snapshots.remove(snapshot.id);
    result.snapshots++;
  }
  for await (const digest of store.blobs.list()) {
    if (keptBlobs.has(digest)) continue;
    result.bytes += (await store.blobs.size(digest)) ?? 0;
    await store.blobs.remove(digest);
    result.blobs++;
  }
  if (options.all) {
    result.bytes += await treeSize(`${store.root}/data`);
    await Deno.remove(`${store.root}/data`, { recursive: true }).catch(() => {});
  }
  return result;
}

async function treeSize(path: string): Promise<number> {
  let total = 0;
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(path));
  } catch {
    return 0;
  }
  for (const entry of entries) {
    const child = `${path}/${entry.name}`;
    if (entry.isDirectory) total += await treeSize(child);
    else total += (await Deno.lstat(child).catch(() => ({ size: 0 }))).size;
  }
  return total;
}
