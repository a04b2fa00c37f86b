/**
 * Cache keys: digests that name an op's result by what it computes, from the
 * op's own definition and its inputs' keys, never from names or tags.
 *
 * @module
 */

import { create, toBinary } from "@bufbuild/protobuf";
import { createHash } from "../deps.ts";
import type { Digest } from "../digest.ts";
import { type Op, OpSchema } from "../graph/gen/tsbuild/graph/v1/definition_pb.ts";

/** Bumped whenever the meaning of a cached result changes, so old results are not reused. */
const CACHE_KEY_VERSION = "tsbuild-cache-v1";

/** Computes the key of a source op from the source's pinned identity. */
export function sourceCacheKey(
  scheme: string,
  pin: string,
  attrs: Record<string, string>,
  platform: string,
): Digest {
  const sortedAttrs = Object.entries(attrs).sort(([a], [b]) => (a < b ? -1 : 1));
  return hashParts(["source", scheme, pin, JSON.stringify(sortedAttrs), platform]);
}

/**
 * Computes the key of an exec or file op: the op with its input digests
 * removed, followed by each input's key (or, for inputs read only through a
 * selection, the selection's digest).
 */
export function opCacheKey(op: Op, inputKeys: string[]): Digest {
  const withoutInputs = create(OpSchema, { ...op, inputs: [] });
  const bytes = toBinary(OpSchema, withoutInputs);
  return hashParts([op.op.case ?? "empty", bytes, ...inputKeys]);
}

function hashParts(parts: Array<string | Uint8Array>): Digest {
  const hash = createHash("sha256");
  hash.update(CACHE_KEY_VERSION);
  for (const part of parts) {
    // Length prefixes keep ("ab", "c") and ("a", "bc") apart.
    const bytes = typeof part === "string" ? new TextEncoder().encode(part) : part;
    hash.update(`${bytes.length}:`);
    hash.update(bytes);
  }
  return `sha256:${hash.digest("hex")}`;
}
