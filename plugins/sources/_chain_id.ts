/**
 * OCI chain IDs, which name a stack of layers by their diff IDs.
 *
 * @module
 */

import { createHash } from "node:crypto";

/**
 * Returns the chain ID (as bare hex) of each prefix of `diffIds`: the first is
 * the first diff ID, and each next one is the sha256 of "<previous> <diff ID>".
 */
export function chainIds(diffIds: string[]): string[] {
  const ids: string[] = [];
  let previous = "";
  for (const diffId of diffIds) {
    previous = previous
      ? `sha256:${createHash("sha256").update(`${previous} ${diffId}`).digest("hex")}`
      : diffId;
    ids.push(previous.slice("sha256:".length));
  }
  return ids;
}
