/**
 * A stream transform that passes bytes through and fails unless they match a digest and size.
 *
 * @module
 */

import { createHash } from "../deps.ts";
import type { Digest } from "../digest.ts";
import { DigestMismatchError } from "../errors.ts";

/** The digest and size that content must have. */
export interface ExpectedContent {
  digest: Digest;
  size: number;
}

/**
 * Returns a TransformStream that passes chunks through unchanged and errors with a
 * DigestMismatchError when more than `expected.size` bytes arrive (as soon as they do) or
 * when, at the end, the byte count or sha256 digest differ. `operation` starts the message,
 * such as `Failed to fetch layer "sha256:…" of "docker.io/library/busybox:1"`.
 */
export function createVerifyingStream(
  expected: ExpectedContent,
  operation: string,
): TransformStream<Uint8Array, Uint8Array> {
  const hash = createHash("sha256");
  let size = 0;
  const data = { digest: expected.digest, size: expected.size };

  return new TransformStream({
    transform(chunk, controller) {
      size += chunk.byteLength;
      if (size > expected.size) {
        throw new DigestMismatchError(
          `${operation}: received more than the expected ${expected.size} bytes`,
          { data },
        );
      }
      hash.update(chunk);
      controller.enqueue(chunk);
    },
    flush() {
      if (size !== expected.size) {
        throw new DigestMismatchError(
          `${operation}: received ${size} bytes, expected ${expected.size}`,
          { data: { ...data, receivedSize: size } },
        );
      }
      const actual = `sha256:${hash.digest("hex")}`;
      if (actual !== expected.digest) {
        throw new DigestMismatchError(
          `${operation}: content hashes to "${actual}", expected "${expected.digest}"`,
          { data: { ...data, receivedDigest: actual } },
        );
      }
    },
  });
}
