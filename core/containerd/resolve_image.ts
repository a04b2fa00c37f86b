/**
 * Resolving an image in containerd's image store to one platform's manifest and config, read
 * from containerd's content store.
 *
 * @module
 */

import { type Digest, digestOf } from "../digest.ts";
import { DigestMismatchError, NotFoundError } from "../errors.ts";
import {
  isIndexMediaType,
  isManifestMediaType,
  OCI_INDEX,
  OCI_MANIFEST,
} from "../oci/media_types.ts";
import {
  findByPlatform,
  formatPlatform,
  normalizePlatform,
  type Platform,
} from "../oci/platform.ts";
import { formatReference, parseReference } from "../oci/reference.ts";
import type {
  Descriptor,
  ImageConfig,
  ImageIndex,
  ImageManifest,
  ResolvedImage,
} from "../registry/types.ts";
import type { ContainerdClient } from "./client.ts";

/** Largest manifest or index read. The OCI distribution spec requires registries to accept 4 MiB. */
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

/** Largest config read; configs with long histories stay well below it. */
const MAX_CONFIG_BYTES = 8 * 1024 * 1024;

/**
 * Resolves `reference` in the client's namespace. A reference with a digest pins the manifest
 * or index, which must be in the content store. A reference without one is looked up by its
 * normalized name, such as "docker.io/library/app:dev" for "app:dev".
 *
 * @throws {InvalidInputError} when the reference does not parse.
 * @throws {NotFoundError} when there is no such image or blob, or no manifest for `platform`.
 * @throws {DigestMismatchError} when a blob's bytes do not match its digest.
 */
export async function resolveContainerdImage(
  client: ContainerdClient,
  reference: string,
  platform: Platform,
): Promise<ResolvedImage> {
  const parsed = parseReference(reference);
  const name = formatReference({ ...parsed, digest: undefined });
  const operation =
    `Failed to resolve "${reference}" in containerd namespace "${client.namespace}"`;
  const top = parsed.digest
    ? await readDocument(client, parsed.digest, operation)
    : await readDocument(client, await imageTarget(client, name, operation), operation);

  let chosen = top;
  let chosenPlatform: Platform | undefined;
  if (isIndexMediaType(top.mediaType)) {
    const entry = selectManifest(top.json as ImageIndex, platform, operation);
    chosen = await readDocument(client, entry.digest, operation);
    chosenPlatform = normalizePlatform(entry.platform!);
  }
  if (!isManifestMediaType(chosen.mediaType)) {
    throw new NotFoundError(
      `${operation}: "${chosen.digest}" is neither an image manifest nor an index (media type "${chosen.mediaType}")`,
    );
  }

  const manifest = chosen.json as ImageManifest;
  const configBytes = await readVerified(client, manifest.config.digest, MAX_CONFIG_BYTES);
  const config = JSON.parse(new TextDecoder().decode(configBytes)) as ImageConfig;
  return {
    reference: parsed,
    digest: chosen.digest,
    mediaType: chosen.mediaType,
    manifest,
    manifestBytes: chosen.bytes,
    configDigest: manifest.config.digest,
    config,
    configBytes,
    ...(chosen !== top ? { indexDigest: top.digest, indexMediaType: top.mediaType } : {}),
    platform: chosenPlatform ?? { os: config.os, architecture: config.architecture },
  };
}

async function imageTarget(
  client: ContainerdClient,
  name: string,
  operation: string,
): Promise<Digest> {
  const record = await client.images.get(name);
  if (!record) {
    throw new NotFoundError(`${operation}: no image named "${name}"`, {
      data: { name, namespace: client.namespace },
    });
  }
  return record.target.digest;
}

interface Document {
  digest: Digest;
  mediaType: string;
  bytes: Uint8Array;
  json: { mediaType?: string; manifests?: unknown; config?: unknown };
}

// The media type comes from the document, as in a registry, so a digest alone is enough to read
// it. A document without one is recognized by its fields, as the OCI image spec allows.
async function readDocument(
  client: ContainerdClient,
  digest: Digest,
  operation: string,
): Promise<Document> {
  if (!(await client.content.info(digest))) {
    throw new NotFoundError(`${operation}: blob "${digest}" is not in the content store`, {
      data: { digest, namespace: client.namespace },
    });
  }
  const bytes = await readVerified(client, digest, MAX_MANIFEST_BYTES);
  const json = JSON.parse(new TextDecoder().decode(bytes)) as Document["json"];
  return { digest, mediaType: mediaTypeOf(json), bytes, json };
}

function mediaTypeOf(json: Document["json"]): string {
  if (json.mediaType) return json.mediaType;
  if (Array.isArray(json.manifests)) return OCI_INDEX;
  if (json.config) return OCI_MANIFEST;
  return "";
}

async function readVerified(
  client: ContainerdClient,
  digest: Digest,
  maxBytes: number,
): Promise<Uint8Array> {
  const bytes = await client.content.readBytes(digest, maxBytes);
  const actual = digestOf(bytes);
  if (actual !== digest) {
    throw new DigestMismatchError(
      `Failed to read blob "${digest}" from containerd: its content has digest "${actual}"`,
      { data: { digest, actual } },
    );
  }
  return bytes;
}

function selectManifest(index: ImageIndex, platform: Platform, operation: string): Descriptor {
  const entry = findByPlatform(index.manifests ?? [], platform);
  if (entry) return entry;
  const available = (index.manifests ?? [])
    .filter((descriptor) => descriptor.platform && descriptor.platform.os !== "unknown")
    .map((descriptor) => `"${formatPlatform(descriptor.platform!)}"`);
  throw new NotFoundError(
    `${operation}: no manifest for platform "${formatPlatform(platform)}" (available: ${
      available.join(", ") || "none"
    })`,
    { data: { platform: formatPlatform(platform) } },
  );
}

/**
 * Resolves `reference` like {@link resolveContainerdImage}, but returns undefined when the
 * namespace has no such image or no manifest for `platform`, so that a caller can fall back to a
 * registry. Other failures, such as a missing socket, are thrown.
 */
export async function findContainerdImage(
  client: ContainerdClient,
  reference: string,
  platform: Platform,
): Promise<ResolvedImage | undefined> {
  try {
    return await resolveContainerdImage(client, reference, platform);
  } catch (error) {
    if (error instanceof NotFoundError) return undefined;
    throw error;
  }
}
