/**
 * Resolution of a git source: its reference turned into a full commit hash,
 * with as little network traffic as the reference allows.
 *
 * @module
 */

import type { PluginContext } from "../../mod.ts";
import { InvalidInputError, NotFoundError } from "../../core/errors.ts";
import { findAbbreviatedCommit } from "./_git_store.ts";
import { connectRemote, listRemoteRefs } from "./_git_remote.ts";
import {
  closeMatches,
  commitsWithPrefix,
  isAbbreviatedHash,
  isFullHash,
  matchRef,
  type RemoteRef,
} from "./_git_refs.ts";
import { openSharedRepository, recordedCommitsWithPrefix } from "./_git_repository.ts";
import type { GitSource } from "./_git_url.ts";

/**
 * Returns the commit `source.ref` names. A full hash is its own answer and
 * costs no request. Anything else costs one ref listing; an abbreviated hash
 * that no ref tip or earlier fetch matches also costs a history search.
 */
export async function resolveCommit(source: GitSource, context: PluginContext): Promise<string> {
  if (isFullHash(source.ref)) return source.ref.toLowerCase();

  const remote = await connectRemote(source, context);
  const refs = await listRemoteRefs(remote);
  context.logger.debug("listed git references", { url: source.url, refs: refs.length });
  const matched = matchRef(refs, source.ref);
  if (matched) return matched.commit;
  if (!isAbbreviatedHash(source.ref)) throw unknownReference(source, refs);

  const prefix = source.ref.toLowerCase();
  const fromRefs = commitsWithPrefix(refs, prefix);
  if (fromRefs.length > 0) return single(fromRefs, source);
  const repository = await openSharedRepository(await context.content.dataDir("git"), source.url);
  const recorded = await recordedCommitsWithPrefix(repository, prefix);
  if (recorded.length > 0) return single(recorded, source);
  const searched = await findAbbreviatedCommit(repository, remote, prefix, context);
  if (searched.length > 0) return single(searched, source);
  throw unknownReference(source, refs);
}

function single(commits: string[], source: GitSource): string {
  if (commits.length === 1) return commits[0];
  throw new InvalidInputError(
    `Failed to resolve git reference "${source.ref}" in "${source.url}": the abbreviated hash is ambiguous (matches ${
      commits.slice(0, 5).map((commit) => `"${commit}"`).join(", ")
    }); give more digits`,
    { data: { url: source.url, ref: source.ref, candidates: commits } },
  );
}

function unknownReference(source: GitSource, refs: RemoteRef[]): NotFoundError {
  const matches = closeMatches(refs, source.ref);
  const branches = refs.filter(({ ref }) => ref.startsWith("refs/heads/")).length;
  const tags = refs.filter(({ ref }) => ref.startsWith("refs/tags/")).length;
  const hint = matches.length > 0
    ? `close matches: ${matches.map((name) => `"${name}"`).join(", ")}`
    : `the repository has ${branches} branches and ${tags} tags`;
  return new NotFoundError(
    `Failed to resolve git reference "${source.ref}" in "${source.url}": no branch, tag or commit has that name (${hint})`,
    { data: { url: source.url, ref: source.ref, closeMatches: matches } },
  );
}
