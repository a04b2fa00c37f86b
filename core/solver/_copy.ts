/**
 * The copy file action, with the destination rules of Dockerfile COPY: a
 * trailing slash, several sources or an existing directory make the
 * destination a directory.
 *
 * @module
 */

import { NotFoundError } from "../errors.ts";
import type { FileActionCopy } from "../graph/gen/tsbuild/graph/v1/definition_pb.ts";
import { type OwnerIds, resolveOwner } from "./_owner.ts";
import { expandWildcard, hasWildcard, scopedPath } from "../fs/scoped_path.ts";
import { isSharedFile } from "../fs/shared_file.ts";
import { createPathMatcher, type PathMatcher } from "../fs/path_matcher.ts";
import { unpackIfArchive } from "./_unpack.ts";
import { lchown, lutimes } from "../fs/link_metadata.ts";

interface CopySettings {
  owner?: OwnerIds;
  mode: number;
  /** Patterns, relative to each copied source, of entries to leave out. */
  excluded?: PathMatcher;
  /** Patterns, relative to each copied source, of the only entries to copy. */
  included?: PathMatcher;
  /** First destination path of each source inode, so hard links stay links. */
  links: Map<string, string>;
  /**
   * Directories entered but not created yet, because only some of their
   * entries may be copied; they are created when the first one is.
   */
  pendingDirs: Array<{ dest: string; info: Deno.FileInfo; created: boolean }>;
}

/**
 * Applies one copy action from `sourceRoot` into `root`. Exclude and include
 * patterns are matched against paths relative to each copied source, as
 * BuildKit's copier does, so `--exclude=*.md` applies inside a copied
 * directory too.
 */
export async function copyAction(
  copy: FileActionCopy,
  root: string,
  sourceRoot: string,
): Promise<void> {
  const present = await findCopySources(copy, sourceRoot);
  if (present.length === 0) return;
  for (const { path } of present) await checkRequiredIncludes(path, copy);

  const settings: CopySettings = {
    owner: await resolveOwner(root, copy.owner),
    mode: copy.mode,
    excluded: copy.excludePatterns.length ? createPathMatcher(copy.excludePatterns) : undefined,
    included: copy.includePatterns.length ? createPathMatcher(copy.includePatterns) : undefined,
    links: new Map(),
    pendingDirs: [],
  };
  const destInside = copy.dest.startsWith("/") ? copy.dest : `/${copy.dest}`;
  const destPath = await scopedPath(root, destInside, { followFinal: true });
  const destInfo = await statOrUndefined(destPath);
  const destIsDir = copiesIntoDirectory(copy, present.length, destInfo?.isDirectory === true);

  for (const { path, name, info } of present) {
    if (copy.attemptUnpack && info.isFile) {
      if (await unpackIfArchive(path, destPath, { root, owner: settings.owner })) continue;
    }
    const dirContents = copiesContents(copy, { path, name, info }, sourceRoot);
    const parent = destIsDir || dirContents
      ? destPath
      : destPath.slice(0, destPath.lastIndexOf("/")) || root;
    await makeParents(parent, root, settings);
    if (dirContents) {
      await copyChildren(path, destPath, settings, "", false);
    } else {
      const target = destIsDir ? `${destPath}/${name}` : destPath;
      await copyEntry(path, target, info, settings, "", false);
    }
  }
}

/** One source entry a copy action copies: its host path and `Deno.lstat`. */
export interface CopySource {
  path: string;
  /** The name the source is copied under: that of the requested path, before following a symlink. */
  name: string;
  info: Deno.FileInfo;
}

/**
 * Returns the entries under `sourceRoot` that `copy` copies, or none when a
 * wildcard that may match nothing matches nothing.
 *
 * @throws {NotFoundError} when nothing matches and the action requires a match
 */
export async function findCopySources(
  copy: FileActionCopy,
  sourceRoot: string,
): Promise<CopySource[]> {
  const wildcard = copy.allowWildcard && hasWildcard(copy.src);
  const requested = wildcard
    ? await expandWildcard(sourceRoot, copy.src)
    : [await scopedPath(sourceRoot, copy.src)];
  const present: CopySource[] = [];
  for (const found of requested) {
    // As in BuildKit, a source that is a symlink is copied as what it points to, under its own
    // name: `COPY foo /` with foo -> bar writes bar's bytes to /foo.
    const name = found.slice(found.lastIndexOf("/") + 1);
    const path = copy.followSymlinks && found !== sourceRoot
      ? await scopedPath(sourceRoot, found.slice(sourceRoot.length) || "/", { followFinal: true })
      : found;
    const info = await lstatOrUndefined(path);
    if (info) present.push({ path, name, info });
  }
  if (present.length === 0 && !(wildcard && copy.allowEmptyWildcard)) {
    throw new NotFoundError(`Failed to copy "${copy.src}": not found in the source`, {
      data: { path: copy.src },
    });
  }
  return present;
}

/**
 * Reports whether `copy` puts its sources inside its destination, given how
 * many sources it found and whether the destination is an existing directory.
 */
export function copiesIntoDirectory(
  copy: FileActionCopy,
  sourceCount: number,
  destIsExistingDirectory: boolean,
): boolean {
  // As in BuildKit, a wildcard that matches one entry copies it like a plain path would.
  return copy.dest.endsWith("/") || sourceCount > 1 || destIsExistingDirectory;
}

/** Reports whether `copy` copies the contents of `source` rather than `source` under its name. */
export function copiesContents(
  copy: FileActionCopy,
  source: CopySource,
  sourceRoot: string,
): boolean {
  // The source root has no name of its own to copy under, so it always copies its contents.
  return source.info.isDirectory && (copy.dirContentsOnly || source.path === sourceRoot);
}

