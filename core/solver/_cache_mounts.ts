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

/** Takes the cache directory for `id` with the requested sharing mode. */
export async function withCacheMount(
  store: Store,
  id: string,
  sharing = CacheSharing.SHARED,
): Promise<HeldCacheMount> {
  const name = createHash("sha256").update(id).digest("hex").slice(0, 32);
  const dir = `${store.dataDir("cache-mounts")}/${name}`;
  await Deno.mkdir(dir, { recursive: true });
  if (sharing === CacheSharing.SHARED) return { dir, release: async () => {} };
  if (sharing === CacheSharing.PRIVATE) {
    const privateDir = await Deno.makeTempDir({
      dir: store.temporaryDir,
      prefix: "cache-private-",
    });
    return { dir: privateDir, release: () => Deno.remove(privateDir, { recursive: true }) };
  }
  // Locked: one holder at a time, across processes too.
  const lock = await Deno.open(`${dir}.lock`, { read: true, write: true, create: true });
  await lock.lock(true);
  return { dir, release: () => Promise.resolve(lock.close()) };
}
