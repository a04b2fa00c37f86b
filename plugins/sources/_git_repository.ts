/**
 * The shared bare repository kept per remote under the plugin's data
 * directory, guarded by a file lock, into which verified fetches are moved.
 *
 * Layout of `<data>/git/repos/<digest of the URL>/`:
 *
 * ```
 * lock               held shared while reading, exclusive while fetching
 * url                the remote URL without credentials, for people reading the store
 * repo.git/          bare repository: objects/pack, shallow, refs/tsbuild/commits/<hash>
 * staging-<random>/  a fetch in progress, a bare repository of its own
 * ```
 *
 * A commit counts as present only once `refs/tsbuild/commits/<hash>` exists.
 * That ref is written last, after the fetched packs were verified and moved
 * in, so a fetch that fails or is killed halfway leaves nothing that a later
 * build would trust.
 *
 * @module
 */

import { isomorphicGit } from "./_git_library.ts";
import { join, loadNodeFs, randomBytes } from "../../core/deps.ts";
import { listPacks } from "./_git_pack_check.ts";
import { repositoryKey } from "./_git_url.ts";

// This module loads only with the git source, so Node's fs module can load with it.
const nodeFs = await loadNodeFs();

const COMMIT_REFS = "refs/tsbuild/commits";

/** A shared bare repository on disk. */
export interface SharedRepository {
  /** The directory holding the lock, the repository and staging repositories. */
  dir: string;
  /** The bare repository. */
  gitdir: string;
}

/** Returns the shared repository for `url` under `dataDir`, creating it on first use. */
export async function openSharedRepository(
  dataDir: string,
  url: string,
): Promise<SharedRepository> {
  const dir = join(dataDir, "repos", repositoryKey(url));
  const repository = { dir, gitdir: join(dir, "repo.git") };
  if (await exists(join(repository.gitdir, "HEAD"))) return repository;

  await Deno.mkdir(dir, { recursive: true });
  await withRepositoryLock(repository, "exclusive", async () => {
    if (await exists(join(repository.gitdir, "HEAD"))) return;
    await Deno.writeTextFile(join(dir, "url"), `${url}\n`);
    await (await isomorphicGit()).init({ fs: nodeFs, gitdir: repository.gitdir, bare: true });
    await Deno.mkdir(join(repository.gitdir, "objects/pack"), { recursive: true });
  });
  return repository;
}

/**
 * Runs `fn` holding the repository's lock, shared or exclusive. The lock is
 * an advisory file lock, so it also orders builds running in one process.
 */
export async function withRepositoryLock<T>(
  repository: SharedRepository,
  mode: "shared" | "exclusive",
  fn: () => Promise<T>,
): Promise<T> {
  const file = await Deno.open(join(repository.dir, "lock"), {
    read: true,
    write: true,
    create: true,
  });
  try {
    await file.lock(mode === "exclusive");
    return await fn();
  } finally {
    file.close();
  }
}

/** Reports whether `commit` was fetched, verified and recorded in the repository. */
export function hasCommit(repository: SharedRepository, commit: string): Promise<boolean> {
  return exists(join(repository.gitdir, COMMIT_REFS, commit));
}

/** Returns the recorded commits whose hash starts with `prefix`. */
export async function recordedCommitsWithPrefix(
  repository: SharedRepository,
  prefix: string,
): Promise<string[]> {
  const commits: string[] = [];
  try {
    for await (const entry of Deno.readDir(join(repository.gitdir, COMMIT_REFS))) {
      if (entry.name.startsWith(prefix)) commits.push(entry.name);
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return commits.sort();
}

/**
 * Creates an empty bare repository beside the shared one to fetch into.
 * Call it while holding the exclusive lock; any staging directory found then
 * belongs to a build that died, and is removed first.
 */
export async function createStaging(repository: SharedRepository): Promise<string> {
  for await (const entry of Deno.readDir(repository.dir)) {
    if (entry.name.startsWith("staging-")) {
      await Deno.remove(join(repository.dir, entry.name), { recursive: true });
    }
  }
  const staging = join(repository.dir, `staging-${randomBytes(6).toString("hex")}`);
  await (await isomorphicGit()).init({ fs: nodeFs, gitdir: staging, bare: true });
  await Deno.mkdir(join(staging, "objects/pack"), { recursive: true });
  // isomorphic-git's fetch reads the refspec of the remote it updates.
  await (await isomorphicGit()).setConfig({
    fs: nodeFs,
    gitdir: staging,
    path: "remote.origin.fetch",
    value: "+refs/heads/*:refs/remotes/origin/*",
  });
  return staging;
}

/**
 * Moves the verified packs and shallow list of `staging` into the shared
 * repository, then records `commits`. Call it while holding the exclusive lock.
 */
export async function installStaging(
  repository: SharedRepository,
  staging: string,
  commits: string[],
): Promise<void> {
  const packDir = join(repository.gitdir, "objects/pack");
  for (const files of await listPacks(staging)) {
    // A pack's name is its checksum, so an existing one has the same content.
    // The index goes last: readers find packs through their index files.
    const pack = join(packDir, `${files.name}.pack`);
    const index = join(packDir, `${files.name}.idx`);
    if (await exists(index)) continue;
    await Deno.rename(files.pack, pack);
    await Deno.rename(files.index, index);
  }
  await mergeShallow(repository.gitdir, staging);
  for (const commit of commits) {
    await writeAtomically(join(repository.gitdir, COMMIT_REFS, commit), `${commit}\n`);
  }
}

/** Reads a repository's `shallow` file: the commits whose parents were not fetched. */
export async function readShallow(gitdir: string): Promise<Set<string>> {
  try {
    const text = await Deno.readTextFile(join(gitdir, "shallow"));
    return new Set(text.split("\n").filter((line) => line.length === 40));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return new Set();
    throw error;
  }
}

// Every commit either side lists stays listed: a commit listed as shallow
// whose parents arrived later is still read correctly by git.
async function mergeShallow(gitdir: string, staging: string): Promise<void> {
  const added = await readShallow(staging);
  if (added.size === 0) return;
  const merged = await readShallow(gitdir);
  const before = merged.size;
  for (const commit of added) merged.add(commit);
  if (merged.size === before) return;
  await writeAtomically(join(gitdir, "shallow"), [...merged].sort().join("\n") + "\n");
}

async function writeAtomically(path: string, text: string): Promise<void> {
  const dir = join(path, "..");
  await Deno.mkdir(dir, { recursive: true });
  const temporary = `${path}.tmp-${randomBytes(4).toString("hex")}`;
  await Deno.writeTextFile(temporary, text);
  await Deno.rename(temporary, path);
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}
