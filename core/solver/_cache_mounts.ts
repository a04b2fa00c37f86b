/**
 * Persistent cache directories for `RUN --mount=type=cache`, shared across
 * builds by id and kept out of layers and cache keys.
 *
 * @module
 */

import { createHash } from "../deps.ts";
import { CacheSharing } from "../graph/gen/tsbuild/graph/v1/definition_pb.ts";
import type { Store } from "../store/store.ts";

/** A cache directory held for one exec; `release` must be called when it ends. */
export interface HeldCacheMount {
  dir: string;
  release(): Promise<void>;
}

/** The content a new cache directory starts with: a directory to copy, named by a stable key. */
export interface CacheMountBase {
  /** Identifies the base across builds, such as the cache key of the op that made it. */
  key: string;
  /** Copies the base's content into `dir`, which does not exist yet. */
  fill(dir: string): Promise<void>;
}

/** Options for {@link withCacheMount}. */
export interface CacheMountOptions {
  /** The cache's id; mounts with equal ids (and bases) share one directory. */
  id: string;
  /** @default CacheSharing.SHARED */
  sharing?: CacheSharing;
  /** Content for a new directory; without it a new directory is empty, root-owned, mode 0755. */
  base?: CacheMountBase;
  /** Stops waiting for a locked cache. */
  signal?: AbortSignal;
}

/**
 * Takes the cache directory for an id with the requested sharing mode, as
 * BuildKit does:
 * - shared: every holder uses the same directory at once.
 * - locked: one holder at a time; others wait, in this process and in others.
 * - private: a holder takes a directory no other holder has, creating another
 *   instance of the cache when all existing ones are in use. Instances persist.
 *
 * A cache with a base is a different cache from the same id without one (or
 * with another base), and a new directory starts as a copy of the base.
 */
export async function withCacheMount(
  store: Store,
  options: CacheMountOptions,
): Promise<HeldCacheMount> {
  const sharing = options.sharing ?? CacheSharing.SHARED;
  const key = options.base ? `${options.id}\0${options.base.key}` : options.id;
  const name = createHash("sha256").update(key).digest("hex").slice(0, 32);
  const prefix = `${store.dataDir("cache-mounts")}/${name}`;
  await Deno.mkdir(store.dataDir("cache-mounts"), { recursive: true });

  if (sharing === CacheSharing.PRIVATE) return await takePrivateInstance(store, prefix, options);
  const lock = await Deno.open(`${prefix}.lock`, { read: true, write: true, create: true });
  try {
    // Creation happens under the exclusive lock, so two builds never seed the same directory;
    // shared holders then wait only for that, not for each other.
    if (!(await exists(prefix))) {
      await lockFile(lock, true, options.signal);
      await ensureCacheDir(store, prefix, options.base);
      await lock.unlock();
    }
    await lockFile(lock, sharing === CacheSharing.LOCKED, options.signal);
  } catch (error) {
    lock.close();
    throw error;
  }
  return { dir: prefix, release: () => Promise.resolve(lock.close()) };
}

// Instance 0 is the directory shared and locked mounts use. It is free for a private mount only
// when no one holds it, which its lock file shows across processes.
async function takePrivateInstance(
  store: Store,
  prefix: string,
  options: CacheMountOptions,
): Promise<HeldCacheMount> {
  for (let index = 0;; index++) {
    const dir = index === 0 ? prefix : `${prefix}-${index}`;
    const lock = await Deno.open(`${dir}.lock`, { read: true, write: true, create: true });
    if (!(await lock.tryLock(true))) {
      lock.close();
      continue;
    }
    try {
      await ensureCacheDir(store, dir, options.base);
    } catch (error) {
      lock.close();
      throw error;
    }
    return { dir, release: () => Promise.resolve(lock.close()) };
  }
}

async function lockFile(lock: Deno.FsFile, exclusive: boolean, signal?: AbortSignal) {
  if (!exclusive) return await lock.lock(false);
  // A blocking flock cannot be interrupted, so a waiting mount polls to stay cancellable.
  while (!(await lock.tryLock(true))) {
    signal?.throwIfAborted();
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

// A new directory is filled beside its final name and renamed into place, so a concurrent
// holder of a shared cache never finds it half seeded.
async function ensureCacheDir(store: Store, dir: string, base?: CacheMountBase): Promise<void> {
  if (await exists(dir)) return;
  const staging = await Deno.makeTempDir({ dir: store.temporaryDir, prefix: "cache-mount-" });
  try {
    if (base) await base.fill(`${staging}/dir`);
    else await Deno.mkdir(`${staging}/dir`, { mode: 0o755 });
    await Deno.rename(`${staging}/dir`, dir).catch(async (error) => {
      if (!(await exists(dir))) throw error;
    });
  } finally {
    await Deno.remove(staging, { recursive: true }).catch(() => {});
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}
