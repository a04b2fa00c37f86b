/**
 * Writes the `.git` directory of a checkout kept with `keep-git-dir=true`: a
 * shallow repository holding just the checked-out commit, with HEAD detached
 * at it, the remote as `origin`, and an index that matches the files.
 *
 * @module
 */

import { join } from "../../core/deps.ts";
import type { CheckoutResult } from "./_git_checkout.ts";
import { encodeIndex } from "./_git_index.ts";
import { parseCommit } from "./_git_objects.ts";
import type { PackReader } from "./_git_pack.ts";
import { writePack } from "./_git_pack_write.ts";
import { lutimes } from "../../core/fs/link_metadata.ts";

/** Options for {@link writeGitDir}. */
export interface GitDirOptions {
  /** Reads the commit's objects. */
  reader: PackReader;
  commit: string;
  /** The checkout the `.git` directory goes into. */
  dest: string;
  checkout: CheckoutResult;
  /** The remote URL without credentials, written as `remote.origin.url`. */
  url: string;
}

/**
 * Writes `dest/.git`. Every file in it depends only on the commit and the
 * URL, and carries the commit time, so equal input gives an equal snapshot.
 */
export async function writeGitDir(options: GitDirOptions): Promise<void> {
  const dotGit = join(options.dest, ".git");
  for (const dir of ["objects/pack", "objects/info", "refs/heads", "refs/tags"]) {
    await Deno.mkdir(join(dotGit, dir), { recursive: true });
  }
  await Deno.writeTextFile(join(dotGit, "HEAD"), `${options.commit}\n`);
  await Deno.writeTextFile(join(dotGit, "config"), configText(options.url));
  await writeObjects(options, dotGit);

  const commit = parseCommit(options.reader.readTyped(options.commit, "commit"));
  if (commit.parents.length > 0) {
    await Deno.writeTextFile(join(dotGit, "shallow"), `${options.commit}\n`);
  }
  await Deno.writeFile(
    join(dotGit, "index"),
    encodeIndex(options.checkout.entries, options.checkout.time),
  );
  await stampTree(dotGit, options.checkout.time);
}

// One pack with the commit, its trees and its files, and the index for it.
async function writeObjects(options: GitDirOptions, dotGit: string): Promise<void> {
  const blobs = options.checkout.entries
    .filter((entry) => entry.mode !== 0o160000)
    .map((entry) => entry.oid);
  const oids = [...new Set([options.commit, ...options.checkout.trees, ...blobs])];
  const objects = oids.map((oid) => options.reader.read(oid));
  await writePack(objects, join(dotGit, "objects/pack"));
}

function configText(url: string): string {
  return [
    "[core]",
    "\trepositoryformatversion = 0",
    "\tfilemode = true",
    "\tbare = false",
    "\tlogallrefupdates = true",
    '[remote "origin"]',
    `\turl = ${url}`,
    "\tfetch = +refs/heads/*:refs/remotes/origin/*",
    "",
  ].join("\n");
}

async function stampTree(dir: string, time: Date): Promise<void> {
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) await stampTree(path, time);
    lutimes(path, time, time);
  }
  await Deno.utime(dir, time, time);
}
