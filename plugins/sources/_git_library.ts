/**
 * Loads isomorphic-git on first use: it takes about 30 ms to load, which
 * builds without a git source should not pay.
 *
 * @module
 */

type IsomorphicGit = typeof import("isomorphic-git");

let library: Promise<IsomorphicGit> | undefined;

/** Returns the isomorphic-git module, importing it on the first call. */
export function isomorphicGit(): Promise<IsomorphicGit> {
  library ??= import("isomorphic-git");
  return library;
}
