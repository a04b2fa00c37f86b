/**
 * A pass-through stream step that computes the sha256 digest and byte count of
 * what flows through it, for the digest and diff ID of a layer.
 *
 * @module
 */

import { createHash } from "../deps.ts";
import type { Digest } from "../digest.ts";
import { InternalError } from "../errors.ts";

/** A digest and size computed while bytes pass; `result()` is final once the stream has ended. */
export interface DigestTap {
  transform: TransformStream<Uint8Array, Uint8Array>;
  result(): { digest: Digest; size: number };
}

/** Creates a {@linkcode DigestTap}. */
export function createDigestTap(): DigestTap {
  const hash = createHash("sha256");
  let size = 0;
  let digest: Digest | undefined;
  const transform = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      hash.update(chunk);
      size += chunk.byteLength;
      controller.enqueue(chunk);
    },
    flush() {
      digest = `sha256:${hash.digest("hex")}`;
    },
  });
  return {
    transform,
    result() {
      if (digest === undefined) {
        throw new InternalError("Failed to read digest: the stream has not ended");
      }
      return { digest, size };
    },
  };
}
