/**
 * The worker side of the off-thread digest in `_tar_digest.ts`: hashes the
 * chunks it receives, in order, and replies to an empty message with the digest.
 *
 * @module
 */

import { createHash } from "../deps.ts";

const scope = self as unknown as {
  onmessage: ((event: MessageEvent<Uint8Array | null>) => void) | null;
  postMessage(message: string): void;
};

const hash = createHash("sha256");

scope.onmessage = (event) => {
  if (event.data) hash.update(event.data);
  else scope.postMessage(hash.digest("hex"));
};
