/**
 * A git server on loopback, a real store and plugin context, and helpers
 * that resolve and load `git://` sources directly or through the solver.
 *
 * @module
 */

import { join } from "../../../core/deps.ts";
import type { Digest } from "../../../core/digest.ts";
import { git as gitState } from "../../../core/graph/builder.ts";
import { loadGraph } from "../../../core/graph/definition.ts";
import { createPluginContext } from "../../../core/plugin/context.ts";
import { PluginRegistry } from "../../../core/plugin/registry.ts";
import type { PluginContext, SourceResolveResult } from "../../../core/plugin/types.ts";
import { RecordingSink } from "../../../core/progress/events.ts";
import { Solver } from "../../../core/solver/solver.ts";
import { openStore, type Store } from "../../../core/store/store.ts";
import gitPlugin, { gitSource } from "../../../plugins/sources/git.ts";
import {
  createTestRepository,
  type GitServer,
  type GitServerOptions,
  startGitServer,
  type TestRepository,
} from "../../_fixtures/git_server.ts";

const PLATFORM = { os: "linux", architecture: "amd64" };

/** Settings of one plugin context. */
export interface ContextOptions {
  /** Secrets by id, as `--secret` would provide them. */
  secrets?: Record<string, string>;
  signal?: AbortSignal;
}

/** What {@link GitFixture.load} returns. */
export interface LoadOutcome extends SourceResolveResult {
  snapshot: string;
  diffDir: string;
}

/** What {@link GitFixture.solve} returns. */
export interface SolveOutcome {
  key: Digest;
  snapshot: string;
  diffDir: string;
  /** Whether the solver found the result in the cache. */
  cached: boolean;
}

/** A temporary directory with a git server, a store and helpers. */
export interface GitFixture {
  dir: string;
  server: GitServer;
  store: Store;
  sink: RecordingSink;
  /** Creates repository `name` on the server with a working tree to commit from. */
  repository(name: string): Promise<TestRepository>;
  context(options?: ContextOptions): PluginContext;
  /** Calls the git source's onResolve for `git://<path>`. */
  resolve(
    path: string,
    attrs?: Record<string, string>,
    options?: ContextOptions,
  ): Promise<SourceResolveResult>;
  /** Calls onResolve, then onLoad, and returns the snapshot's diff directory. */
  load(
    path: string,
    attrs?: Record<string, string>,
    options?: ContextOptions,
  ): Promise<LoadOutcome>;
  /** Solves `git(url, {ref})` with a fresh solver, as a build would, with the cache. */
  solve(url: string, ref?: string, options?: ContextOptions): Promise<SolveOutcome>;
}

/** Runs `fn` with a fresh server, store and temporary directory, removing all afterwards. */
export async function withGitFixture(
  fn: (fixture: GitFixture) => Promise<void>,
  serverOptions: Omit<GitServerOptions, "root"> = {},
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "tsbuild-git-test-" });
  await Deno.mkdir(join(dir, "server"));
  const server = await startGitServer({ ...serverOptions, root: join(dir, "server") });
  const store = await openStore(join(dir, "store"));
  const sink = new RecordingSink();
  const plugins = new PluginRegistry();
  plugins.register(gitPlugin);

  const contextOptions = (options: ContextOptions = {}) => ({
    store,
    registry: undefined as never,
    sink,
    signal: options.signal ?? new AbortController().signal,
    platform: PLATFORM,
    secrets: {
      get: (id: string) => {
        const value = options.secrets?.[id];
        return Promise.resolve(value === undefined ? undefined : new TextEncoder().encode(value));
      },
    },
  });
  const context = (options?: ContextOptions) => createPluginContext(contextOptions(options));
  const args = (path: string, attrs: Record<string, string>) => ({
    identifier: `git://${path}`,
    scheme: "git",
    path,
    attrs,
    platform: PLATFORM,
  });

  const fixture: GitFixture = {
    dir,
    server,
    store,
    sink,
    repository: (name) => createTestRepository(server.root, name, join(dir, "work")),
    context,
    resolve: (path, attrs = {}, options) =>
      gitSource.onResolve(args(path, attrs), context(options)),
    async load(path, attrs = {}, options) {
      const resolved = await gitSource.onResolve(args(path, attrs), context(options));
      const loaded = await gitSource.onLoad(
        { ...args(path, attrs), pin: resolved.pin },
        context(options),
      );
      if (!loaded.snapshot) throw new Error("onLoad returned no snapshot");
      return {
        ...resolved,
        snapshot: loaded.snapshot,
        diffDir: store.snapshots.diffDir(loaded.snapshot),
      };
    },
    async solve(url, ref, options) {
      const graph = loadGraph(gitState(url, ref ? { ref } : {}).marshal());
      const solver = new Solver({
        ...contextOptions(options),
        plugins,
        executor: undefined as never,
      });
      const result = await solver.solve(graph);
      if (!result?.snapshot) throw new Error("the solver returned no snapshot");
      return {
        key: result.key,
        snapshot: result.snapshot,
        diffDir: store.snapshots.diffDir(result.snapshot),
        cached: solver.stats.cacheHits.size > 0,
      };
    },
  };
  try {
    await fn(fixture);
  } finally {
    await server.stop();
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * Lists every entry under `root`, sorted: "path=content" for files,
 * "path/" for directories and "path -> target" for symlinks.
 */
export async function describeTree(root: string, prefix = ""): Promise<string[]> {
  const lines: string[] = [];
  const entries = await Array.fromAsync(Deno.readDir(join(root, prefix)));
  entries.sort((a, b) => (a.name < b.name ? -1 : 1));
  for (const entry of entries) {
    const path = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isSymlink) lines.push(`${path} -> ${await Deno.readLink(join(root, path))}`);
    else if (entry.isDirectory) lines.push(`${path}/`, ...await describeTree(root, path));
    else lines.push(`${path}=${await Deno.readTextFile(join(root, path))}`);
  }
  return lines;
}

/** Returns the permission bits of `path` (not following a symlink). */
export async function modeOf(path: string): Promise<number> {
  return (await Deno.lstat(path)).mode! & 0o7777;
}
