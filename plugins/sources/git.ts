/**
 * The `git` source: a repository fetched over smart HTTP(S) with
 * isomorphic-git, pinned to a commit hash, and checked out into a snapshot.
 *
 * The identifier is `git://<URL>`, where the URL may end in `#ref:subdir` as
 * in BuildKit; the attributes `ref`, `subdir`, `keep-git-dir` and `submodules`
 * win over the fragment.
 *
 * - `onResolve` turns the reference into a commit hash. A full hash costs no
 *   request; a branch or tag costs one ref listing (protocol v2 `ls-refs`).
 *   The pin is the hash, and the cache key leaves `ref` out, so every
 *   reference naming one commit shares one cache entry.
 * - `onLoad` fetches that commit at depth 1, unless an earlier fetch brought
 *   it, into a bare repository that every build of the same remote shares
 *   (under the store's `data/git/`). A fetch lands in a staging repository
 *   first and joins the shared one only once its packs are verified, so
 *   damaged data leaves the shared one as it was. The checkout keeps file
 *   modes and symlinks, gives every file the commit time and owner 0:0 (as
 *   tsbuild runs as root), and has no `.git` unless `keep-git-dir` is set.
 * - isomorphic-git lists refs and fetches from protocol v1 servers. Protocol
 *   v2 fetches, pack indexing and object reading are tsbuild's own, because
 *   isomorphic-git's take seconds for a few thousand files.
 * - Credentials come from the secrets `GIT_AUTH_HEADER` and `GIT_AUTH_TOKEN`
 *   (optionally suffixed `.<host>`), the URL's userinfo, or the environment
 *   variable `TSBUILD_GIT_AUTH_TOKEN`; messages and keys carry the URL
 *   without them.
 *
 * @module
 */

import type {
  Plugin,
  PluginContext,
  SourceLoadArgs,
  SourceLoadResult,
  SourcePlugin,
  SourceResolveArgs,
  SourceResolveResult,
} from "../../mod.ts";
import { digestHex, digestOf } from "../../core/digest.ts";
import { InvalidInputError } from "../../core/errors.ts";
import { isFullHash } from "./_git_refs.ts";
import { type GitSource, parseGitSource } from "./_git_url.ts";

export { isGitUrl, redactUrl, redactUrls, splitGitUrl } from "./_git_url.ts";

async function onResolve(
  args: SourceResolveArgs,
  context: PluginContext,
): Promise<SourceResolveResult> {
  const source = parseGitSource(args.path, args.attrs);
  // The fetch and checkout code (about 20 modules) is imported on first use, because the
  // Dockerfile frontend loads this module for its URL helpers in every build.
  const { resolveCommit } = await import("./_git_resolve.ts");
  const commit = await resolveCommit(source, context);
  return { pin: commit, cacheAttrs: contentAttrs(source) };
}

async function onLoad(args: SourceLoadArgs, context: PluginContext): Promise<SourceLoadResult> {
  const source = parseGitSource(args.path, args.attrs);
  if (!isFullHash(args.pin)) {
    throw new InvalidInputError(
      `Failed to load git source "${source.url}": invalid pin "${args.pin}": expected a 40-digit commit hash`,
    );
  }
  const commit = args.pin.toLowerCase();
  const id = snapshotId(commit, source);
  if (await context.content.hasSnapshot(id)) return { snapshot: id };

  const { writeSource } = await import("./_git_load.ts");
  const snapshot = await context.content.createSnapshot(
    { id, kind: "git" },
    (diffDir) => writeSource(source, commit, diffDir, context),
  );
  return { snapshot };
}

/**
 * Returns the attributes that change what a commit checks out as. The remote
 * URL counts only with `keep-git-dir`, whose `.git/config` names it.
 */
function contentAttrs(source: GitSource): Record<string, string> {
  const attrs: Record<string, string> = {};
  if (source.subdir) attrs.subdir = source.subdir;
  if (source.keepGitDir) {
    attrs["keep-git-dir"] = "true";
    attrs.remote = source.url;
  }
  if (source.submodules) attrs.submodules = "true";
  return attrs;
}

function snapshotId(commit: string, source: GitSource): string {
  const identity = JSON.stringify({ commit, ...contentAttrs(source) });
  return `git-${digestHex(digestOf(identity)).slice(0, 48)}`;
}

/** The source plugin serving `git://URL`. */
export const gitSource: SourcePlugin = { schemes: ["git"], onResolve, onLoad };

/** The built-in plugin that provides the `git` source. */
const plugin: Plugin = { apiVersion: 1, name: "builtin-git-source", sources: [gitSource] };
export default plugin;
