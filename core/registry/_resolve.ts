/**
 * Resolving a reference to one platform's manifest and config, through an index if there is one.
 *
 * @module
 */

import { DigestMismatchError, NotFoundError, RemoteError } from "../errors.ts";
import { isIndexMediaType } from "../oci/media_types.ts";
import {
  findByPlatform,
  formatPlatform,
  normalizePlatform,
  type Platform,
} from "../oci/platform.ts";
import { formatReference, type ImageReference } from "../oci/reference.ts";
import { fetchBlobBytes } from "./_blob.ts";
import type { RegistryContext } from "./_context.ts";
import { fetchManifestBytes, parseIndex, parseManifest } from "./_manifest.ts";
import type {
  Descriptor,
  FetchedManifest,
  ImageConfig,
  ImageIndex,
  ImageManifest,
  ResolvedImage,
} from "./types.ts";

// NOTE: bounds the memory one config can take; configs with long histories stay well below.
const MAX_CONFIG_BYTES = 8 * 1024 * 1024;

/**
 * Resolves `reference` to the manifest for `platform` and fetches its config. The reference's
 * digest, when it has one, pins the manifest or index; otherwise its tag is looked up.
 */
export async function resolveImage(
  ctx: RegistryContext,
  reference: ImageReference,
  platform: Platform,
): Promise<ResolvedImage> {
  const operation = `Failed to resolve "${formatReference(reference)}"`;
  const top = await fetchManifestBytes(
    ctx,
    reference,
    reference.digest ?? reference.tag!,
    operation,
  );

  let chosen = top;
  let chosenPlatform: Platform | undefined;
  if (isIndexMediaType(top.mediaType)) {
    const entry = selectManifest(parseIndex(top.bytes, operation), platform, operation);
    chosen = await fetchIndexEntry(ctx, reference, entry, operation);
    chosenPlatform = normalizePlatform(entry.platform!);
  }

  const manifest = parseManifest(chosen.bytes, operation);
  const configBytes = await fetchBlobBytes(
    ctx,
    reference,
    manifest.config,
    MAX_CONFIG_BYTES,
    `Failed to fetch config "${manifest.config.digest}" of "${formatReference(reference)}"`,
  );
  const config = parseConfig(configBytes, manifest, operation);

  return {
    reference,
    digest: chosen.digest,
    mediaType: chosen.mediaType,
    manifest,
    manifestBytes: chosen.bytes,
    configDigest: manifest.config.digest,
    config,
    configBytes,
    ...(chosen !== top ? { indexDigest: top.digest, indexMediaType: top.mediaType } : {}),
    platform: chosenPlatform ?? platformOfConfig(config),
  };
}

/**
 * Returns the index entry for `platform`.
 *
 * @throws {NotFoundError} listing the platforms the index has when none matches.
 */
export function selectManifest(index: ImageIndex, platform: Platform, operation: string) {
  const entry = findByPlatform(index.manifests, platform);
  if (entry) return entry;

  // Attestation manifests carry the platform "unknown/unknown" and are no choice for a user.
  const available = [
    ...new Set(
      index.manifests.filter((descriptor) => descriptor.platform?.os !== "unknown")
        .flatMap((descriptor) => descriptor.platform ? [formatPlatform(descriptor.platform)] : []),
    ),
  ];
  const list = available.length === 0
    ? "the index lists no platforms"
    : `available: ${available.map((name) => `"${name}"`).join(", ")}`;
  throw new NotFoundError(
    `${operation}: no manifest for platform "${formatPlatform(platform)}" (${list})`,
    { data: { platform: formatPlatform(platform), available } },
  );
}

async function fetchIndexEntry(
  ctx: RegistryContext,
  reference: ImageReference,
  entry: Descriptor,
  operation: string,
): Promise<FetchedManifest> {
  const fetched = await fetchManifestBytes(ctx, reference, entry.digest, operation);
  if (fetched.bytes.byteLength !== entry.size) {
    throw new DigestMismatchError(
      `${operation}: manifest "${entry.digest}" has ${fetched.bytes.byteLength} bytes, but the index lists ${entry.size}`,
      { data: { digest: entry.digest, size: entry.size, receivedSize: fetched.bytes.byteLength } },
    );
  }
  if (isIndexMediaType(fetched.mediaType)) {
    throw new RemoteError(
      `${operation}: the index entry for the platform is itself an index, which tsbuild does not support`,
    );
  }
  return fetched;
}

function parseConfig(bytes: Uint8Array, manifest: ImageManifest, operation: string) {
  let config: Partial<ImageConfig>;
  try {
    config = JSON.parse(new TextDecoder().decode(bytes));
  } catch (error) {
    throw new RemoteError(`${operation}: the image config is not valid JSON`, { cause: error });
  }

  const diffIds = config?.rootfs?.diff_ids;
  if (!Array.isArray(diffIds)) {
    throw new RemoteError(`${operation}: the image config has no "rootfs.diff_ids" list`);
  }
  if (diffIds.length !== manifest.layers.length) {
    throw new RemoteError(
      `${operation}: the image config lists ${diffIds.length} layer diff IDs, but the manifest lists ${manifest.layers.length} layers`,
    );
  }
  return config as ImageConfig;
}

function platformOfConfig(config: ImageConfig): Platform {
  return normalizePlatform({
    os: config.os ?? "",
    architecture: config.architecture ?? "",
    variant: config.variant,
  });
}
