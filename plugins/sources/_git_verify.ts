/**
 * Verifies a staging repository before its packs join the shared one: every
 * pack matches its checksum, and each wanted commit has its whole tree.
 *
 * @module
 */

import { listPacks, verifyPackChecksum } from "./_git_pack_check.ts";
import { PackReader } from "./_git_pack.ts";
import { parseCommit, parseTree } from "./_git_objects.ts";

/**
 * Throws a `RangeError` unless every pack in `staging` matches its checksum
 * and every object that `commits` and their trees name is in those packs.
 * Submodule commits are outside the repository and are not followed.
 */
export async function verifyStaging(staging: string, commits: string[]): Promise<void> {
  for (const files of await listPacks(staging)) await verifyPackChecksum(files);
  const reader = await PackReader.open(staging);
  const visited = new Set<string>();

  const walkTree = (oid: string): void => {
    if (visited.has(oid)) return;
    visited.add(oid);
    for (const entry of parseTree(reader.readTyped(oid, "tree"))) {
      if (entry.type === "tree") walkTree(entry.oid);
      else if (entry.type === "blob" && !reader.has(entry.oid)) {
        throw new RangeError(
          `blob ${entry.oid} of "${entry.name}" is missing from the fetched packs`,
        );
      }
    }
  };

  for (const commit of commits) walkTree(parseCommit(reader.readTyped(commit, "commit")).tree);
}
