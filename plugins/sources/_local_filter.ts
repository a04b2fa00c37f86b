/**
 * Decides which paths of a local directory a scan keeps, from include and
 * exclude patterns in `.dockerignore` syntax.
 *
 * @module
 */

import { InvalidInputError } from "../../core/errors.ts";
import { createPathMatcher } from "../../core/fs/path_matcher.ts";

/**
 * The action a scan takes for a path. "keep" keeps it, and "skip" leaves it
 * out together with everything below it. "descend", for a directory only,
 * looks inside and keeps the directory only if something below it is kept.
 */
export type FilterDecision = "keep" | "skip" | "descend";

/** The filter a scan applies to each relative path. */
export interface LocalFilter {
  decide(path: string, isDir: boolean): FilterDecision;
}

/** The part of a path matcher the filter uses. */
interface Matcher {
  /** Reports whether `path` is matched, directly or through a parent, after `!` re-includes. */
  excludes(path: string, isDir: boolean): boolean;
  /** Reports whether no path below the directory `path` can be left unmatched by a `!` pattern. */
  excludesSubtree(path: string): boolean;
}

/**
 * Returns a filter keeping the paths that match an include pattern (all when
 * `include` is empty) and match no exclude pattern. `name` is the local's
 * name, for the error about a malformed pattern.
 */
export function createLocalFilter(name: string, include: string[], exclude: string[]): LocalFilter {
  const excluder = exclude.length ? createMatcher(name, "exclude-patterns", exclude) : undefined;
  // Include patterns become "exclude everything, then re-include each pattern",
  // so the same matcher reports which directories can contain an included path.
  const includer = include.length
    ? createMatcher(name, "include-patterns", ["*", ...include.map((pattern) => `!${pattern}`)])
    : undefined;
  return {
    decide(path, isDir) {
      const excluded = excluder?.excludes(path, isDir) ?? false;
      const notIncluded = includer?.excludes(path, isDir) ?? false;
      if (!excluded && !notIncluded) return "keep";
      if (!isDir) return "skip";
      if (excluded && excluder!.excludesSubtree(path)) return "skip";
      if (notIncluded && includer!.excludesSubtree(path)) return "skip";
      return "descend";
    },
  };
}

function createMatcher(name: string, attr: string, patterns: string[]): Matcher {
  let matcher;
  try {
    matcher = createPathMatcher(patterns);
  } catch (error) {
    throw new InvalidInputError(
      `Invalid attribute "${attr}" of local "${name}": ${(error as Error).message}`,
      {
        cause: error,
        data: { local: name, attr },
      },
    );
  }
  return {
    excludes: (path, isDir) => matcher.matches(path, isDir),
    excludesSubtree: (path) => matcher.canSkipDirectory(path),
  };
}
