/**
 * Assembles an OCI image from a build result: one layer per snapshot in the
 * result's chain (made once and reused), the config with diff IDs and
 * history, and the manifest, all stored in the content store.
 *
 * @module
 */

import type { Digest } from "../digest.ts";
import { NotFoundError } from "../errors.ts";
import { lstatIfExists } from "../fs/lstat.ts";
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
import { digestLayer, packLayer } from "../oci/layer_pack.ts";
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

  const diffDir = store.snapshots.diffDir(snapshot.id);
  if (lstatIfExists(diffDir)?.isDirectory !== true) {
    throw new NotFoundError(
      `Failed to make a layer of snapshot "${snapshot.id}": its files ("${diffDir}") are gone, ` +
        `so the store was changed outside tsbuild; run \`tsbuild prune\` and build again`,
      { data: { snapshot: snapshot.id } },
    );
  }
  // An uncompressed layer's digest is its diff ID, and its bytes can be packed again from the
  // snapshot, so only that record is stored.
  if (compression === "none") {
    const { diffId, size } = await digestLayer(diffDir, { sourceDateEpoch: epoch }, signal);
    await store.blobs.writeDerived({ digest: diffId, size }, {
      snapshot: snapshot.id,
      ...(epoch !== undefined ? { sourceDateEpoch: epoch } : {}),
    });
    return await recordLayer(store, snapshot, key, { digest: diffId, diffId, size, compression });
  }

  // The tar is packed uncompressed, which gives its diff ID, and compressed on a pool of workers,
  // because one thread compressing hundreds of megabytes would dominate the export.
  const packed = packLayer(diffDir, { compression: "none", sourceDateEpoch: epoch });
  const blob = await store.blobs.writeStream(
    compressBlocks(packed.stream, { compression }),
    {},
    signal,
  );
  const { diffId } = await packed.done;
  return await recordLayer(store, snapshot, key, { ...blob, diffId, compression });
}

/** Records the layer made from `snapshot` with `compression` under `key`, and returns it. */
async function recordLayer(
  store: Store,
  snapshot: SnapshotInfo,
  key: string,
  made: { digest: Digest; diffId: Digest; size: number; compression: "gzip" | "zstd" | "none" },
): Promise<LayerInfo> {
  const layer: LayerInfo = {
    digest: made.digest,
    diffId: made.diffId,
    size: made.size,
    mediaType: LAYER_MEDIA_TYPES[made.compression],
  };
  await store.snapshots.addLayer(snapshot.id, key, layer);
  return layer;
}
