/**
 * Reads .dockerignore files and matches context paths against their patterns
 * with Docker's rules.
 *
 * A pattern matches a path when it matches the path itself or any directory
 * above it, so excluding a directory excludes everything under it. Patterns
 * apply in order and the last one that matches decides: a pattern starting
 * with `!` re-includes what earlier patterns excluded. `*` and `?` do not
 * match `/`, `**` matches any number of directories (none included), `[a-z]`
 * is a character class and a backslash makes the next character literal.
 * Patterns are cleaned like paths (`./a/../b/` becomes `b`) and a leading `/`
 * is dropped, since every path is relative to the context.
 *
 * @example Exclude a directory but keep one file in it
 * ```ts
 * import { createPathMatcher, parseDockerignore } from "./path_matcher.ts";
 *
 * const matcher = createPathMatcher(parseDockerignore("logs\n!logs/keep.txt\n", ".dockerignore"));
 * matcher.matches("logs/today.txt"); // true: excluded
 * matcher.matches("logs/keep.txt"); // false: re-included
 * matcher.canSkipDirectory("logs"); // false: the walk must look inside for keep.txt
 * ```
 *
 * @module
 */

import { InvalidInputError } from "../errors.ts";
import { type CompiledPattern, compileIgnorePattern } from "./_ignore_pattern.ts";
import { cleanPath } from "./_path_clean.ts";

/** Matches slash-separated paths, relative to the context root, against ignore patterns. */
export interface PathMatcher {
  /** The cleaned patterns, `!` prefixes included, in order. */
  readonly patterns: readonly string[];
  /** True when some pattern starts with `!`. */
  readonly hasExclusions: boolean;
  /**
   * Reports whether the patterns exclude `path`: the last pattern that
   * matches it, or a directory above it, does not start with `!`. The root
   * (`.` or an empty path) is never excluded.
   *
   * @param path A slash-separated path relative to the context, such as `src/main.ts`.
   * @param isDir Accepted so callers can pass what they know while walking;
   * Docker's rules match files and directories alike, so it does not change the result.
   */
  matches(path: string, isDir?: boolean): boolean;
  /**
   * Reports whether a walk can skip everything under the directory `dir`:
   * the directory is excluded and no later `!` pattern could re-include a
   * path below it. False means the walk must look inside, even when `dir`
   * itself is excluded.
   */
  canSkipDirectory(dir: string): boolean;
}

/**
 * Reads the patterns of a .dockerignore file: lines starting with `#` are
 * comments, blank lines are skipped, white space around a pattern (and after
 * `!`) is removed, and each pattern is cleaned like a path.
 *
 * @param text The file's content.
 * @param file The file's name, used in error messages.
 * @returns The cleaned patterns in order, each with its `!` prefix kept.
 * @throws {InvalidInputError} on a malformed pattern, such as an unclosed
 * `[`, naming the file, the line and the pattern.
 *
 * @example Clean patterns
 * ```ts
 * import { parseDockerignore } from "./path_matcher.ts";
 *
 * parseDockerignore("# build output\n/dist/\n! ./dist/../README.md\n", ".dockerignore");
 * // ["dist", "!README.md"]
 * ```
 */
export function parseDockerignore(text: string, file: string): string[] {
  const lines = text.replace(/^\ufeff/, "").split("\n");
  const patterns: string[] = [];

  lines.forEach((rawLine, index) => {
    const line = rawLine.replace(/\r$/, "");
    // A comment starts in the first column, so "  #x" is the pattern "#x".
    if (line.startsWith("#")) return;
    const written = trimWhitespace(line);
    if (written === "") return;

    const pattern = normalizePattern(written);
    try {
      compileEntry(pattern);
    } catch (error) {
      throw new InvalidInputError(
        `${file}:${index + 1}: invalid pattern ${JSON.stringify(written)}: ${
          (error as Error).message
        }`,
        { cause: error, data: { file, line: index + 1, pattern: written } },
      );
    }
    patterns.push(pattern);
  });
  return patterns;
}

