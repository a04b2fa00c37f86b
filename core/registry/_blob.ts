/**
 * Fetching blobs (layers and configs) as verified streams or, for small ones, as bytes.
 *
 * @module
 */

import { DigestMismatchError, RemoteError } from "../errors.ts";
import type { ImageReference } from "../oci/reference.ts";
import { readLimited } from "./_body.ts";
import { MAX_CACHED_BLOB_BYTES } from "./_content_cache.ts";
import type { RegistryContext } from "./_context.ts";
import { responseError } from "./_errors.ts";
import { sendRequest } from "./_request.ts";
import type { Descriptor } from "./types.ts";
import { createVerifyingStream } from "./verify_stream.ts";

/**
 * Requests a blob and returns its body, which errors with a DigestMismatchError when the
 * bytes do not match the descriptor's digest and size.
 *
 * NOTE: a connection that breaks in the middle of the body is not resumed; the stream errors
 * and the caller fetches again.
 *
 * @throws {NotFoundError} when the registry has no such blob.
 * @throws {DigestMismatchError} when `Content-Length` already differs from the descriptor.
 */
export async function openBlob(
  ctx: RegistryContext,
  reference: ImageReference,
  descriptor: Descriptor,
  operation: string,
): Promise<ReadableStream<Uint8Array>> {
  const response = await sendRequest(ctx, {
    method: "GET",
    reference,
    url: `/v2/${reference.repository}/blobs/${descriptor.digest}`,
    // Blobs are hashed as stored, so a transfer encoding that fetch() would undo must not
    // be negotiated.
    headers: { "Accept-Encoding": "identity" },
    operation,
  });
  const registry = reference.registry;
  if (response.status !== 200) {
    throw await responseError(response, { operation, registry, notFound: "blob not found" });
  }

  const length = response.headers.get("content-length");
  if (
    length !== null && !response.headers.has("content-encoding") &&
    Number(length) !== descriptor.size
  ) {
    await response.body?.cancel();
    throw new DigestMismatchError(
      `${operation}: registry "${registry}" announced ${length} bytes, expected ${descriptor.size}`,
      { data: { digest: descriptor.digest, size: descriptor.size, receivedSize: Number(length) } },
    );
  }

  const body = response.body ?? new Blob([]).stream();
  return body.pipeThrough(createVerifyingStream(descriptor, operation));
}

/**
 * Fetches a small blob, such as an image config, into memory after checking its digest.
 *
 * @throws {RemoteError} when the descriptor's size is above `maxBytes`.
 */
export async function fetchBlobBytes(
  ctx: RegistryContext,
  reference: ImageReference,
  descriptor: Descriptor,
  maxBytes: number,
  operation: string,
): Promise<Uint8Array> {
  if (descriptor.size > maxBytes) {
    throw new RemoteError(
      `${operation}: blob "${descriptor.digest}" has ${descriptor.size} bytes, more than the ${maxBytes} allowed`,
      { data: { digest: descriptor.digest, size: descriptor.size } },
    );
  }
  const cached = ctx.contents.get(reference, "blob", descriptor.digest);
  if (cached) return cached.bytes;

  const stream = await openBlob(ctx, reference, descriptor, operation);
  // The stream fails unless its bytes match the descriptor's digest, so what it gave is verified.
  const bytes = await readLimited(stream, maxBytes);
  if (bytes.byteLength <= MAX_CACHED_BLOB_BYTES) {
    ctx.contents.set(reference, "blob", descriptor.digest, { bytes });
  }
  return bytes;
}
