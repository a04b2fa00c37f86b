/**
 * A real store, plugin context and progress recording for tests of the `local` source.
 *
 * @module
 */

import { dirname, join } from "../../../core/deps.ts";
import { createPluginContext } from "../../../core/plugin/context.ts";
import type { PluginContext, SourceResolveResult } from "../../../core/plugin/types.ts";
import { RecordingSink } from "../../../core/progress/events.ts";
import { openStore, type Store } from "../../../core/store/store.ts";
import { localSource } from "../../../plugins/sources/local.ts";

/** A time in the past given to fixture files, so none is within the scan's clock tick. */
export const PAST = new Date(1_600_000_000_000);

/** Counts from the last "[internal] load local" status. */
export interface LocalCounts {
  read: number;
  files: number;
  reused: number;
  skipped: number;
  excluded: number;
}

/** A temporary directory with a store in it. */
export interface LocalFixture {
  dir: string;
  store: Store;
  sink: RecordingSink;
  context(locals?: Record<string, string>): PluginContext;
  /** Resolves `local://NAME` and returns the result with the counts of that scan. */
  resolve(
    name: string,
    attrs?: Record<string, string>,
    locals?: Record<string, string>,
  ): Promise<ResolveOutcome>;
  /** Resolves then loads `local://NAME` and returns the snapshot's diff directory. */
  load(
    name: string,
    attrs?: Record<string, string>,
    locals?: Record<string, string>,
  ): Promise<LoadOutcome>;
}

/** What {@link LocalFixture.resolve} returns. */
export interface ResolveOutcome extends SourceResolveResult {
  counts: LocalCounts;
}

/** What {@link LocalFixture.load} returns. */
export interface LoadOutcome {
  pin: string;
  snapshot: string;
  diffDir: string;
}

/** Runs `fn` with a fresh temporary directory and store, removing both afterwards. */
export async function withLocalFixture(
  fn: (fixture: LocalFixture) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "tsbuild-local-test-" });
  const store = await openStore(join(dir, "store"));
  const sink = new RecordingSink();
  const context = (locals: Record<string, string> = { context: join(dir, "context") }) =>
    createPluginContext({
      store,
      registry: undefined as never,
      locals,
      sink,
      signal: new AbortController().signal,
      platform: { os: "linux", architecture: "amd64" },
    });
  const args = (name: string, attrs: Record<string, string>) => ({
    identifier: `local://${name}`,
    scheme: "local",
    path: name,
    attrs,
    platform: { os: "linux", architecture: "amd64" },
  });
  const fixture: LocalFixture = {
    dir,
    store,
    sink,
    context,
    async resolve(name, attrs = {}, locals) {
      const result = await localSource.onResolve(args(name, attrs), context(locals));
      return { ...result, counts: lastCounts(sink, name) };
    },
    async load(name, attrs = {}, locals) {
      const { pin } = await localSource.onResolve(args(name, attrs), context(locals));
      const { snapshot } = await localSource.onLoad({ ...args(name, attrs), pin }, context(locals));
      if (!snapshot) throw new Error("onLoad returned no snapshot");
      return { pin, snapshot, diffDir: store.snapshots.diffDir(snapshot) };
    },
  };
  try {
    await fn(fixture);
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/** Returns the counts in the last status of the step loading local `name`. */
export function lastCounts(sink: RecordingSink, name: string): LocalCounts {
  const statuses = sink.events.filter((event) =>
    event.type === "vertex.status" && event.vertex.name === `[internal] load local ${name}`
  );
  const last = statuses.at(-1);
  if (last?.type !== "vertex.status") throw new Error(`no status for local "${name}"`);
  const match = last.message.match(
    /^(\d+) of (\d+) files read, (\d+) reused, (\d+) skipped, (\d+) excluded$/,
  );
  if (!match) throw new Error(`unexpected status "${last.message}"`);
  const [read, files, reused, skipped, excluded] = match.slice(1).map(Number);
  return { read, files, reused, skipped, excluded };
}

/** Writes `files` (relative path to content) under `root`, creating parents, all with mtime {@link PAST}. */
export async function writeTree(root: string, files: Record<string, string>): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    const full = join(root, path);
    await Deno.mkdir(dirname(full), { recursive: true });
    await Deno.writeTextFile(full, content);
    await Deno.utime(full, PAST, PAST);
  }
}

/**
 * Waits until the ctime a file created in `dir` gets, as `Deno.lstat`
 * reports it, is later than that of files changed before the call. A scan
 * does not trust its record of a file changed within its own clock tick, and
 * Deno reports ctime in whole seconds. Without the wait, the scan after a
 * scan that follows a change would read the changed file again.
 */
export async function settle(dir: string): Promise<void> {
  const probe = join(dir, ".clock-probe");
  await Deno.writeFile(probe, new Uint8Array());
  const start = (await Deno.lstat(probe)).ctime!.getTime();
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 10));
    await Deno.writeFile(probe, new Uint8Array());
    if ((await Deno.lstat(probe)).ctime!.getTime() > start) break;
  }
  await Deno.remove(probe);
}

/**
 * Lists every entry under `root`, sorted: "path=content" for files, "path/"
 * for directories and "path -> target" for symlinks.
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
