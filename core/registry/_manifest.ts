/**
 * Fetching a manifest or index by tag or digest, verifying its digest, and checking its shape.
 *
 * @module
 */

import { type Digest, digestOf, isDigest } from "../digest.ts";
import { DigestMismatchError, RemoteError } from "../errors.ts";
import {
  DOCKER_MANIFEST,
  DOCKER_MANIFEST_LIST,
  isIndexMediaType,
  isManifestMediaType,
  OCI_INDEX,
  OCI_MANIFEST,
} from "../oci/media_types.ts";
import type { ImageReference } from "../oci/reference.ts";
import { readLimited } from "./_body.ts";
import type { RegistryContext } from "./_context.ts";
import { responseError } from "./_errors.ts";
import { sendRequest } from "./_request.ts";
import type { Descriptor, FetchedManifest, ImageIndex, ImageManifest } from "./types.ts";

/** The `Accept` header of manifest requests: OCI and Docker schema 2, manifests and indexes. */
export const MANIFEST_ACCEPT = [OCI_INDEX, OCI_MANIFEST, DOCKER_MANIFEST_LIST, DOCKER_MANIFEST]
  .join(", ");

// NOTE: bounds the memory one response can take. Real manifests and indexes are a few KiB.
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
// Schema 1 media types: "…manifest.v1+json" and "…manifest.v1+prettyjws".
const DOCKER_SCHEMA1_PREFIX = "application/vnd.docker.distribution.manifest.v1+";

/**
 * Fetches the manifest or index that `selector` (a tag or digest) names in the reference's
 * repository. The bytes are checked against `selector` when it is a digest and against the
 * `Docker-Content-Digest` header when the registry sends one.
 *
 * @throws {NotFoundError} when the registry has no such manifest.
 * @throws {DigestMismatchError} when the bytes do not hash to the expected digest.
 * @throws {RemoteError} for other failures, such as an oversized or non-JSON response.
 */
export async function fetchManifestBytes(
  ctx: RegistryContext,
  reference: ImageReference,
  selector: string,
  operation: string,
): Promise<FetchedManifest> {
  const cached = isDigest(selector) ? ctx.contents.get(reference, "manifest", selector) : undefined;
  if (cached) {
    return { digest: selector as Digest, mediaType: cached.mediaType!, bytes: cached.bytes };
  }

  const response = await sendRequest(ctx, {
    method: "GET",
    reference,
    url: `/v2/${reference.repository}/manifests/${selector}`,
    headers: { Accept: MANIFEST_ACCEPT },
    operation,
  });
  const registry = reference.registry;
  if (response.status !== 200) {
    throw await responseError(response, { operation, registry, notFound: "manifest not found" });
  }

  const bytes = await readManifestBody(response, operation, registry);
  const digest = digestOf(bytes);
  checkManifestDigest(digest, selector, response.headers.get("docker-content-digest"), operation);
  const mediaType = manifestMediaType(bytes, response.headers.get("content-type"), operation);
  ctx.contents.set(reference, "manifest", digest, { bytes, mediaType });
  return { digest, mediaType, bytes };
}

/**
 * Parses an index or manifest list and checks that it lists descriptors.
 *
 * @throws {RemoteError} when the bytes are not an index.
 */
export function parseIndex(bytes: Uint8Array, operation: string): ImageIndex {
  const index = parseJson(bytes, operation) as Partial<ImageIndex>;
  if (!Array.isArray(index.manifests) || !index.manifests.every(isDescriptor)) {
    throw new RemoteError(`${operation}: the index has no valid "manifests" list`);
  }
  return index as ImageIndex;
}

/**
 * Parses an image manifest and checks that it has a config and a list of layers.
 *
 * @throws {RemoteError} when the bytes are not an image manifest.
 */
export function parseManifest(bytes: Uint8Array, operation: string): ImageManifest {
  const manifest = parseJson(bytes, operation) as Partial<ImageManifest>;
  if (!isDescriptor(manifest.config)) {
    throw new RemoteError(`${operation}: the manifest has no valid "config" descriptor`);
  }
  if (!Array.isArray(manifest.layers) || !manifest.layers.every(isDescriptor)) {
    throw new RemoteError(`${operation}: the manifest has no valid "layers" list`);
  }
  return manifest as ImageManifest;
}

/** Reports whether `value` has a descriptor's required fields. */
export function isDescriptor(value: unknown): value is Descriptor {
  const descriptor = value as Partial<Descriptor> | null;
  return typeof descriptor === "object" && descriptor !== null &&
    typeof descriptor.mediaType === "string" && typeof descriptor.digest === "string" &&
    isDigest(descriptor.digest) && Number.isSafeInteger(descriptor.size) &&
    (descriptor.size as number) >= 0;
}

async function readManifestBody(response: Response, operation: string, registry: string) {
  if (response.body === null) return new Uint8Array();
  try {
    return await readLimited(response.body, MAX_MANIFEST_BYTES);
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    throw new RemoteError(
      `${operation}: registry "${registry}" sent a manifest larger than ${MAX_MANIFEST_BYTES} bytes`,
      { data: { registry } },
    );
  }
}

function checkManifestDigest(
  digest: Digest,
  selector: string,
  headerDigest: string | null,
  operation: string,
): void {
  if (isDigest(selector) && digest !== selector) {
    throw new DigestMismatchError(
      `${operation}: manifest content hashes to "${digest}", expected "${selector}"`,
      { data: { digest: selector, receivedDigest: digest } },
    );
  }
  // Registries may report other algorithms here; only a sha256 value can be compared.
  if (headerDigest !== null && isDigest(headerDigest) && headerDigest !== digest) {
    throw new DigestMismatchError(
      `${operation}: manifest content hashes to "${digest}", but the registry sent Docker-Content-Digest "${headerDigest}"`,
      { data: { digest: headerDigest, receivedDigest: digest } },
    );
  }
}

// The document's own mediaType field wins; registries such as some mirrors send
// "application/json" as Content-Type, so the shape is the last resort.
function manifestMediaType(bytes: Uint8Array, contentType: string | null, operation: string) {
  const document = parseJson(bytes, operation) as { mediaType?: unknown; schemaVersion?: unknown };
  const header = contentType?.split(";")[0].trim() ?? "";
  if (document.schemaVersion === 1 || header.startsWith(DOCKER_SCHEMA1_PREFIX)) {
    throw new RemoteError(
      `${operation}: the registry sent a Docker schema 1 manifest, which tsbuild does not support; push the image again with a current client`,
    );
  }

  const candidates = [document.mediaType, header];
  const known = candidates.find((value): value is string =>
    typeof value === "string" && (isIndexMediaType(value) || isManifestMediaType(value))
  );
  if (known) return known;
  if (Array.isArray((document as { manifests?: unknown }).manifests)) return OCI_INDEX;
  if ((document as { config?: unknown }).config !== undefined) return OCI_MANIFEST;
  throw new RemoteError(
    `${operation}: the registry sent a document of unknown media type "${header}"`,
  );
}

function parseJson(bytes: Uint8Array, operation: string): Record<string, unknown> {
  let document: unknown;
  try {
    document = JSON.parse(new TextDecoder().decode(bytes));
  } catch (error) {
    throw new RemoteError(`${operation}: the manifest is not valid JSON`, { cause: error });
  }
  if (typeof document !== "object" || document === null || Array.isArray(document)) {
    throw new RemoteError(`${operation}: the manifest is not a JSON object`);
  }
  return document as Record<string, unknown>;
}
