/**
 * Overlayfs mounts of a chain of diff directories: a probe of whether the
 * kernel allows them and the mount itself, with a work-around for long chains.
 *
 * @module
 */

import { join } from "../deps.ts";
import { mountFilesystem, unmount } from "./_mount.ts";

/**
 * Options that keep the upper directory readable as a plain diff: no inode
 * index, no redirect attributes for renamed directories and no metadata-only
 * copy-ups. Without redirects, renaming a lower directory fails with EXDEV,
 * and tools such as mv then fall back to a copy.
 */
const PORTABLE_OPTIONS = "index=off,redirect_dir=off,metacopy=off";

/**
 * The kernel copies mount options into one page, and the page size on the
 * platforms tsbuild runs on (x86-64, arm64 with 4 KiB pages) is 4096 bytes,
 * one of which is the final NUL.
 */
export const MAX_MOUNT_DATA = 4095;

/** The maximum number of lower layers overlayfs stacks (OVL_MAX_STACK in the kernel's fs/overlayfs). */
export const MAX_LOWER_LAYERS = 500;

/** Result of the overlay probe: whether overlay mounts work, and with which extra options. */
export interface OverlaySupport {
  supported: boolean;
  extraOptions: string;
}

let probed: Promise<OverlaySupport> | undefined;

/**
 * Reports whether an overlay with an upper directory can be mounted in
 * `directory`. The first call mounts a small overlay there, and its result
 * applies for the rest of the process.
 */
export function probeOverlay(directory: string): Promise<OverlaySupport> {
  probed ??= probeOnce(directory);
  return probed;
}

async function probeOnce(directory: string): Promise<OverlaySupport> {
  const scratch = await Deno.makeTempDir({ dir: directory, prefix: ".tsbuild-overlay-probe-" });
  try {
    const [lower, upper, work, target] = ["lower", "upper", "work", "merged"].map((name) =>
      join(scratch, name)
    );
    for (const path of [lower, upper, work, target]) await Deno.mkdir(path);
    for (const extraOptions of [PORTABLE_OPTIONS, ""]) {
      const data = overlayMountData([lower], upper, work, extraOptions);
      try {
        mountFilesystem("overlay", "overlay", target, data);
      } catch {
        continue;
      }
      await unmount(target);
      return { supported: true, extraOptions };
    }
    return { supported: false, extraOptions: "" };
  } finally {
    await Deno.remove(scratch, { recursive: true });
  }
}

/** Builds overlayfs mount options; `lowerDirs` are given top-most first. */
export function overlayMountData(
  lowerDirs: string[],
  upperDir: string,
  workDir: string,
  extraOptions: string,
): string {
  const options = [`lowerdir=${lowerDirs.join(":")}`, `upperdir=${upperDir}`, `workdir=${workDir}`];
  if (extraOptions !== "") options.push(extraOptions);
  return options.join(",");
}

/** Options of {@linkcode mountOverlay}. */
export interface MountOverlayOptions {
  /** Diff directories, top-most first. */
  lowerDirs: string[];
  upperDir: string;
  /** Empty directory on the same file system as `upperDir`. */
  workDir: string;
  /** Directory to mount the overlay on. */
  target: string;
  /** Extra options from {@linkcode probeOverlay}. */
  extraOptions: string;
}

/**
 * Mounts an overlay and returns true, or returns false without mounting when
 * the options cannot fit in {@linkcode MAX_MOUNT_DATA} bytes, when there are
 * more than {@linkcode MAX_LOWER_LAYERS} layers, or when the upper or work
 * directory path contains a character the option syntax reserves.
 *
 * When the lower paths are too long, or contain the ":", "," or "\\" that the
 * option syntax reserves, they are passed as short symlinks in a temporary
 * directory, which overlayfs resolves at mount time. About 200 layers fit then.
 */
export async function mountOverlay(options: MountOverlayOptions): Promise<boolean> {
  const { lowerDirs, upperDir, workDir, target, extraOptions } = options;
  if (lowerDirs.length > MAX_LOWER_LAYERS) return false;
  if (hasReservedCharacter(upperDir) || hasReservedCharacter(workDir)) return false;

  const data = overlayMountData(lowerDirs, upperDir, workDir, extraOptions);
  if (data.length <= MAX_MOUNT_DATA && !lowerDirs.some(hasReservedCharacter)) {
    mountFilesystem("overlay", "overlay", target, data);
    return true;
  }

  const linkDir = await Deno.makeTempDir({ prefix: "tsb" });
  try {
    const links = await Promise.all(lowerDirs.map(async (dir, index) => {
      const link = join(linkDir, index.toString(36));
      await Deno.symlink(dir, link);
      return link;
    }));
    const shortData = overlayMountData(links, upperDir, workDir, extraOptions);
    if (shortData.length > MAX_MOUNT_DATA || hasReservedCharacter(linkDir)) return false;
    mountFilesystem("overlay", "overlay", target, shortData);
    return true;
  } finally {
    await Deno.remove(linkDir, { recursive: true });
  }
}

function hasReservedCharacter(path: string): boolean {
  return /[:,\\]/.test(path);
}
