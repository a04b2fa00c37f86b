/**
 * Fetches commits into a staging repository with isomorphic-git: one commit
 * at depth 1 when the server hands it out directly, otherwise the history of
 * every branch and tag, deepened until the commit turns up.
 *
 * @module
 */

import * as isogit from "isomorphic-git";
import type { HttpClient } from "isomorphic-git";
import { nodeFs } from "../../core/deps.ts";
import { listPacks, readIndexedObjects } from "./_git_pack_check.ts";
import { readShallow } from "./_git_repository.ts";

/** Where and how to fetch. */
export interface FetchOptions {
  /** The remote URL, without credentials. */
  url: string;
  http: HttpClient;
  /** Shared by the reads of one operation, so pack indexes are parsed once. */
  cache: object;
  /** Reports progress lines such as "Receiving objects: 50% (1/2)". */
  onProgress?: (phase: string, loaded: number, total: number) => void;
}

// Depths tried in turn when the server refuses a commit no ref points at. The
// last one stands for "all of it": a deeper history is not searched.
const DEEPEN_STEPS = [50, 500, 5000, 50_000, 1_000_000];

/**
 * Fetches `commit` and its tree into `staging` at depth 1. Servers that
 * speak smart HTTP hand out any commit reachable from a ref (git's upload-pack
 * does so for stateless requests, and protocol v2 always); a stricter server
 * answers without a pack, and then the branches and tags are deepened until
 * the commit arrives. Returns false when the whole history lacks it.
 */
export async function fetchCommit(
  staging: string,
  commit: string,
  options: FetchOptions,
): Promise<boolean> {
  await isogit.fetch({
    fs: nodeFs,
    http: options.http,
    gitdir: staging,
    url: options.url,
    ref: commit,
    singleBranch: true,
    depth: 1,
    tags: false,
    cache: options.cache,
    onProgress: progressCallback(options),
  });
  if ((await stagedObjects(staging)).has(commit)) return true;
  return await deepenUntil(staging, options, (objects) => objects.has(commit));
}

/**
 * Fetches the history of every branch and tag into `staging`, deeper each
 * round, until `found` accepts the staged objects or the history is complete.
 * Returns whether `found` accepted them.
 */
export async function deepenUntil(
  staging: string,
  options: FetchOptions,
  found: (objects: Set<string>) => boolean | Promise<boolean>,
): Promise<boolean> {
  for (const depth of DEEPEN_STEPS) {
    await isogit.fetch({
      fs: nodeFs,
      http: options.http,
      gitdir: staging,
      url: options.url,
      ref: "HEAD",
      singleBranch: false,
      tags: true,
      depth,
      cache: options.cache,
      onProgress: progressCallback(options),
    });
    if (await found(await stagedObjects(staging))) return true;
    // No shallow commits left means the fetched history is complete.
    if ((await readShallow(staging)).size === 0) return false;
  }
  return false;
}

/** Returns the ids of every object in the packs of `gitdir`. */
export async function stagedObjects(gitdir: string): Promise<Set<string>> {
  const objects = new Set<string>();
  for (const files of await listPacks(gitdir)) {
    for (const oid of await readIndexedObjects(files)) objects.add(oid);
  }
  return objects;
}

function progressCallback(options: FetchOptions) {
  const report = options.onProgress;
  if (!report) return undefined;
  return (event: { phase: string; loaded: number; total: number }) =>
    report(event.phase, event.loaded, event.total);
}
