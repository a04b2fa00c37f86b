/**
 * The stat fields a local scan compares, without following a final symlink.
 * They come from statx(2) (see `core/fs/statx.ts`), which keeps the
 * milliseconds of the change time that `Deno.lstatSync` rounds away. Where
 * statx cannot be called or fails, Deno's calls are made instead and their
 * errors surface.
 *
 * @module
 */

import {
  AT_EMPTY_PATH,
  AT_FDCWD,
  AT_SYMLINK_NOFOLLOW,
  type FileKind,
  type FileStat,
  fromFileInfo,
  statxAt,
} from "../../core/fs/statx.ts";

/** A file's type, among those the scan distinguishes. */
export type StatKind = FileKind;

/** The fields of one `lstat` that the scan compares. */
export type LocalStat = Pick<FileStat, "kind" | "mode" | "size" | "mtimeMs" | "ctimeMs" | "ino">;

/**
 * Returns the stat fields of `path` without following a final symlink.
 *
 * @throws {Deno.errors.NotFound} when nothing exists at `path`.
 */
export function lstatLocal(path: string): LocalStat {
  return statxAt(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW) ?? fromFileInfo(Deno.lstatSync(path));
}

/**
 * Returns the stat fields of `name` in the directory open as `dirFd`, without
 * following a final symlink. Looking a name up in an open directory cannot be
 * redirected by renaming or replacing the directories above it.
 *
 * @throws {Deno.errors.NotFound} when nothing exists there.
 */
export function lstatAt(dirFd: number, name: string): LocalStat {
  return statxAt(dirFd, name, AT_SYMLINK_NOFOLLOW) ??
    fromFileInfo(Deno.lstatSync(`${fdPath(dirFd)}/${name}`));
}

/** Returns the stat fields of the file open as `fd`. */
export function statFd(fd: number): LocalStat {
  return statxAt(fd, "", AT_EMPTY_PATH) ?? fromFileInfo(Deno.statSync(fdPath(fd)));
}

/** Returns a path that names the file open as `fd` itself, whatever its names are now. */
export function fdPath(fd: number): string {
  return `/proc/self/fd/${fd}`;
}
