/**
 * Brings commits into the shared repository: each fetch goes into a staging
 * repository under the exclusive lock, is verified, and only then moved in.
 *
 * @module
 */

import type { PluginContext, VertexProgress } from "../../mod.ts";
import { DigestMismatchError, NotFoundError, TsbuildError } from "../../core/errors.ts";
import { deepenUntil, fetchCommit, type FetchOptions } from "./_git_fetch.ts";
import { type GitRemote, libraryMessage, remoteFailure } from "./_git_remote.ts";
import {
  createStaging,
  hasCommit,
  installStaging,
  recordedCommitsWithPrefix,
  type SharedRepository,
  withRepositoryLock,
} from "./_git_repository.ts";
import { verifyStaging } from "./_git_verify.ts";
import { PackReader } from "./_git_pack.ts";

/** Fetches `commit` into `repository` unless it is already there. */
export async function ensureCommit(
  repository: SharedRepository,
  remote: GitRemote,
  commit: string,
  context: PluginContext,
): Promise<void> {
  if (await hasCommit(repository, commit)) return;
  await withRepositoryLock(repository, "exclusive", async () => {
    // Another build may have fetched it while this one waited for the lock.
    if (await hasCommit(repository, commit)) return;
    const name = `fetching ${remote.source.url} ${commit.slice(0, 12)}`;
    await context.progress.step(
      name,
      (progress) =>
        fetchVerified(repository, remote, progress, async (staging, options) => {
          if (await fetchCommit(staging, commit, options)) return [commit];
          throw new NotFoundError(
            `Failed to fetch ${remote.label}: the server has no commit "${commit}" reachable from its branches and tags`,
            { data: { url: remote.source.url, ref: remote.source.ref, commit } },
          );
        }),
    );
  });
}

/**
 * Searches the remote's history for commits whose hash starts with `prefix`,
 * records those it finds in `repository` and returns them.
 */
export async function findAbbreviatedCommit(
  repository: SharedRepository,
  remote: GitRemote,
  prefix: string,
  context: PluginContext,
): Promise<string[]> {
  return await withRepositoryLock(repository, "exclusive", async () => {
    const recorded = await recordedCommitsWithPrefix(repository, prefix);
    if (recorded.length > 0) return recorded;
    const name = `searching ${remote.source.url} for commit ${prefix}`;
    return await context.progress.step(
      name,
      (progress) =>
        fetchVerified(repository, remote, progress, async (staging, options) => {
          let matches: string[] = [];
          await deepenUntil(staging, options, async (objects) => {
            matches = await commitsAmong(staging, objects, prefix);
            return matches.length > 0;
          });
          return matches;
        }),
    );
  });
}

/**
 * Runs `fetch` into a fresh staging repository, verifies the commits it
 * returns and moves the result into `repository`. The staging repository is
 * removed whatever happens, so a failed or damaged fetch changes nothing.
 */
async function fetchVerified(
  repository: SharedRepository,
  remote: GitRemote,
  progress: VertexProgress,
  fetch: (staging: string, options: FetchOptions) => Promise<string[]>,
): Promise<string[]> {
  const staging = await createStaging(repository);
  try {
    const options: FetchOptions = {
      url: remote.source.url,
      http: remote.http,
      onProgress: throttle(progress),
    };
    let commits: string[];
    try {
      commits = await fetch(staging, options);
    } catch (error) {
      if (error instanceof TsbuildError) throw error;
      throw remoteFailure(`Failed to fetch ${remote.label}`, remote, error, {
        damaged: "pack data",
      });
    }
    if (commits.length === 0) return commits;

    try {
      await verifyStaging(staging, commits);
    } catch (error) {
      if (!(error instanceof RangeError)) throw error;
      throw new DigestMismatchError(
        `Failed to fetch ${remote.label}: corrupt pack data from the server: ${
          libraryMessage(error)
        }`,
        { cause: error, data: { url: remote.source.url, ref: remote.source.ref } },
      );
    }
    await installStaging(repository, staging, commits);
    return commits;
  } finally {
    await Deno.remove(staging, { recursive: true }).catch(() => {});
  }
}

// Status lines at most every 100 ms, besides the first and last of each phase.
// The counts are objects, not bytes, so they go into the message.
function throttle(progress: VertexProgress): FetchOptions["onProgress"] {
  let lastPhase = "";
  let lastLoaded = -1;
  let lastTime = 0;
  return (phase, loaded, total) => {
    const now = Date.now();
    if (phase === lastPhase && loaded === lastLoaded) return;
    if (phase === lastPhase && loaded < total && now - lastTime < 100) return;
    lastPhase = phase;
    lastLoaded = loaded;
    lastTime = now;
    progress.status(`${phase} (${loaded}/${total})`);
  };
}

async function commitsAmong(
  gitdir: string,
  objects: Set<string>,
  prefix: string,
): Promise<string[]> {
  const candidates = [...objects].filter((oid) => oid.startsWith(prefix));
  if (candidates.length === 0) return [];
  const reader = await PackReader.open(gitdir);
  return candidates.filter((oid) => reader.read(oid).type === "commit").sort();
}
