/**
 * The root file system of a RUN step: the lower diff directories merged, with
 * writes going to the step's upper diff directory.
 *
 * @module
 */

import { dirname, join } from "../deps.ts";
import { InvalidInputError } from "../errors.ts";
import { removeUnchangedDirectories, writeDiff } from "../snapshot/diff.ts";
import { materialize } from "../snapshot/materialize.ts";
import { unmount } from "./_mount.ts";
import { mountSupportedOverlay, type SupportedOverlayMount } from "./overlay.ts";

/** Strategy for building the root file system; "auto" picks overlay when the kernel allows it. */
export type SnapshotterSetting = "auto" | "overlay" | "copy";

/** Environment variable that sets the default {@linkcode SnapshotterSetting}. */
export const SNAPSHOTTER_ENV = "TSBUILD_SNAPSHOTTER";

/** Options of {@linkcode prepareRootfs}. */
export interface PrepareRootfsOptions {
  /** @default the value of TSBUILD_SNAPSHOTTER, or "auto" when it is unset */
  snapshotter?: SnapshotterSetting;
  /** Stops the copy strategy's materialize and diff steps. */
  signal?: AbortSignal;
}

/** A prepared root file system; dispose of it to unmount and remove temporary files. */
export interface Rootfs extends AsyncDisposable {
  /** Directory to use as the container's root. */
  readonly path: string;
  /** The strategy in use. */
  readonly strategy: "overlay" | "copy";
  /**
   * Leaves the changes made under `path` in the upper directory in overlay
   * format. Call it once, after the container has exited; `path` is gone or
   * stale afterwards. The changes are not flushed to disk: an overlay is
   * mounted "volatile" where the kernel allows it, which skips the flush of
   * the unmount, so the caller flushes what it keeps (a snapshot commit does).
   */
  commit(): Promise<void>;
  /** Unmounts and removes the temporary directories; later calls do nothing. */
  release(): Promise<void>;
}

/**
 * Prepares a root file system made of `lowerDirs` (bottom-most first) whose
 * changes go to `upperDir`, an existing empty directory.
 *
 * The overlay strategy mounts an overlay with `upperDir` as its upper layer
 * and a work directory next to it. The copy strategy copies the merged layers
 * into a directory next to `upperDir` and, on commit, writes the differences
 * into `upperDir`. "auto" uses overlay when the kernel allows overlay mounts
 * in the parent of `upperDir` (found out once per process, by the first
 * mount) and the mount options fit the kernel's limit, and copy otherwise.
 *
 * @throws {InvalidInputError} when the setting or TSBUILD_SNAPSHOTTER is not auto, overlay or copy
 * @throws {Error} when the setting is "overlay" and the kernel refuses the mount
 */
export async function prepareRootfs(
  lowerDirs: string[],
  upperDir: string,
  options: PrepareRootfsOptions = {},
): Promise<Rootfs> {
  const setting = options.snapshotter ?? snapshotterFromEnv();
  checkSetting(setting);

  if (setting !== "copy") {
    const overlay = await prepareOverlay(lowerDirs, upperDir);
    if (overlay.status === "mounted") return overlay.rootfs;
    if (setting === "overlay" && overlay.status === "unsupported") {
      throw new Error(
        `Failed to mount an overlay in "${dirname(upperDir)}": the kernel rejected the probe mount`,
      );
    }
    if (setting === "overlay") {
      throw new Error(
        `Failed to mount an overlay of ${lowerDirs.length} layers: the mount options are too long`,
      );
    }
  }
  return await prepareCopy(lowerDirs, upperDir, options.signal);
}

/** Reads TSBUILD_SNAPSHOTTER, defaulting to "auto". */
export function snapshotterFromEnv(): SnapshotterSetting {
  const value = Deno.env.get(SNAPSHOTTER_ENV) || "auto";
  checkSetting(value, SNAPSHOTTER_ENV);
  return value;
}

function checkSetting(value: string, source = "snapshotter"): asserts value is SnapshotterSetting {
  if (value === "auto" || value === "overlay" || value === "copy") return;
  throw new InvalidInputError(
    `Invalid ${source} "${value}": expected "auto", "overlay" or "copy"`,
    { data: { value } },
  );
}

/**
 * Mounts the overlay, or reports why not: the kernel does not allow overlay
 * mounts, or the options do not fit in a mount call.
 */
async function prepareOverlay(
  lowerDirs: string[],
  upperDir: string,
): Promise<{ status: "mounted"; rootfs: Rootfs } | { status: "unsupported" | "too-long" }> {
  // The scratch directories are made and removed with synchronous calls, which for a few empty
  // directories take less time than the thread-pool round trips of asynchronous ones.
  const scratch = Deno.makeTempDirSync({ dir: dirname(upperDir), prefix: ".tsbuild-rootfs-" });
  const target = join(scratch, "merged");
  const workDir = join(scratch, "work");
  let mount: SupportedOverlayMount = { status: "too-long" };
  try {
    Deno.mkdirSync(target);
    Deno.mkdirSync(workDir);
    mount = await mountSupportedOverlay({
      lowerDirs: overlayLowerDirs(lowerDirs, scratch),
      upperDir,
      workDir,
      target,
    });
  } finally {
    if (mount.status !== "mounted") Deno.removeSync(scratch, { recursive: true });
  }
  if (mount.status !== "mounted") return mount;

  let mounted = true;
  const release = async () => {
    if (mounted) {
      await unmount(target);
      mounted = false;
    }
    // Only after a successful unmount: removing the mount point's contents would write to upperDir.
    try {
      Deno.removeSync(scratch, { recursive: true });
    } catch (error) {
      ignoreNotFound(error);
    }
  };
  const rootfs: Rootfs = {
    path: target,
    strategy: "overlay",
    commit: async () => {
      await release();
      await removeUnchangedDirectories(lowerDirs, upperDir);
    },
    release,
    [Symbol.asyncDispose]: release,
  };
  return { status: "mounted", rootfs };
}

/** Returns the lower directories top-most first; overlayfs needs one even for an empty chain. */
function overlayLowerDirs(lowerDirs: string[], scratch: string): string[] {
  if (lowerDirs.length > 0) return [...lowerDirs].reverse();
  const empty = join(scratch, "empty");
  Deno.mkdirSync(empty);
  return [empty];
}

async function prepareCopy(
  lowerDirs: string[],
  upperDir: string,
  signal?: AbortSignal,
): Promise<Rootfs> {
  const scratch = await Deno.makeTempDir({ dir: dirname(upperDir), prefix: ".tsbuild-rootfs-" });
  const path = join(scratch, "rootfs");
  try {
    await Deno.mkdir(path);
    await materialize(lowerDirs, path, { signal });
  } catch (error) {
    await Deno.remove(scratch, { recursive: true });
    throw error;
  }

  const release = async () => {
    await Deno.remove(scratch, { recursive: true }).catch(ignoreNotFound);
  };
  return {
    path,
    strategy: "copy",
    commit: async () => {
      await writeDiff(lowerDirs, path, upperDir, { signal });
      await release();
    },
    release,
    [Symbol.asyncDispose]: release,
  };
}

function ignoreNotFound(error: unknown): void {
  if (!(error instanceof Deno.errors.NotFound)) throw error;
}
