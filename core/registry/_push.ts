/**
 * Pushing blobs (skipped when present, uploaded whole or in chunks) and manifests.
 *
 * @module
 */

import { type Digest, digestOf, isDigest } from "../digest.ts";
import { DigestMismatchError, RemoteError } from "../errors.ts";
import { formatReference, type ImageReference } from "../oci/reference.ts";
import { readLimited } from "./_body.ts";
import type { RegistryContext } from "./_context.ts";
import { responseError } from "./_errors.ts";
import { requestUrl, sendRequest } from "./_request.ts";
import type { Descriptor } from "./types.ts";
import { createVerifyingStream } from "./verify_stream.ts";

/** Outcome of `pushBlob()`. */
export interface PushBlobResult {
  /** False when the registry already had the blob and nothing was sent. */
  uploaded: boolean;
}

/**
 * Uploads the blob that `open()` streams unless the repository already has it. Blobs up to
 * `ctx.uploadChunkSize` go in one PUT; larger ones in PATCH requests of that size, then a PUT.
 * The bytes are checked against the descriptor before the upload is completed, and a failed
 * upload is cancelled.
 */
export async function pushBlob(
  ctx: RegistryContext,
  reference: ImageReference,
  descriptor: Descriptor,
  open: () => ReadableStream<Uint8Array>,
): Promise<PushBlobResult> {
  const operation = `Failed to push blob "${descriptor.digest}" to "${formatReference(reference)}"`;
  const upload: Upload = { ctx, reference, operation, location: "" };
  if (await blobExists(upload, descriptor.digest)) return { uploaded: false };

  upload.location = await startUpload(upload);
  try {
    const content = open().pipeThrough(createVerifyingStream(descriptor, operation));
    if (descriptor.size <= ctx.uploadChunkSize) {
      await uploadWhole(upload, descriptor, content);
    } else {
      await uploadInChunks(upload, descriptor, content);
    }
  } catch (error) {
    await cancelUpload(upload);
    throw error;
  }
  return { uploaded: true };
}

/**
 * Uploads a manifest or index under the reference's tag, or under its digest when it has no
 * tag, and returns the digest of `bytes`.
 *
 * @throws {DigestMismatchError} when the reference's digest or the registry's
 * `Docker-Content-Digest` differs from the digest of `bytes`.
 */
export async function pushManifest(
  ctx: RegistryContext,
  reference: ImageReference,
  bytes: Uint8Array,
  mediaType: string,
): Promise<Digest> {
  const operation = `Failed to push manifest to "${formatReference(reference)}"`;
  const digest = digestOf(bytes);
  if (reference.digest !== undefined && reference.digest !== digest) {
    throw new DigestMismatchError(
      `${operation}: the manifest hashes to "${digest}", not to the reference's digest`,
      { data: { digest: reference.digest, receivedDigest: digest } },
    );
  }

  const response = await sendRequest(ctx, {
    method: "PUT",
    reference,
    url: `/v2/${reference.repository}/manifests/${reference.tag ?? digest}`,
    headers: { "Content-Type": mediaType },
    body: () => bytes,
    push: true,
    operation,
  });
  const registry = reference.registry;
  if (!isSuccess(response)) {
    throw await responseError(response, { operation, registry, notFound: "repository not found" });
  }
  await response.body?.cancel();

  const stored = response.headers.get("docker-content-digest");
  if (stored !== null && isDigest(stored) && stored !== digest) {
    throw new DigestMismatchError(
      `${operation}: registry "${registry}" stored it as "${stored}", expected "${digest}"`,
      { data: { digest, receivedDigest: stored } },
    );
  }
  return digest;
}

interface Upload {
  ctx: RegistryContext;
  reference: ImageReference;
  operation: string;
  /** Absolute URL of the upload session, updated from each response's `Location`. */
  location: string;
}

async function blobExists(upload: Upload, digest: Digest): Promise<boolean> {
  const { ctx, reference, operation } = upload;
  const response = await sendRequest(ctx, {
    method: "HEAD",
    reference,
    url: `/v2/${reference.repository}/blobs/${digest}`,
    push: true,
    operation,
  });
  await response.body?.cancel();
  if (response.status === 200) return true;
  if (response.status === 404) return false;
  throw await responseError(response, {
    operation,
    registry: reference.registry,
    notFound: "blob not found",
  });
}

