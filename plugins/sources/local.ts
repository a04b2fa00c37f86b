/**
 * The `local` source: a directory passed to the build (`--local NAME=DIR`, the
 * build context), pinned to the Merkle digest of its filtered contents and
 * snapshotted under that digest.
 *
 * A scan reads only files whose size, mtime, ctime, inode or mode changed
 * since the previous scan of the same directory and patterns. The record of
 * that scan is kept in the store's `local` data directory. The digest leaves out
 * mtimes, owners and inodes, so equal content gives an equal pin wherever it
 * lives. A snapshot hard-links the files an earlier snapshot already wrote
 * (see `_local_file_store.ts`), so only new and changed files are copied.
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
} from "../../core/plugin/types.ts";
import { LINKS_FOLDER } from "../../mod.ts";
import { isDigest } from "../../core/digest.ts";
import { DigestMismatchError, InvalidInputError } from "../../core/errors.ts";
import { type CopyCounts, copyTree } from "./_local_copy.ts";
import { FileStore } from "./_local_file_store.ts";
import { localDirectory, localPatterns, type LocalScan, scanLocal } from "./_local_resolve.ts";
import { selectionDigest } from "./_local_selection.ts";

/**
 * Scans from recent resolves, by directory, patterns and pin, so a load right
 * after its resolve need not scan again. A few are kept, for builds that
 * resolve several locals before loading them.
 */
const recentScans = new Map<string, LocalScan>();
const MAX_RECENT_SCANS = 4;

async function onResolve(
  args: SourceResolveArgs,
  context: PluginContext,
): Promise<SourceResolveResult> {
  const name = args.path;
  const dir = await localDirectory(name, context.locals);
  const patterns = localPatterns(name, args.attrs);

  const scan = await scanLocal(name, dir, patterns, context);
  remember(`${scanKey(dir, args.attrs)}\0${scan.tree.digest}`, scan);
  return {
    pin: scan.tree.digest,
    selectionDigest: (selection) => Promise.resolve(selectionDigest(scan.tree, selection)),
  };
}

async function onLoad(args: SourceLoadArgs, context: PluginContext): Promise<SourceLoadResult> {
  const name = args.path;
  if (!isDigest(args.pin)) {
    throw new InvalidInputError(
      `Failed to load local "${name}": invalid pin "${args.pin}": expected a sha256 digest`,
    );
  }
  const id = `local-${args.pin.slice("sha256:".length)}`;
  if (await context.content.hasSnapshot(id)) return { snapshot: id };

  const dir = await localDirectory(name, context.locals);
  const key = `${scanKey(dir, args.attrs)}\0${args.pin}`;
  const scan = recentScans.get(key) ??
    await scanLocal(name, dir, localPatterns(name, args.attrs), context);
  if (scan.tree.digest !== args.pin) {
    throw new DigestMismatchError(
      `Failed to load local "${name}": its content changed during the build: expected "${args.pin}", found "${scan.tree.digest}" (run the build again)`,
      { data: { local: name, expected: args.pin, found: scan.tree.digest } },
    );
  }

  // Prune removes the files there that no snapshot links to any more.
  const files = new FileStore(`${await context.content.dataDir("local")}/${LINKS_FOLDER}`);
  const snapshot = await context.progress.step(
    `[internal] snapshot local ${name}`,
    (progress) =>
      context.content.createSnapshot({ id, kind: "local" }, async (diffDir) => {
        const options = { name, stampMs: scan.stampMs, files, signal: context.signal };
        const counts = await copyTree(scan.tree, dir, diffDir, options);
        progress.status(
          formatCopyCounts(counts),
          counts.copied,
          counts.copied + counts.linked,
          "files",
        );
      }),
  );
  return { snapshot };
}

/** Formats the counts of a snapshot's files as its step's final status. */
function formatCopyCounts(counts: CopyCounts): string {
  const files = counts.copied + counts.linked;
  return `${counts.copied} of ${files} files copied, ${counts.linked} linked`;
}

function scanKey(dir: string, attrs: Record<string, string>): string {
  return `${dir}\0${attrs["include-patterns"] ?? ""}\0${attrs["exclude-patterns"] ?? ""}`;
}

function remember(key: string, scan: LocalScan): void {
  recentScans.delete(key);
  recentScans.set(key, scan);
  while (recentScans.size > MAX_RECENT_SCANS) recentScans.delete(recentScans.keys().next().value!);
}

/** The source plugin serving `local://NAME`. */
export const localSource: SourcePlugin = { schemes: ["local"], onResolve, onLoad };

/** The built-in plugin that provides the `local` source. */
const plugin: Plugin = { apiVersion: 1, name: "builtin-local-source", sources: [localSource] };
export default plugin;
