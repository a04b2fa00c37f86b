/**
 * The worker side of the off-thread digest in `_tar_digest.ts`: hashes the
 * chunks it receives, in order, acknowledging each by its length, and replies
 * to an empty message with the digest.
 *
 * @module
 */

import { createHash } from "../deps.ts";

/** A reply: the length of a chunk now hashed, or the final digest in hex. */
export type HashReply = { hashed: number } | { digest: string };

const scope = self as unknown as {
  onmessage: ((event: MessageEvent<Uint8Array | null>) => void) | null;
  postMessage(message: HashReply): void;
};

const hash = createHash("sha256");

scope.onmessage = (event) => {
  if (event.data) {
    hash.update(event.data);
    scope.postMessage({ hashed: event.data.byteLength });
  } else {
    scope.postMessage({ digest: hash.digest("hex") });
  }
};