// An include pattern without wildcards names a path that must exist, as `COPY --parents`
// requires for each literal source.
async function checkRequiredIncludes(source: string, copy: FileActionCopy): Promise<void> {
  for (const pattern of copy.includePatterns) {
    if (hasWildcard(pattern) || await lstatOrUndefined(await scopedPath(source, pattern))) continue;
    throw new NotFoundError(`Failed to copy "${pattern}": not found in the source`, {
      data: { path: pattern },
    });
  }
}

async function copyChildren(
  sourceDir: string,
  destDir: string,
  settings: CopySettings,
  relativeDir: string,
  included: boolean,
): Promise<void> {
  const entries = await Array.fromAsync(Deno.readDir(sourceDir));
  entries.sort((a, b) => (a.name < b.name ? -1 : 1));
  for (const entry of entries) {
    const path = `${sourceDir}/${entry.name}`;
    const info = await Deno.lstat(path);
    const relative = relativeDir ? `${relativeDir}/${entry.name}` : entry.name;
    await copyEntry(path, `${destDir}/${entry.name}`, info, settings, relative, included);
  }
}

/**
 * Copies one entry. `relative` is its path below the copied source ("" for
 * the source itself, which patterns never exclude), and `parentIncluded`
 * is true when a directory above it matched an include pattern.
 */
async function copyEntry(
  source: string,
  dest: string,
  info: Deno.FileInfo,
  settings: CopySettings,
  relative: string,
  parentIncluded: boolean,
): Promise<void> {
  // An overlay whiteout (a 0:0 character device) in a single-layer source marks a deletion, not a file.
  if (info.isCharDevice && info.rdev === 0) return;
  const included = relative === "" || parentIncluded || !settings.included ||
    settings.included.matches(relative);
  const excluded = relative !== "" && settings.excluded?.matches(relative) === true;

  if (info.isDirectory && (!included || excluded)) {
    // Entries below may still be copied: a deeper include match, or a `!` exception.
    const canSkip = excluded && !settings.included && settings.excluded!.canSkipDirectory(relative);
    if (canSkip) return;
    settings.pendingDirs.push({ dest, info, created: false });
    await copyChildren(source, dest, settings, relative, included && !excluded);
    const pending = settings.pendingDirs.pop()!;
    if (pending.created) applyTimes(dest, info);
    return;
  }
  if (!included || excluded) return;

  await createPendingDirs(settings);
  await writeEntry(source, dest, info, settings, relative);
}

async function writeEntry(
  source: string,
  dest: string,
  info: Deno.FileInfo,
  settings: CopySettings,
  relative: string,
): Promise<void> {
  const existing = await lstatOrUndefined(dest);
  // Files linked to one another are copied as links, except files the store shares between
  // snapshots, which are separate files of the build.
  const inode = `${info.dev}:${info.ino}`;
  const keepsLinks = info.isFile && (info.nlink ?? 1) > 1 && !isSharedFile(source);
  // A second name of a file can lead to the destination its first name already wrote.
  if (keepsLinks && settings.links.get(inode) === dest && existing) return;
  if (existing && !(existing.isDirectory && info.isDirectory)) {
    await Deno.remove(dest, { recursive: true });
  }

  if (info.isDirectory) {
    // As in BuildKit, a directory that already exists keeps its owner and mode.
    const created = !existing?.isDirectory;
    if (created) await Deno.mkdir(dest);
    await copyChildren(source, dest, settings, relative, true);
    if (created) await applyMetadata(dest, info, settings);
    else applyTimes(dest, info);
    return;
  } else if (info.isSymlink) {
    await Deno.symlink(await Deno.readLink(source), dest);
  } else if (info.isFile) {
    const linked = keepsLinks ? settings.links.get(inode) : undefined;
    if (linked) {
      await Deno.link(linked, dest);
      return;
    }
    await Deno.copyFile(source, dest);
    if (keepsLinks) settings.links.set(inode, dest);
  } else {
    // NOTE: sockets, FIFOs and device nodes are not copied.
    return;
  }
  await applyMetadata(dest, info, settings);
}

async function createPendingDirs(settings: CopySettings): Promise<void> {
  for (const pending of settings.pendingDirs) {
    if (pending.created) continue;
    const existing = await lstatOrUndefined(pending.dest);
    if (existing && !existing.isDirectory) await Deno.remove(pending.dest, { recursive: true });
    if (!existing?.isDirectory) {
      await Deno.mkdir(pending.dest);
      await applyMetadata(pending.dest, pending.info, settings);
    }
    pending.created = true;
  }
}

async function applyMetadata(
  dest: string,
  info: Deno.FileInfo,
  settings: CopySettings,
): Promise<void> {
  const uid = settings.owner?.uid ?? info.uid ?? 0;
  const gid = settings.owner?.gid ?? info.gid ?? 0;
  lchown(dest, uid, gid);
  if (!info.isSymlink) {
    const mode = settings.mode || ((info.mode ?? 0o644) & 0o7777);
    await Deno.chmod(dest, mode);
  }
  applyTimes(dest, info);
}

function applyTimes(dest: string, info: Deno.FileInfo): void {
  if (info.mtime) lutimes(dest, info.atime ?? info.mtime, info.mtime);
}

// Missing parents get the copy's owner and, as in BuildKit, its mode when one is set.
async function makeParents(dir: string, root: string, settings: CopySettings): Promise<void> {
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
    await Deno.mkdir(path);
    await Deno.chmod(path, settings.mode || 0o755);
    if (settings.owner) await Deno.chown(path, settings.owner.uid, settings.owner.gid);
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
