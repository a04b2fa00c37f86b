/**
 * Fetches commits into a staging repository: one commit at depth 1 when the
 * server hands it out directly, otherwise the history of every branch and
 * tag, deepened until the commit turns up. Servers that speak protocol v2
 * get tsbuild's own fetch; older ones get isomorphic-git's.
 *
 * @module
 */

import { isomorphicGit } from "./_git_library.ts";
import type { HttpClient } from "isomorphic-git";
import { join, loadNodeFs } from "../../core/deps.ts";
import { fetchPackV2, FetchRefusedError } from "./_git_fetch_v2.ts";
import { listPacks } from "./_git_pack_check.ts";
import { parsePackIndex } from "./_git_pack.ts";
import { readShallow } from "./_git_repository.ts";

// This module loads only with the git source, so Node's fs module can load with it.
const nodeFs = await loadNodeFs();

/** Settings of a fetch: the remote, its HTTP client and a progress callback. */
export interface FetchOptions {
  /** The remote URL, without credentials. */
  url: string;
  http: HttpClient;
  /** Reports progress lines such as "Receiving objects" with object counts. */
  onProgress?: (phase: string, loaded: number, total: number) => void;
}

// Depths tried in turn when the server refuses a commit no ref points at. The
// last one stands for "all of it": a deeper history is not searched.
const DEEPEN_STEPS = [50, 500, 5000, 50_000, 1_000_000];

// The protocol each remote URL was last seen to speak, from the advertisement
// of its ref listing, so a fetch after a resolve needs no request to find out.
const knownProtocols = new Map<string, 1 | 2>();
const MAX_KNOWN_PROTOCOLS = 64;

/** Records that the server at `url` speaks protocol `version` for fetches. */
export function rememberProtocol(url: string, version: 1 | 2): void {
  knownProtocols.delete(url);
  knownProtocols.set(url, version);
  if (knownProtocols.size > MAX_KNOWN_PROTOCOLS) {
    knownProtocols.delete(knownProtocols.keys().next().value!);
  }
}

/**
 * Fetches `commit` and its tree into `staging` at depth 1. Servers that
 * speak smart HTTP hand out any commit reachable from a ref, because git's
 * upload-pack does so for stateless requests and in protocol v2. When a
 * stricter server rejects the request, the branches and tags are deepened
 * until the commit arrives. Returns false when the whole history lacks it.
 */
export async function fetchCommit(
  staging: string,
  commit: string,
  options: FetchOptions,
): Promise<boolean> {
  if (await serverProtocol(options) === 2) {
    try {
      await fetchPackV2(options.http, options.url, staging, { wants: [commit], depth: 1 });
    } catch (error) {
      if (!(error instanceof FetchRefusedError)) throw error;
    }
  } else {
    await (await isomorphicGit()).fetch({
      fs: nodeFs,
      http: options.http,
      gitdir: staging,
      url: options.url,
      ref: commit,
      singleBranch: true,
      depth: 1,
      tags: false,
      onProgress: progressCallback(options),
    });
  }
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
  const v2 = await serverProtocol(options) === 2;
  const tips = v2 ? await refTips(options) : [];
  for (const depth of DEEPEN_STEPS) {
    let complete: boolean;
    if (v2) {
      // Each round requests the whole depth again, so the packs of the last one suffice.
      await removePacks(staging);
      const { shallow } = await fetchPackV2(options.http, options.url, staging, {
        wants: tips,
        depth,
      });
      await Deno.writeTextFile(join(staging, "shallow"), shallow.map((oid) => `${oid}\n`).join(""));
      complete = shallow.length === 0;
    } else {
      await (await isomorphicGit()).fetch({
        fs: nodeFs,
        http: options.http,
        gitdir: staging,
        url: options.url,
        ref: "HEAD",
        singleBranch: false,
        tags: true,
        depth,
        onProgress: progressCallback(options),
      });
      complete = (await readShallow(staging)).size === 0;
    }
    if (await found(await stagedObjects(staging))) return true;
    // No shallow commits left means the fetched history is complete.
    if (complete) return false;
  }
  return false;
}

/** Returns the ids of every object in the packs of `gitdir`. */
export async function stagedObjects(gitdir: string): Promise<Set<string>> {
  const objects = new Set<string>();
  for (const files of await listPacks(gitdir)) {
    const index = parsePackIndex(await Deno.readFile(files.index), `${files.name}.idx`);
    for (const oid of index.offsets.keys()) objects.add(oid);
  }
  return objects;
}

// The protocol version the server speaks for fetches: known from an earlier
// advertisement, or asked for with one request.
async function serverProtocol(options: FetchOptions): Promise<1 | 2> {
  const known = knownProtocols.get(options.url);
  if (known) return known;
  const info = await (await isomorphicGit()).getRemoteInfo2({
    http: options.http,
    url: options.url,
    protocolVersion: 2,
  });
  const fetch = info.protocolVersion === 2 ? info.capabilities.fetch : undefined;
  const version = typeof fetch === "string" && fetch.split(" ").includes("shallow") ? 2 : 1;
  rememberProtocol(options.url, version);
  return version;
}

async function refTips(options: FetchOptions): Promise<string[]> {
  const refs = await (await isomorphicGit()).listServerRefs({
    http: options.http,
    url: options.url,
    protocolVersion: 2,
    prefix: "refs/",
  });
  const tips = refs
    .filter(({ ref }) => ref.startsWith("refs/heads/") || ref.startsWith("refs/tags/"))
    .map(({ oid }) => oid);
  return [...new Set(tips)];
}

async function removePacks(gitdir: string): Promise<void> {
  const dir = join(gitdir, "objects/pack");
  for await (const entry of Deno.readDir(dir)) await Deno.remove(join(dir, entry.name));
}

function progressCallback(options: FetchOptions) {
  const report = options.onProgress;
  if (!report) return undefined;
  return (event: { phase: string; loaded: number; total: number }) =>
    report(event.phase, event.loaded, event.total);
}
