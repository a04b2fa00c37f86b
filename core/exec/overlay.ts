/**
 * Overlayfs mounts of a chain of diff directories: finding out whether the
 * kernel allows them and with which options, and the mount itself, with a
 * work-around for long chains.
 *
 * @module
 */

import { dirname, join } from "../deps.ts";
import { MountCallError, mountFilesystem, unmount } from "./_mount.ts";

/**
 * Options that keep the upper directory readable as a plain diff: no inode
 * index, no redirect attributes for renamed directories and no metadata-only
 * copy-ups. Without redirects, renaming a lower directory fails with EXDEV,
 * and tools such as mv then fall back to a copy.
 */
const PORTABLE_OPTIONS = "index=off,redirect_dir=off,metacopy=off";

/**
 * The option (Linux 5.10 and later) that makes overlayfs skip every sync of
 * the upper file system: fsync calls inside the overlay and the syncfs(2) of
 * the whole upper file system at unmount. That syncfs also writes out what
 * other processes left unwritten on the same disk, and costs milliseconds per
 * unmount. A tsbuild overlay is used once and thrown away, so callers flush
 * what they keep themselves, as a snapshot commit does with its diff.
 */
const VOLATILE_OPTION = "volatile";

/** Extra option sets to try, best first; older kernels reject the first ones. */
const OPTION_SETS = [
  `${PORTABLE_OPTIONS},${VOLATILE_OPTION}`,
  PORTABLE_OPTIONS,
  VOLATILE_OPTION,
  "",
];

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

/** Overlay support as this process found it, by a probe or a successful mount. */
let known: OverlaySupport | undefined;
let probed: Promise<OverlaySupport> | undefined;

/**
 * Reports whether an overlay with an upper directory can be mounted in
 * `directory`. Unless a mount already succeeded, the first call mounts a small
 * overlay there, and its result applies for the rest of the process.
 */
export function probeOverlay(directory: string): Promise<OverlaySupport> {
  if (known) return Promise.resolve(known);
  probed ??= probeOnce(directory).then((support) => known = support);
  return probed;
}

async function probeOnce(directory: string): Promise<OverlaySupport> {
  const scratch = await Deno.makeTempDir({ dir: directory, prefix: ".tsbuild-overlay-probe-" });
  try {
    const [lower, upper, work, target] = ["lower", "upper", "work", "merged"].map((name) =>
      join(scratch, name)
    );
    for (const path of [lower, upper, work, target]) await Deno.mkdir(path);
    for (const extraOptions of OPTION_SETS) {
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

/** Options of {@linkcode mountSupportedOverlay}. */
export type MountSupportedOverlayOptions = Omit<MountOverlayOptions, "extraOptions">;

/** Outcome of {@linkcode mountSupportedOverlay}. */
export type SupportedOverlayMount =
  | { status: "mounted"; extraOptions: string }
  | { status: "unsupported" }
  | { status: "too-long" };

/**
 * Mounts an overlay with the best options the kernel accepts. Returns
 * "unsupported", without mounting, when overlay mounts do not work in the
 * parent of `upperDir`, and "too-long" when {@linkcode mountOverlay} declines
 * the mount.
 *
 * Until the process has found which options work, the mount itself tries
 * the option sets in turn, so a kernel that accepts the first costs no
 * separate probe mount. Only when every set fails does {@linkcode probeOverlay} decide
 * between a kernel without overlay support, reported as "unsupported", and a
 * failure of this mount, which is thrown.
 *
 * @throws {MountCallError} when overlay mounts work but this one fails
 */
export async function mountSupportedOverlay(
  options: MountSupportedOverlayOptions,
): Promise<SupportedOverlayMount> {
  if (known?.supported === false) return { status: "unsupported" };
  if (known) return await mountWith(options, known.extraOptions);

  for (const extraOptions of OPTION_SETS) {
    let mounted: boolean;
    try {
      mounted = await mountOverlay({ ...options, extraOptions });
    } catch (error) {
      if (error instanceof MountCallError) continue;
      throw error;
    }
    // A declined mount shows nothing about the kernel, so the probe below decides.
    if (!mounted) break;
    known ??= { supported: true, extraOptions };
    return { status: "mounted", extraOptions };
  }

  const support = await probeOverlay(dirname(options.upperDir));
  if (!support.supported) return { status: "unsupported" };
  // Overlays work, so the failures above were this mount's own: repeating it throws its error.
  return await mountWith(options, support.extraOptions);
}

async function mountWith(
  options: MountSupportedOverlayOptions,
  extraOptions: string,
): Promise<SupportedOverlayMount> {
  const mounted = await mountOverlay({ ...options, extraOptions });
  return mounted ? { status: "mounted", extraOptions } : { status: "too-long" };
}