async function startUpload(upload: Upload): Promise<string> {
  const { ctx, reference, operation } = upload;
  const response = await sendRequest(ctx, {
    method: "POST",
    reference,
    url: `/v2/${reference.repository}/blobs/uploads/`,
    push: true,
    operation,
  });
  return await nextLocation(upload, response);
}

async function uploadWhole(
  upload: Upload,
  descriptor: Descriptor,
  content: ReadableStream<Uint8Array>,
): Promise<void> {
  // The verifying stream rejects more than descriptor.size bytes before this limit is hit.
  const bytes = await readLimited(content, descriptor.size + 1);
  await finishUpload(upload, descriptor.digest, bytes);
}

async function uploadInChunks(
  upload: Upload,
  descriptor: Descriptor,
  content: ReadableStream<Uint8Array>,
): Promise<void> {
  const { ctx, reference, operation } = upload;
  let offset = 0;
  for await (const chunk of rechunk(content, ctx.uploadChunkSize)) {
    const response = await sendRequest(ctx, {
      method: "PATCH",
      reference,
      url: upload.location,
      headers: {
        "Content-Type": "application/octet-stream",
        "Content-Range": `${offset}-${offset + chunk.byteLength - 1}`,
      },
      body: () => chunk,
      push: true,
      operation,
    });
    upload.location = await nextLocation(upload, response);
    offset += chunk.byteLength;
  }
  await finishUpload(upload, descriptor.digest, new Uint8Array());
}

async function finishUpload(upload: Upload, digest: Digest, bytes: Uint8Array): Promise<void> {
  const { ctx, reference, operation } = upload;
  const url = new URL(upload.location);
  url.searchParams.set("digest", digest);
  const response = await sendRequest(ctx, {
    method: "PUT",
    reference,
    url: url.href,
    headers: { "Content-Type": "application/octet-stream" },
    body: () => bytes,
    push: true,
    operation,
  });
  if (!isSuccess(response)) {
    throw await responseError(response, {
      operation,
      registry: reference.registry,
      notFound: "upload not found",
    });
  }
  await response.body?.cancel();
}

// Best effort: the registry also expires abandoned uploads by itself.
async function cancelUpload(upload: Upload): Promise<void> {
  if (upload.location === "") return;
  try {
    const { ctx, reference, operation } = upload;
    const url = upload.location;
    const response = await sendRequest(ctx, {
      method: "DELETE",
      reference,
      url,
      push: true,
      operation,
    });
    await response.body?.cancel();
  } catch {
    // The upload failed already; that error is the one the caller needs.
  }
}

async function nextLocation(upload: Upload, response: Response) {
  const { ctx, reference, operation } = upload;
  const registry = reference.registry;
  if (!isSuccess(response)) {
    throw await responseError(response, { operation, registry, notFound: "repository not found" });
  }
  await response.body?.cancel();
  const location = response.headers.get("location");
  if (location === null) {
    throw new RemoteError(`${operation}: registry "${registry}" sent no upload Location`, {
      data: { registry, status: response.status },
    });
  }
  // A relative Location resolves against the URL of the request, as in any HTTP response.
  const url = new URL(location, response.url || requestUrl(ctx, registry, "/"));
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new RemoteError(
      `${operation}: registry "${registry}" sent an upload Location "${location}" that is not an http or https URL`,
      { data: { registry, location } },
    );
  }
  return url.href;
}

/**
 * Reports whether a push request succeeded. The distribution spec names 201 or 202 for each
 * step, but some registries respond with 200 or 204, which containerd accepts too.
 */
function isSuccess(response: Response): boolean {
  return response.status >= 200 && response.status < 300;
}

/** Regroups a stream's chunks into chunks of exactly `size` bytes; the last may be shorter. */
async function* rechunk(
  stream: ReadableStream<Uint8Array>,
  size: number,
): AsyncGenerator<Uint8Array> {
  let buffer = new Uint8Array(size);
  let filled = 0;
  for await (let chunk of stream) {
    while (chunk.byteLength > 0) {
      const taken = Math.min(size - filled, chunk.byteLength);
      buffer.set(chunk.subarray(0, taken), filled);
      filled += taken;
      chunk = chunk.subarray(taken);
      if (filled === size) {
        yield buffer;
        buffer = new Uint8Array(size);
        filled = 0;
      }
    }
  }
  if (filled > 0) yield buffer.subarray(0, filled);
}
