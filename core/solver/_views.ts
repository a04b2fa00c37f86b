/**
 * Merged views of snapshot chains for the solver's own file work: views to
 * copy or bind-mount from, and writable views whose changes land in a new diff.
 *
 * @module
 */

import { prepareRootfs } from "../exec/rootfs.ts";
import type { Store } from "../store/store.ts";

/** Returns the diff directories of the chain ending at `snapshot`, base first. */
export async function lowerDirsOf(store: Store, snapshot: string | undefined): Promise<string[]> {
  const chain = await store.snapshots.chain(snapshot);
  return chain.map((info) => store.snapshots.diffDir(info.id));
}

/** A directory showing a snapshot chain's merged filesystem until released. */
export interface View {
  dir: string;
  release(): Promise<void>;
}

/**
 * Returns a merged view of the chain ending at `snapshot`. Writes to the view
 * go to a scratch layer that `release()` discards, never to the snapshots.
 */
export async function withReadonlyView(
  store: Store,
  snapshot: string | undefined,
  temporaryDir: string,
): Promise<View> {
  const lowerDirs = await lowerDirsOf(store, snapshot);
  const work = await Deno.makeTempDir({ dir: temporaryDir, prefix: "view-" });
  const removeWork = () => Deno.remove(work, { recursive: true }).catch(() => {});
  await Deno.mkdir(`${work}/upper`);
  if (lowerDirs.length === 0) return { dir: `${work}/upper`, release: removeWork };

  const rootfs = await prepareRootfs(lowerDirs, `${work}/upper`);
  return {
    dir: rootfs.path,
    release: async () => {
      await rootfs.release();
      await removeWork();
    },
  };
}

/** Snapshot kinds whose diff contains plain entries only: no whiteouts and no opaque marks. */
const PLAIN_KINDS = new Set(["local"]);

/**
 * Returns a view of the chain ending at `snapshot` to read from, as a copy's
 * source. A chain of one snapshot of a plain kind, such as the build context,
 * is shown as its diff directory without a mount, so the caller must not
 * write to the view.
 */
export async function withSourceView(store: Store, snapshot: string | undefined): Promise<View> {
  const chain = await store.snapshots.chain(snapshot);
  if (chain.length === 1 && PLAIN_KINDS.has(chain[0].kind)) {
    return { dir: store.snapshots.diffDir(chain[0].id), release: () => Promise.resolve() };
  }
  return await withReadonlyView(store, snapshot, store.temporaryDir);
}

/**
 * Runs `fn` on a writable merged view of `lowerDirs`, with every change
 * recorded in `upperDir` in overlay format.
 */
export async function withWritableView<T>(
  lowerDirs: string[],
  upperDir: string,
  fn: (root: string) => Promise<T>,
): Promise<T> {
  if (lowerDirs.length === 0) return await fn(upperDir);
  const rootfs = await prepareRootfs(lowerDirs, upperDir);
  try {
    const result = await fn(rootfs.path);
    await rootfs.commit();
    return result;
  } finally {
    await rootfs.release();
  }
}
