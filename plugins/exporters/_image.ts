/**
 * Helpers shared by the image exporters (oci, docker): reading blobs through the context and
 * reporting the exported image.
 *
 * @module
 */

import type { Digest } from "../../core/digest.ts";
import type {
  ExporterContext,
  ExportResult,
  ImageArtifact,
  VertexProgress,
} from "../../core/plugin/types.ts";

/** Returns a blob opener reading from the store through `context`. */
export function blobOpener(
  context: ExporterContext,
): (digest: Digest) => Promise<ReadableStream<Uint8Array>> {
  return (digest) => context.content.openBlob(digest);
}

/** Returns the write options that report progress on `progress` and stop on the build's signal. */
export function writeOptions(context: ExporterContext, progress: VertexProgress, names: string[]) {
  return {
    names,
    signal: context.signal,
    onProgress: (written: number, total: number) => progress.status("writing", written, total),
  };
}

/**
 * Returns the result of exporting `image` under `names`: the manifest and config digests, and
 * the metadata keys BuildKit writes to `--metadata-file` for an image.
 */
export function imageExportResult(image: ImageArtifact, names: string[]): ExportResult {
  return {
    digest: image.manifest.digest,
    configDigest: image.config.digest,
    metadata: {
      "containerimage.descriptor": image.manifest,
      ...(names.length > 0 ? { "image.name": names.join(",") } : {}),
    },
  };
}
