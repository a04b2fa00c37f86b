/**
 * Turns a reference string into a commit hash using a remote's ref listing,
 * with git's lookup order, annotated tags peeled, and close matches for a
 * name that is not there.
 *
 * @module
 */

/** One ref from a remote's listing (protocol v2 `ls-refs` with symrefs and peeled tags). */
export interface RemoteRef {
  /** Full name, e.g. "refs/heads/main" or "HEAD". */
  ref: string;
  oid: string;
  /** For a symbolic ref such as HEAD: the ref it points at. */
  target?: string;
  /** For an annotated tag: the object the tag chain ends at. */
  peeled?: string;
}

/** A reference matched in a listing. */
export interface MatchedRef {
  /** The commit hash (the peeled object for an annotated tag). */
  commit: string;
  /** The full ref name that matched. */
  ref: string;
}

const FULL_HASH = /^[0-9a-f]{40}$/;
const ABBREVIATED_HASH = /^[0-9a-f]{4,39}$/;

/** Reports whether `ref` is a full 40-digit commit hash (case-insensitive). */
export function isFullHash(ref: string): boolean {
  return FULL_HASH.test(ref.toLowerCase());
}

/** Reports whether `ref` could be an abbreviated commit hash: 4 to 39 hex digits. */
export function isAbbreviatedHash(ref: string): boolean {
  return ABBREVIATED_HASH.test(ref.toLowerCase());
}

/**
 * Finds `name` among `refs` in the order `git rev-parse` uses: the name as
 * given, then under refs/, refs/tags/, refs/heads/, refs/remotes/ and as a
 * remote's HEAD. "HEAD" is the remote's default branch.
 */
export function matchRef(refs: RemoteRef[], name: string): MatchedRef | undefined {
  const byName = new Map(refs.map((ref) => [ref.ref, ref]));
  const candidates = [
    name,
    `refs/${name}`,
    `refs/tags/${name}`,
    `refs/heads/${name}`,
    `refs/remotes/${name}`,
    `refs/remotes/${name}/HEAD`,
  ];
  for (const candidate of candidates) {
    const found = byName.get(candidate);
    if (found) return { commit: found.peeled ?? found.oid, ref: found.ref };
  }
  return undefined;
}

/** Returns the commits in `refs` whose hash starts with `prefix`, each once. */
export function commitsWithPrefix(refs: RemoteRef[], prefix: string): string[] {
  const lower = prefix.toLowerCase();
  const commits = new Set<string>();
  for (const ref of refs) {
    const commit = ref.peeled ?? ref.oid;
    if (commit.startsWith(lower)) commits.add(commit);
  }
  return [...commits];
}

/** Returns up to `limit` branch and tag names that look like `name`, closest first. */
export function closeMatches(refs: RemoteRef[], name: string, limit = 5): string[] {
  const names = new Set<string>();
  for (const { ref } of refs) {
    const short = ref.replace(/^refs\/(heads|tags)\//, "");
    if (short !== ref) names.add(short);
  }
  const wanted = name.replace(/^refs\/(heads|tags)\//, "").toLowerCase();
  const scored = [...names].map((candidate) => {
    const lower = candidate.toLowerCase();
    const distance = editDistance(wanted, lower);
    const related = lower.includes(wanted) || wanted.includes(lower);
    return { candidate, score: related ? Math.min(distance, 1) : distance };
  });
  const threshold = Math.max(2, Math.floor(wanted.length / 3));
  return scored
    .filter(({ score }) => score <= threshold)
    .sort((a, b) => a.score - b.score || (a.candidate < b.candidate ? -1 : 1))
    .slice(0, limit)
    .map(({ candidate }) => candidate);
}

/** Levenshtein distance between `a` and `b`. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j] + 1, current[j - 1] + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length];
}
