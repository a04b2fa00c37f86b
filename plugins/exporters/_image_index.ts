/**
 * Multi-platform images: one image per platform of the build, and the OCI
 * image index that lists them, laid out as an OCI image layout.
 *
 * @module
 */

import type {
  Descriptor,
  ExportArgs,
  ExporterContext,
  ImageArtifact,
  Platform,
} from "../../mod.ts";
import { InvalidInputError } from "../../core/errors.ts";
import { digestOf } from "../../core/digest.ts";
import { OCI_INDEX } from "../../core/oci/media_types.ts";
import {
  blobPath,
  createImageIndex,
  encodeJson,
  IMAGE_LAYOUT_VERSION,
  type LayoutEntry,
  parseImageNames,
} from "../../core/oci/image_layout.ts";

/** The images of a multi-platform build and the index that lists them. */
export interface ImageIndexArtifact {
  images: ImageArtifact[];
  /** Descriptor of the index blob, which is stored in the content store. */
  index: Descriptor;
  indexBytes: Uint8Array;
}

/**
 * Builds the image of each platform of `context`'s multi-platform result and
 * the OCI image index listing their manifests, in the order the platforms
 * were requested.
 */
export async function buildImageIndex(
  context: ExporterContext,
  options: { compression?: "gzip" | "zstd" | "none" },
  platforms: Platform[],
): Promise<ImageIndexArtifact> {
  const images: ImageArtifact[] = [];
  for (const platform of platforms) {
    images.push(await context.buildImage({ compression: options.compression, platform }));
  }
  const indexBytes = encodeJson({
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests: images.map((image) => image.manifest),
  });
  const stored = await context.content.writeBlob(ReadableStream.from([indexBytes]));
  return {
    images,
    index: { mediaType: OCI_INDEX, digest: stored.digest, size: stored.size },
    indexBytes,
  };
}

/**
 * Lists the entries of an OCI layout holding a multi-platform image:
 * "oci-layout", every layer once, each image's config and manifest, the
 * index blob, and "index.json" pointing at the index under `names`.
 */
export function imageIndexLayoutEntries(
  artifact: ImageIndexArtifact,
  names: string[],
): LayoutEntry[] {
  if (digestOf(artifact.indexBytes) !== artifact.index.digest) {
    throw new TypeError(`Invalid image index: its bytes do not match "${artifact.index.digest}"`);
  }
  const layers = new Map<string, Descriptor>();
  for (const image of artifact.images) {
    for (const layer of image.layers) layers.set(layer.digest, layer);
  }
  const files = new Map<string, Uint8Array>();
  for (const image of artifact.images) {
    files.set(blobPath(image.config.digest), image.configBytes);
    files.set(blobPath(image.manifest.digest), image.manifestBytes);
  }
  files.set(blobPath(artifact.index.digest), artifact.indexBytes);

  return [
    {
      kind: "file",
      path: "oci-layout",
      data: encodeJson({ imageLayoutVersion: IMAGE_LAYOUT_VERSION }),
    },
    { kind: "directory", path: "blobs/" },
    { kind: "directory", path: "blobs/sha256/" },
    ...[...layers.values()].map((layer): LayoutEntry => ({
      kind: "blob",
      path: blobPath(layer.digest),
      descriptor: layer,
    })),
    ...[...files].map(([path, data]): LayoutEntry => ({ kind: "file", path, data })),
    {
      kind: "file",
      path: "index.json",
      data: encodeJson(createImageIndex(artifact.index, parseImageNames(names))),
    },
  ];
}

/**
 * Rejects a multi-platform result in an exporter that writes one filesystem or image.
 *
 * NOTE: BuildKit's local and tar exporters write one directory per platform instead.
 */
export function rejectMultiPlatform(exporter: string, args: ExportArgs): void {
  const count = args.result.platforms?.length ?? 1;
  if (count <= 1) return;
  throw new InvalidInputError(
    `Failed to export "type=${exporter}": the build is for ${count} platforms, and only ` +
      "type=oci exports several (or build for one platform with --platform)",
  );
}
