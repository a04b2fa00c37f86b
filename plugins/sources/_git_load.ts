/**
 * Loading a pinned git source into a directory: the commit fetched into the
 * shared repository if needed, checked out, then its `.git` directory and
 * submodules when asked for.
 *
 * @module
 */

import type { PluginContext } from "../../mod.ts";
import { join } from "../../core/deps.ts";
import { DigestMismatchError, InvalidInputError, NotFoundError } from "../../core/errors.ts";
import { checkoutCommit, type CheckoutResult } from "./_git_checkout.ts";
import { writeGitDir } from "./_git_keep_dir.ts";
import { PackReader } from "./_git_pack.ts";
import { connectRemote } from "./_git_remote.ts";
import {
  openSharedRepository,
  type SharedRepository,
  withRepositoryLock,
} from "./_git_repository.ts";
import { ensureCommit } from "./_git_store.ts";
import { readSubmodules, submoduleSource } from "./_git_submodules.ts";
import type { GitSource } from "./_git_url.ts";

// Submodules of submodules are followed this deep; a cycle of submodules stops here.
const MAX_SUBMODULE_DEPTH = 8;

/** Writes `source` at `commit` into the empty directory `dest`. */
export async function writeSource(
  source: GitSource,
  commit: string,
  dest: string,
  context: PluginContext,
  depth = 0,
): Promise<void> {
  const remote = await connectRemote(source, context);
  const repository = await openSharedRepository(await context.content.dataDir("git"), source.url);
  await ensureCommit(repository, remote, commit, context);

  const checkout = await withRepositoryLock(repository, "shared", async () => {
    const reader = await PackReader.open(repository.gitdir);
    const options = {
      reader,
      commit,
      subdir: source.subdir,
      dest,
      signal: context.signal,
      label: remote.label,
    };
    const result = await checkedOut(remote.label, () => Promise.resolve(checkoutCommit(options)));
    if (source.keepGitDir) {
      await checkedOut(
        remote.label,
        () => writeGitDir({ reader, commit, dest, checkout: result, url: source.url }),
      );
    }
    return result;
  });
  // Outside the lock: a submodule may live in this same repository.
  if (source.submodules) {
    await writeSubmodules(source, repository, commit, { dest, checkout, context, depth });
  }
}

interface SubmoduleTarget {
  dest: string;
  checkout: CheckoutResult;
  context: PluginContext;
  depth: number;
}

async function writeSubmodules(
  source: GitSource,
  repository: SharedRepository,
  commit: string,
  target: SubmoduleTarget,
): Promise<void> {
  const links = target.checkout.entries.filter((entry) => entry.mode === 0o160000);
  if (links.length === 0) return;
  const label = `"${source.url}" at "${source.ref}"`;
  if (target.depth >= MAX_SUBMODULE_DEPTH) {
    throw new InvalidInputError(
      `Failed to check out the submodules of ${label}: they nest deeper than ${MAX_SUBMODULE_DEPTH} levels`,
    );
  }
  const reader = await PackReader.open(repository.gitdir);
  const submodules = await checkedOut(label, () => Promise.resolve(readSubmodules(reader, commit)));
  for (const link of links) {
    const path = source.subdir ? `${source.subdir}/${link.path}` : link.path;
    const submodule = submodules.get(path);
    if (!submodule) {
      throw new NotFoundError(
        `Failed to check out submodule "${path}" of ${label}: .gitmodules has no entry for it`,
        { data: { url: source.url, ref: source.ref, path } },
      );
    }
    const dir = join(target.dest, link.path);
    const child = submoduleSource(source, submodule, link.oid);
    await writeSource(child, link.oid, dir, target.context, target.depth + 1);
  }
}

// A pack that cannot be read back means the shared repository was damaged on disk.
async function checkedOut<T>(label: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    throw new DigestMismatchError(
      `Failed to check out ${label}: the shared repository is damaged: ${error.message}`,
      { cause: error },
    );
  }
}
