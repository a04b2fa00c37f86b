/**
 * Recognises a build context or `--local` value that names a git repository,
 * such as `https://host/repo.git#v1:app`, and turns it into the identifier of
 * the `git` source that fetches it.
 *
 * @module
 */

/**
 * Reports whether `value` names a git repository rather than a directory,
 * with the rules of `docker build`: a `git://` or `git@` prefix, a
 * `github.com/` prefix, or an HTTP(S) URL whose path ends in `.git`,
 * optionally followed by `#ref:subdir`.
 */
export function isGitContext(value: string): boolean {
  if (value.startsWith("git://") || value.startsWith("git@")) return true;
  if (value.startsWith("github.com/")) return true;
  return /^https?:\/\//i.test(value) && /\.git(#.+)?$/.test(value);
}

/** Returns the source identifier for git context `value`; the source reads `#ref:subdir`. */
export function gitContextIdentifier(value: string): string {
  return `git://${value}`;
}
