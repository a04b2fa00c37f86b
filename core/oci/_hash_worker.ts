/**
 * The worker side of `_tar_hasher.ts`: hashes the chunks it is sent, in
 * order, and sends each chunk's buffer back so the main thread can fill it
 * again. The message `{ end: true }` requests the digest.
 *
 * @module
 */

import { createHash } from "../deps.ts";

/** A chunk to hash, or the request for the digest once every chunk is sent. */
export type HashRequest = { chunk: Uint8Array<ArrayBuffer> } | { end: true };

/** A chunk that was hashed, or the final digest in hex. */
export type HashResponse = { chunk: Uint8Array<ArrayBuffer> } | { digest: string };

const scope = self as unknown as {
  onmessage: ((event: MessageEvent<HashRequest>) => void) | null;
  postMessage(message: HashResponse, transfer?: Transferable[]): void;
};

const hash = createHash("sha256");

scope.onmessage = (event) => {
  const request = event.data;
  if ("chunk" in request) {
    hash.update(request.chunk);
    scope.postMessage({ chunk: request.chunk }, [request.chunk.buffer]);
  } else {
    scope.postMessage({ digest: hash.digest("hex") });
  }
};
