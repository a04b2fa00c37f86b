/**
 * The copy file action, with the destination rules of Dockerfile COPY: a
 * trailing slash, several sources or an existing directory make the
 * destination a directory.
 *
 * @module
 */

import { nodeFsPromises } from "../deps.ts";
import { NotFoundError } from "../errors.ts";
import type { FileActionCopy } from "../graph/gen/tsbuild/graph/v1/definition_pb.ts";
import { type OwnerIds, resolveOwner } from "./_owner.ts";
import { expandWildcard, hasWildcard, scopedPath } from "../fs/scoped_path.ts";
import { createPathMatcher } from "../fs/path_matcher.ts";

interface CopySettings {
  owner?: OwnerIds;
  mode: number;
  /** Paths (relative to the source root) to leave out. */
  excluded?: (relativePath: string, isDir: boolean) => boolean;
  sourceRoot: string;
  /** First destination path of each source inode, so hard links stay links. */
  links: Map<string, string>;
}

/** Applies one copy action from `sourceRoot` into `root`. */
export async function copyAction(
  copy: FileActionCopy,
  root: string,
  sourceRoot: string,
): Promise<void> {
  const wildcard = copy.allowWildcard && hasWildcard(copy.src);
  const sources = wildcard
    ? await expandWildcard(sourceRoot, copy.src)
    : [await scopedPath(sourceRoot, copy.src, { followFinal: copy.followSymlinks })];
  const present: Array<{ path: string; info: Deno.FileInfo }> = [];
  for (const path of sources) {
    const info = await lstatOrUndefined(path);
    if (info) present.push({ path, info });
  }
  if (present.length === 0) {
    if (wildcard && copy.allowEmptyWildcard) return;
    throw new NotFoundError(`Failed to copy "${copy.src}": not found in the source`, {
      data: { path: copy.src },
    });
  }

  const matcher = copy.excludePatterns.length ? createPathMatcher(copy.excludePatterns) : undefined;
  const settings: CopySettings = {
    owner: await resolveOwner(root, copy.owner),
    mode: copy.mode,
    excluded: matcher ? (path, isDir) => matcher.matches(path, isDir) : undefined,
    sourceRoot,
    links: new Map(),
  };
  const destInside = copy.dest.startsWith("/") ? copy.dest : `/${copy.dest}`;
  const destPath = await scopedPath(root, destInside, { followFinal: true });
  const destInfo = await statOrUndefined(destPath);
  const destIsDir = copy.dest.endsWith("/") || wildcard || present.length > 1 ||
    destInfo?.isDirectory === true;

  if (destIsDir) await makeParents(destPath, root, settings.owner);
  else {await makeParents(
      destPath.slice(0, destPath.lastIndexOf("/")) || root,
      root,
      settings.owner,
    );}

  for (const { path, info } of present) {
    if (info.isDirectory && copy.dirContentsOnly) {
      await copyChildren(path, destPath, settings);
    } else {
      const target = destIsDir ? `${destPath}/${path.slice(path.lastIndexOf("/") + 1)}` : destPath;
      await copyEntry(path, target, info, settings);
    }
  }
}

async function copyChildren(
  sourceDir: string,
  destDir: string,
  settings: CopySettings,
): Promise<void> {
  const entries = await Array.fromAsync(Deno.readDir(sourceDir));
  entries.sort((a, b) => (a.name < b.name ? -1 : 1));
  for (const entry of entries) {
    const path = `${sourceDir}/${entry.name}`;
    const info = await Deno.lstat(path);
    const relative = path.slice(settings.sourceRoot.length + 1);
    if (settings.excluded?.(relative, info.isDirectory)) continue;
    await copyEntry(path, `${destDir}/${entry.name}`, info, settings);
  }
}

async function copyEntry(
  source: string,
  dest: string,
  info: Deno.FileInfo,
  settings: CopySettings,
): Promise<void> {
  // An overlay whiteout (a 0:0 character device) in a single-layer source marks a deletion, not a file.
  if (info.isCharDevice && info.rdev === 0) return;
  const existing = await lstatOrUndefined(dest);
  if (existing && !(existing.isDirectory && info.isDirectory)) {
    await Deno.remove(dest, { recursive: true });
  }

  if (info.isDirectory) {
    if (!existing?.isDirectory) await Deno.mkdir(dest);
    await copyChildren(source, dest, settings);
  } else if (info.isSymlink) {
    await Deno.symlink(await Deno.readLink(source), dest);
  } else if (info.isFile) {
    const inode = `${info.dev}:${info.ino}`;
    const linked = info.nlink && info.nlink > 1 ? settings.links.get(inode) : undefined;
    if (linked) {
      await Deno.link(linked, dest);
      return;
    }
    await Deno.copyFile(source, dest);
    if (info.nlink && info.nlink > 1) settings.links.set(inode, dest);
  } else {
    // NOTE: sockets, FIFOs and device nodes are not copied.
    return;
  }
  await applyMetadata(dest, info, settings);
}

async function applyMetadata(
  dest: string,
  info: Deno.FileInfo,
  settings: CopySettings,
): Promise<void> {
  const uid = settings.owner?.uid ?? info.uid ?? 0;
  const gid = settings.owner?.gid ?? info.gid ?? 0;
  await nodeFsPromises.lchown(dest, uid, gid);
  if (!info.isSymlink) {
    const mode = settings.mode || ((info.mode ?? 0o644) & 0o7777);
    await Deno.chmod(dest, mode);
  }
  if (info.mtime) await nodeFsPromises.lutimes(dest, info.atime ?? info.mtime, info.mtime);
}

async function makeParents(dir: string, root: string, owner: OwnerIds | undefined): Promise<void> {
  const missing: string[] = [];
  for (
    let current = dir;
    current.length > root.length;
    current = current.slice(0, current.lastIndexOf("/"))
  ) {
    if (await lstatOrUndefined(current)) break;
    missing.unshift(current);
  }
  for (const path of missing) {
    await Deno.mkdir(path, { mode: 0o755 });
    if (owner) await Deno.chown(path, owner.uid, owner.gid);
  }
}

async function lstatOrUndefined(path: string): Promise<Deno.FileInfo | undefined> {
  try {
    return await Deno.lstat(path);
  } catch {
    return undefined;
  }
}

async function statOrUndefined(path: string): Promise<Deno.FileInfo | undefined> {
  try {
    return await Deno.stat(path);
  } catch {
    return undefined;
  }
}
