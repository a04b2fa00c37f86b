/**
 * Verifies a staging repository before its packs join the shared one: every
 * pack matches its checksum, and each wanted commit has its whole tree.
 *
 * @module
 */

import * as isogit from "isomorphic-git";
import { nodeFs } from "../../core/deps.ts";
import { listPacks, verifyPackChecksum } from "./_git_pack_check.ts";
import { stagedObjects } from "./_git_fetch.ts";

/**
 * Throws a `RangeError` unless every pack in `staging` matches its checksum
 * and every object that `commits` and their trees name is in those packs.
 * Submodule commits are outside the repository and are not followed.
 */
export async function verifyStaging(
  staging: string,
  commits: string[],
  cache: object,
): Promise<void> {
  for (const files of await listPacks(staging)) await verifyPackChecksum(files);
  const objects = await stagedObjects(staging);
  const visited = new Set<string>();

  const require = (oid: string, what: string) => {
    if (!objects.has(oid)) throw new RangeError(`${what} ${oid} is missing from the fetched packs`);
  };
  const walkTree = async (oid: string): Promise<void> => {
    if (visited.has(oid)) return;
    visited.add(oid);
    require(oid, "tree");
    const { tree } = await isogit.readTree({ fs: nodeFs, gitdir: staging, oid, cache });
    for (const entry of tree) {
      if (entry.type === "tree") await walkTree(entry.oid);
      else if (entry.type === "blob") require(entry.oid, `blob of "${entry.path}"`);
    }
  };

  for (const commit of commits) {
    require(commit, "commit");
    const { commit: parsed } = await isogit.readCommit({
      fs: nodeFs,
      gitdir: staging,
      oid: commit,
      cache,
    });
    await walkTree(parsed.tree);
  }
}
