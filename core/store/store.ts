/**
 * The store: one root directory holding blobs, snapshots, the cache index
 * and per-process temporary space, shared safely by concurrent tsbuild processes.
 *
 * @module
 */

import { processExists } from "../fs/process_exists.ts";
import { randomBytes } from "../deps.ts";
import { InvalidInputError } from "../errors.ts";
import { BlobStore } from "./blobs.ts";
import { CacheIndex } from "./cache_index.ts";
import { SnapshotStore } from "./snapshots.ts";
import { snapshotLayerSource } from "./_snapshot_layers.ts";
import { homeDirectory } from "../fs/home.ts";

/** Options for {@link openStore}. */
export interface StoreOptions {
  /** Take the store's lock exclusively, as `tsbuild prune` does; builds share it. */
  exclusive?: boolean;
}

/** An open store; close it to release its lock and temporary space. */
export interface Store extends AsyncDisposable {
  readonly root: string;
  readonly blobs: BlobStore;
  readonly snapshots: SnapshotStore;
  readonly cache: CacheIndex;
  /** This process's temporary directory inside the store, on the same filesystem as snapshots. */
  readonly temporaryDir: string;
  /** Returns a path under the store for a plugin's own data, e.g. `dataDir("git")`. */
  dataDir(name: string): string;
  close(): Promise<void>;
}

/** Returns the store root: `TSBUILD_ROOT`, else `$XDG_CACHE_HOME/tsbuild`, else `~/.cache/tsbuild`. */
export function defaultStoreRoot(): string {
  const fromEnv = Deno.env.get("TSBUILD_ROOT");
  if (fromEnv) return fromEnv;
  const cacheHome = Deno.env.get("XDG_CACHE_HOME") || `${homeDirectory()}/.cache`;
  return `${cacheHome}/tsbuild`;
}

/** Opens (creating when needed) the store at `root` and takes its lock. */
export async function openStore(root: string, options: StoreOptions = {}): Promise<Store> {
  // The calls that only touch metadata are synchronous, as the store's small writes are (see
  // writeFileAtomic). Waiting for the lock can take long, so that call stays asynchronous.
  const existing = statOrUndefined(root);
  if (existing && !existing.isDirectory) {
    throw new InvalidInputError(
      `Failed to open the store at "${root}": it is a file, not a directory (see --root)`,
    );
  }
  Deno.mkdirSync(`${root}/tmp`, { recursive: true });
  const lockFile = Deno.openSync(`${root}/lock`, { read: true, write: true, create: true });
  await lockFile.lock(options.exclusive ?? false);

  await removeAbandonedTemporaryDirs(`${root}/tmp`);
  const temporaryDir = `${root}/tmp/${Deno.pid}-${randomBytes(4).toString("hex")}`;
  Deno.mkdirSync(temporaryDir);

  const close = async () => {
    await Deno.remove(temporaryDir, { recursive: true }).catch(() => {});
    lockFile.close();
  };
  const snapshots = new SnapshotStore(root, temporaryDir);
  return {
    root,
    blobs: new BlobStore(root, snapshotLayerSource(snapshots)),
    snapshots,
    cache: new CacheIndex(root),
    temporaryDir,
    dataDir: (name) => `${root}/data/${name}`,
    close,
    [Symbol.asyncDispose]: close,
  };
}

// A process killed mid-build leaves its temporary directory behind, possibly
// with a rootfs still mounted in it. The pid in the name shows whether its
// owner is still running. Mounts are detached first so that removing the
// directory cannot reach through them into a snapshot.
async function removeAbandonedTemporaryDirs(dir: string): Promise<void> {
  for (const entry of Deno.readDirSync(dir)) {
    const pid = Number(entry.name.split("-")[0]);
    if (!Number.isInteger(pid) || pid === Deno.pid || processExists(pid)) continue;
    const abandoned = `${dir}/${entry.name}`;
    if (!(await unmountUnder(abandoned))) continue;
    await Deno.remove(abandoned, { recursive: true }).catch(() => {});
  }
}

/** Detaches every mount at or below `dir`, deepest first; reports whether none is left. */
async function unmountUnder(dir: string): Promise<boolean> {
  let mountinfo = "";
  try {
    mountinfo = await Deno.readTextFile("/proc/self/mountinfo");
  } catch {
    return true;
  }
  const mountPoints = mountinfo.split("\n")
    .map((line) => line.split(" ")[4]?.replace(/\\040/g, " "))
    .filter((point): point is string =>
      point !== undefined && (point === dir || point.startsWith(`${dir}/`))
    )
    .sort((a, b) => b.length - a.length);
  for (const point of mountPoints) {
    const { success } = await new Deno.Command("umount", { args: ["-l", point], stderr: "null" })
      .output()
      .catch(() => ({ success: false }));
    if (!success) return false;
  }
  return true;
}

function statOrUndefined(path: string): Deno.FileInfo | undefined {
  try {
    return Deno.statSync(path);
  } catch {
    return undefined;
  }
}
