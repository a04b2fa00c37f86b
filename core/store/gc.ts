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

/**
 * Measures the store. A file with several hard links is counted once, in the
 * first part that links it: snapshots before plugin data.
 */
export async function diskUsage(store: Store): Promise<DiskUsage> {
  const usage: DiskUsage = {
    blobs: { count: 0, bytes: 0 },
    snapshots: { count: 0, bytes: 0 },
    cacheRecords: 0,
    data: { bytes: 0 },
  };
  for await (const digest of store.blobs.list()) {
    usage.blobs.count++;
    usage.blobs.bytes += await store.blobs.diskBytes(digest);
  }
  const seen = new Set<string>();
  for await (const snapshot of store.snapshots.list()) {
    usage.snapshots.count++;
    usage.snapshots.bytes += fileBytes(store.snapshots.diffDir(snapshot.id), seen);
  }
  for await (const _ of store.cache.list()) usage.cacheRecords++;
  usage.data.bytes = fileBytes(`${store.root}/data`, seen);
  return usage;
}

/**
 * Name of the folder, inside a plugin's data directory, for files that the
 * plugin's snapshots hard-link to. Prune removes a file there once it is its
 * only link, because no snapshot uses it any more.
 */
export const LINKS_FOLDER = "links";

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
  /** Files removed from plugins' {@link LINKS_FOLDER} folders. */
  linkedFiles: number;
  /** Bytes freed, each file counted once however many links it had. */
  bytes: number;
}

/**
 * Removes cache records (all, or those older than `keepNewerThanMs`), then
 * every snapshot and blob no remaining record reaches, then the linked files
 * no snapshot uses. The caller must hold the store exclusively, so no build
 * is using what is removed.
 */
export async function prune(store: Store, options: PruneOptions = {}): Promise<PruneResult> {
  const result: PruneResult = { cacheRecords: 0, snapshots: 0, blobs: 0, linkedFiles: 0, bytes: 0 };
  // Files hard-linked between snapshots and link folders free space only with their last link,
  // so the space freed is measured rather than summed per removed entry.
  const sizeBefore = uniqueFileBytes(store.root);
  const now = Date.now();
  const keptSnapshots = new Set<string>();
  for await (const record of store.cache.list()) {
    const usedAt = Math.max(Date.parse(record.createdAt), Date.parse(record.lastUsedAt ?? ""));
    const age = now - (Number.isNaN(usedAt) ? Date.parse(record.createdAt) : usedAt);
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
    await store.snapshots.remove(snapshot.id);
    result.snapshots++;
  }
  for await (const digest of store.blobs.list()) {
    if (keptBlobs.has(digest)) continue;
    await store.blobs.remove(digest);
    result.blobs++;
  }
  removeTemporaryFiles(store);
  if (options.all) {
    await Deno.remove(`${store.root}/data`, { recursive: true }).catch(() => {});
  } else {
    result.linkedFiles = sweepLinkFolders(`${store.root}/data`);
  }
  result.bytes = Math.max(0, sizeBefore - uniqueFileBytes(store.root));
  return result;
}

/**
 * Removes the files that have no other link from the links folder of every
 * data directory: `data/NAME/links` for built-in plugins and
 * `data/plugin-PLUGIN/NAME/links` for sandboxed ones. Emptied folders go too.
 */
function sweepLinkFolders(dataDir: string): number {
  let removed = 0;
  for (const entry of readDirOrEmpty(dataDir)) {
    if (!entry.isDirectory) continue;
    const dir = `${dataDir}/${entry.name}`;
    removed += sweepFolder(`${dir}/${LINKS_FOLDER}`);
    if (!entry.name.startsWith("plugin-")) continue;
    for (const child of readDirOrEmpty(dir)) {
      if (child.isDirectory) removed += sweepFolder(`${dir}/${child.name}/${LINKS_FOLDER}`);
    }
  }
  return removed;
}

function sweepFolder(dir: string): number {
  let removed = 0;
  for (const entry of readDirOrEmpty(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) {
      removed += sweepFolder(path);
      if (readDirOrEmpty(path).length === 0) Deno.removeSync(path);
    } else if (entry.isFile && Deno.lstatSync(path).nlink === 1) {
      Deno.removeSync(path);
      removed++;
    }
  }
  return removed;
}

/**
 * Removes the ".tmp-" files that writes of blobs, cache records, snapshot
 * records and plugin records leave when their process is killed. Prune has
 * the store's exclusive lock, so every such file is abandoned. Diff
 * directories are not searched, because their files belong to the images.
 */
function removeTemporaryFiles(store: Store): void {
  const dirs = [store.blobs.dir, store.blobs.derivedDir, store.cache.dir];
  for (const entry of readDirOrEmpty(store.snapshots.dir)) {
    if (entry.isDirectory) dirs.push(`${store.snapshots.dir}/${entry.name}`);
  }
  for (const entry of readDirOrEmpty(`${store.root}/data`)) {
    if (entry.isDirectory) dirs.push(`${store.root}/data/${entry.name}`);
  }
  for (const dir of dirs) {
    for (const entry of readDirOrEmpty(dir)) {
      if (entry.isFile && entry.name.startsWith(".tmp-")) Deno.removeSync(`${dir}/${entry.name}`);
    }
  }
}

/** Returns the bytes of the regular files under `root`, each inode counted once. */
function uniqueFileBytes(root: string): number {
  return fileBytes(root, new Set());
}

/** Returns the bytes of the regular files under `root` whose inodes are not in `seen`, and adds them. */
function fileBytes(root: string, seen: Set<string>): number {
  let total = 0;
  const pending = [root];
  while (pending.length > 0) {
    const dir = pending.pop()!;
    for (const entry of readDirOrEmpty(dir)) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory) {
        pending.push(path);
        continue;
      }
      if (!entry.isFile) continue;
      const info = Deno.lstatSync(path);
      const key = `${info.dev}:${info.ino}`;
      if (seen.has(key)) continue;
      seen.add(key);
      total += info.size;
    }
  }
  return total;
}

function readDirOrEmpty(dir: string): Deno.DirEntry[] {
  try {
    return Array.from(Deno.readDirSync(dir));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
      return [];
    }
    throw error;
  }
}