/**
 * Creates a matcher for `patterns`, such as the result of
 * {@linkcode parseDockerignore} or the values of `COPY --exclude`.
 * Patterns are cleaned again, so raw ones are accepted too.
 *
 * @param patterns Patterns in order; a leading `!` re-includes.
 * @returns A matcher; see {@linkcode PathMatcher}.
 * @throws {InvalidInputError} on a malformed pattern, naming it.
 *
 * @example Keep only Go files
 * ```ts
 * import { createPathMatcher } from "./path_matcher.ts";
 *
 * const matcher = createPathMatcher(["**", "!**\/*.go"]);
 * matcher.matches("cmd/main.go"); // false
 * matcher.matches("README.md"); // true
 * ```
 */
export function createPathMatcher(patterns: readonly string[]): PathMatcher {
  const entries = patterns
    .map((pattern) => trimWhitespace(pattern))
    .filter((pattern) => pattern !== "")
    .map((pattern) => {
      const normalized = normalizePattern(pattern);
      try {
        return compileEntry(normalized);
      } catch (error) {
        throw new InvalidInputError(
          `invalid pattern ${JSON.stringify(pattern)}: ${(error as Error).message}`,
          { cause: error, data: { pattern } },
        );
      }
    });

  return {
    patterns: entries.map((entry) => (entry.exclusion ? "!" : "") + entry.compiled.source),
    hasExclusions: entries.some((entry) => entry.exclusion),
    matches: (path) => {
      const cleaned = cleanContextPath(path);
      if (cleaned === ".") return false;
      const last = lastMatchingEntry(entries, cleaned);
      return last !== undefined && !entries[last].exclusion;
    },
    canSkipDirectory: (dir) => canSkipDirectory(entries, cleanContextPath(dir)),
  };
}

interface Entry {
  exclusion: boolean;
  compiled: CompiledPattern;
}

// Splits off `!` and cleans the rest the way Docker reads .dockerignore.
function normalizePattern(pattern: string): string {
  const exclusion = pattern.startsWith("!");
  let body = exclusion ? trimWhitespace(pattern.slice(1)) : pattern;
  if (body !== "") {
    body = cleanPath(body);
    if (body.length > 1 && body.startsWith("/")) body = body.slice(1);
  }
  return (exclusion ? "!" : "") + body;
}

function compileEntry(pattern: string): Entry {
  const exclusion = pattern.startsWith("!");
  const body = exclusion ? pattern.slice(1) : pattern;
  if (body === "") throw new SyntaxError('"!" must be followed by a pattern');
  return { exclusion, compiled: compileIgnorePattern(body) };
}

function cleanContextPath(path: string): string {
  const cleaned = cleanPath(path);
  if (cleaned === "/") return ".";
  return cleaned.startsWith("/") ? cleaned.slice(1) : cleaned;
}

// Returns the index of the last entry that matches `path` or a directory above it.
function lastMatchingEntry(entries: readonly Entry[], path: string): number | undefined {
  const segments = path.split("/");
  const candidates = segments.map((_, i) => segments.slice(0, i + 1).join("/"));

  for (let i = entries.length - 1; i >= 0; i--) {
    if (candidates.some((candidate) => entries[i].compiled.test(candidate))) return i;
  }
  return undefined;
}

// Every pattern that matches `dir` also matches everything below it, so a
// path below `dir` can only escape exclusion through a `!` pattern that
// comes after the last pattern matching `dir`.
function canSkipDirectory(entries: readonly Entry[], dir: string): boolean {
  if (dir === ".") return false;
  const last = lastMatchingEntry(entries, dir);
  if (last === undefined || entries[last].exclusion) return false;

  return !entries
    .slice(last + 1)
    .some((entry) => entry.exclusion && entry.compiled.mayMatchBelow(dir));
}

function trimWhitespace(text: string): string {
  return text.trim();
}
