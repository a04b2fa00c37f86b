/**
 * Path resolution inside a root filesystem: `..` and symlinks are resolved
 * as if the root were `/`, so no path can reach outside it.
 *
 * @module
 */

import { PathEscapeError } from "../errors.ts";

const MAX_SYMLINK_HOPS = 255;

/**
 * Returns the host path of `path` inside `root`. Symlinks in the parent
 * components are followed within the root; the final component is followed
 * only with `followFinal`.
 */
export async function scopedPath(
  root: string,
  path: string,
  options: { followFinal?: boolean } = {},
): Promise<string> {
  const pending = splitPath(path);
  const resolved: string[] = [];
  let hops = 0;
  while (pending.length > 0) {
    const component = pending.shift()!;
    if (component === "..") {
      resolved.pop();
      continue;
    }
    const isFinal = pending.length === 0;
    const candidate = `${root}/${[...resolved, component].join("/")}`;
    let info: Deno.FileInfo | undefined;
    try {
      info = await Deno.lstat(candidate);
    } catch {
      info = undefined;
    }
    if (!info?.isSymlink || (isFinal && !options.followFinal)) {
      resolved.push(component);
      continue;
    }
    if (++hops > MAX_SYMLINK_HOPS) {
      throw new PathEscapeError(`Failed to resolve "${path}": too many levels of symbolic links`);
    }
    const target = await Deno.readLink(candidate);
    if (target.startsWith("/")) resolved.length = 0;
    pending.unshift(...splitPath(target));
  }
  return resolved.length ? `${root}/${resolved.join("/")}` : root;
}

function splitPath(path: string): string[] {
  return path.split("/").filter((part) => part !== "" && part !== ".");
}

/** Reports whether `path` contains glob characters. */
export function hasWildcard(path: string): boolean {
  return /[*?[]/.test(path);
}

/** Returns the host paths inside `root` matching the glob `pattern`, sorted. */
export async function expandWildcard(root: string, pattern: string): Promise<string[]> {
  const segments = splitPath(pattern);
  let current = [root];
  for (const [index, segment] of segments.entries()) {
    const isFinal = index === segments.length - 1;
    const next: string[] = [];
    for (const dir of current) {
      if (segment === "..") {
        next.push(dir === root ? root : dir.slice(0, dir.lastIndexOf("/")));
        continue;
      }
      if (!hasWildcard(segment)) {
        const path = await scopedPath(root, `${dir.slice(root.length)}/${segment}`, {
          followFinal: !isFinal,
        });
        if (await exists(path)) next.push(path);
        continue;
      }
      const matcher = globSegment(segment);
      const parent = await scopedPath(root, dir.slice(root.length) || "/", { followFinal: true });
      let entries: Deno.DirEntry[] = [];
      try {
        entries = await Array.fromAsync(Deno.readDir(parent));
      } catch {
        continue;
      }
      for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
        if (matcher.test(entry.name)) next.push(`${parent}/${entry.name}`);
      }
    }
    current = next;
  }
  return current;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

/** Compiles one path segment of a glob (`*`, `?`, `[...]`, `\` escapes) to a regular expression. */
export function globSegment(segment: string): RegExp {
  let source = "";
  for (let i = 0; i < segment.length; i++) {
    const char = segment[i];
    if (char === "*") source += "[^/]*";
    else if (char === "?") source += "[^/]";
    else if (char === "\\" && i + 1 < segment.length) source += escapeRegExp(segment[++i]);
    else if (char === "[") {
      const end = segment.indexOf("]", i + 2);
      if (end < 0) {
        source += "\\[";
        continue;
      }
      let body = segment.slice(i + 1, end);
      if (body.startsWith("!") || body.startsWith("^")) body = `^${body.slice(1)}`;
      source += `[${body.replace(/\\/g, "\\\\")}]`;
      i = end;
    } else source += escapeRegExp(char);
  }
  return new RegExp(`^${source}$`);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}
