/**
 * Assembles an OCI image from a build result: one layer per snapshot in the
 * result's chain (made once and reused), the config with diff IDs and
 * history, and the manifest, all stored in the content store.
 *
 * @module
 */

import type { Digest } from "../digest.ts";
import {
  DOCKER_CONFIG,
  DOCKER_LAYER,
  DOCKER_LAYER_GZIP,
  DOCKER_MANIFEST,
  OCI_CONFIG,
  OCI_LAYER,
  OCI_LAYER_GZIP,
  OCI_LAYER_ZSTD,
  OCI_MANIFEST,
} from "../oci/media_types.ts";
import { type PackedLayer, packLayer } from "../oci/layer_pack.ts";
import { compressBlocks } from "./_parallel_compress.ts";
import type {
  BuildImageOptions,
  BuildResult,
  Descriptor,
  ImageArtifact,
  ImageConfig,
} from "../plugin/types.ts";
import type { LayerInfo, SnapshotInfo } from "../store/snapshots.ts";
import type { Store } from "../store/store.ts";
import { alignHistory } from "./_history.ts";

const LAYER_MEDIA_TYPES = { gzip: OCI_LAYER_GZIP, zstd: OCI_LAYER_ZSTD, none: OCI_LAYER } as const;

/** The Docker schema 2 name of each OCI layer type that has one. */
const DOCKER_LAYER_TYPES: Record<string, string> = {
  [OCI_LAYER_GZIP]: DOCKER_LAYER_GZIP,
  [OCI_LAYER]: DOCKER_LAYER,
};

/** Builds the image for `result` and returns its descriptors and bytes. */
export async function buildImage(
  store: Store,
  result: BuildResult,
  options: BuildImageOptions = {},
  signal?: AbortSignal,
): Promise<ImageArtifact> {
  const compression = options.compression ?? "gzip";
  const epoch = options.sourceDateEpoch ?? result.sourceDateEpoch;
  const chain = await store.snapshots.chain(result.snapshot);
  const layers: LayerInfo[] = [];
  for (const snapshot of chain) {
    signal?.throwIfAborted();
    layers.push(await layerFor(store, snapshot, compression, epoch, signal));
  }

  const created = epoch !== undefined
    ? new Date(epoch * 1000).toISOString()
    : chain.at(-1)?.createdAt ?? result.imageConfig.created ?? new Date(0).toISOString();
  const config: ImageConfig = {
    ...result.imageConfig,
    created,
    architecture: result.platform.architecture,
    os: result.platform.os,
    ...(result.platform.variant ? { variant: result.platform.variant } : {}),
    rootfs: { type: "layers", diff_ids: layers.map((layer) => layer.diffId) },
    history: alignHistory(result.imageConfig.history ?? [], chain, epoch),
  };
  const configBytes = new TextEncoder().encode(JSON.stringify(config));
  const configBlob = await store.blobs.writeBytes(configBytes);

  // Docker's schema has no zstd layer type, so zstd layers keep the whole manifest OCI, as in
  // BuildKit. Readers such as skopeo reject a Docker manifest that lists OCI layer types.
  const docker = (options.dockerMediaTypes ?? false) &&
    !layers.some((layer) => layer.mediaType === OCI_LAYER_ZSTD);
  const layerDescriptors: Descriptor[] = layers.map((layer) => ({
    mediaType: docker ? (DOCKER_LAYER_TYPES[layer.mediaType] ?? layer.mediaType) : layer.mediaType,
    digest: layer.digest,
    size: layer.size,
  }));
  const configDescriptor: Descriptor = {
    mediaType: docker ? DOCKER_CONFIG : OCI_CONFIG,
    ...configBlob,
  };
  const manifestMediaType = docker ? DOCKER_MANIFEST : OCI_MANIFEST;
  const manifest = {
    schemaVersion: 2,
    mediaType: manifestMediaType,
    config: configDescriptor,
    layers: layerDescriptors,
  };
  const manifestBytes = new TextEncoder().encode(JSON.stringify(manifest));
  const manifestBlob = await store.blobs.writeBytes(manifestBytes);

  return {
    manifest: { mediaType: manifestMediaType, ...manifestBlob, platform: result.platform },
    config: configDescriptor,
    layers: layerDescriptors,
    manifestBytes,
    configBytes,
  };
}

// Pulled layers keep their original blob, so base layers keep their registry digests.
async function layerFor(
  store: Store,
  snapshot: SnapshotInfo,
  compression: "gzip" | "zstd" | "none",
  epoch: number | undefined,
  signal: AbortSignal | undefined,
) {
  const key = epoch === undefined ? compression : `${compression}@${epoch}`;
  const candidates = [
    snapshot.layers?.[key],
    snapshot.kind === "layer" ? Object.values(snapshot.layers ?? {})[0] : undefined,
  ];
  for (const candidate of candidates) {
    if (candidate && await store.blobs.has(candidate.digest)) return candidate;
  }

  // The tar is packed uncompressed, which gives its diff ID, and compressed on a pool of workers,
  // because one thread compressing hundreds of megabytes would dominate the export.
  const packed = packLayer(store.snapshots.diffDir(snapshot.id), {
    compression: "none",
    sourceDateEpoch: epoch,
  });
  // An uncompressed layer's digest is its diff ID, and its bytes can be packed again from the
  // snapshot, so only that record is stored.
  const blob = compression === "none"
    ? await store.blobs.writeDerived(await drain(packed, signal), {
      snapshot: snapshot.id,
      ...(epoch !== undefined ? { sourceDateEpoch: epoch } : {}),
    })
    : await store.blobs.writeStream(compressBlocks(packed.stream, { compression }), {}, signal);
  const { diffId } = await packed.done;
  const layer: LayerInfo = {
    digest: blob.digest as Digest,
    diffId,
    size: blob.size,
    mediaType: LAYER_MEDIA_TYPES[compression],
  };
  await store.snapshots.addLayer(snapshot.id, key, layer);
  return layer;
}

/** Reads `packed` to its end and returns the digest and size of the tar. */
async function drain(packed: PackedLayer, signal: AbortSignal | undefined) {
  const reader = packed.stream.getReader();
  try {
    while (!(await reader.read()).done) {
      if (signal?.aborted) {
        await reader.cancel(signal.reason);
        signal.throwIfAborted();
      }
    }
  } finally {
    reader.releaseLock();
  }
  const { diffId, size } = await packed.done;
  return { digest: diffId, size };
}
