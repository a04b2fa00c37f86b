/**
 * The `registry` exporter: pushes the image to a registry under each of its
 * names, as `docker buildx build --push` and `--output type=registry` do.
 *
 * @module
 */

import type { Digest } from "../../core/digest.ts";
import type {
  Descriptor,
  ExportArgs,
  ExporterContext,
  ExporterPlugin,
  ExportResult,
  ImageArtifact,
  VertexProgress,
} from "../../core/plugin/types.ts";
import { formatReference, parseReference } from "../../core/oci/reference.ts";
import { InvalidInputError } from "../../core/errors.ts";
import { booleanAttr, checkAttrs, compressionAttr, imageNames } from "./_attrs.ts";
import { imageExportResult } from "./_image.ts";
import { buildImageIndex } from "./_image_index.ts";

const ACCEPTED_ATTRS = ["name", "compression", "oci-mediatypes", "push"] as const;

/**
 * The `registry` exporter. Its attributes:
 * - `name`: comma-separated image names, added to the `-t` names; at least one is needed.
 * - `compression`: "gzip" (the default), "zstd" or "uncompressed".
 * - `oci-mediatypes`: "true" (the default) for OCI media types, "false" for Docker's (one
 *   platform only).
 * - `push`: "true", the only value, accepted because buildx writes it.
 *
 * Blobs the repository already has are not sent again. A multi-platform build pushes each
 * platform's manifest by digest, then the index under each name.
 */
export const registryExporter: ExporterPlugin = {
  name: "registry",
  onCheck(args) {
    readAttrs(args);
  },
  async onExport(args: ExportArgs, context: ExporterContext): Promise<ExportResult> {
    const { names, compression, dockerMediaTypes } = readAttrs(args);
    const platforms = args.result.platforms;
    if (platforms && platforms.length > 1) {
      if (dockerMediaTypes) {
        throw new InvalidInputError(
          'Invalid output "type=registry": "oci-mediatypes=false" is not supported for a multi-platform image',
        );
      }
      const artifact = await context.progress.step(
        "exporting layers",
        () => buildImageIndex(context, { compression }, platforms.map((result) => result.platform)),
      );
      for (const name of names) {
        await context.progress.step(`pushing ${name}`, async (progress) => {
          for (const image of artifact.images) {
            await pushImage(context, progress, byDigest(name, image.manifest.digest), image);
          }
          await context.registry.pushManifest(name, artifact.indexBytes, artifact.index.mediaType);
        });
      }
      return {
        digest: artifact.index.digest,
        metadata: { "containerimage.descriptor": artifact.index, "image.name": names.join(",") },
      };
    }

    const image = await context.progress.step(
      "exporting layers",
      () => context.buildImage({ compression, dockerMediaTypes }),
    );
    for (const name of names) {
      await context.progress.step(
        `pushing ${name}`,
        (progress) => pushImage(context, progress, name, image),
      );
    }
    return imageExportResult(image, names);
  },
};

/** Reads and checks the attributes; names are checked here so a bad one fails before the build. */
function readAttrs(args: { attrs: Record<string, string>; names: string[] }) {
  checkAttrs("registry", args.attrs, ACCEPTED_ATTRS);
  if (!booleanAttr("registry", args.attrs, "push", true)) {
    throw new InvalidInputError(
      'Invalid output "type=registry": "push=false" is not supported; use type=oci to keep the image local',
    );
  }
  // A name given twice, with -t and name=, is pushed once.
  const names = [...new Set(imageNames(args))];
  if (names.length === 0) {
    throw new InvalidInputError(
      'Invalid output "type=registry": missing image name: pass -t NAME or name=NAME',
    );
  }
  for (const name of names) {
    if (parseReference(name).digest !== undefined) {
      throw new InvalidInputError(
        `Invalid output "type=registry": "${name}" names a digest; push under a tag, such as HOST/NAME:TAG`,
      );
    }
  }
  return {
    names,
    compression: compressionAttr("registry", args.attrs),
    dockerMediaTypes: !booleanAttr("registry", args.attrs, "oci-mediatypes", true),
  };
}

/** Pushes the config and layers the repository lacks, then the manifest under `reference`. */
async function pushImage(
  context: ExporterContext,
  progress: VertexProgress,
  reference: string,
  image: ImageArtifact,
): Promise<void> {
  const blobs = [image.config, ...image.layers];
  const total = blobs.reduce((sum, blob) => sum + blob.size, 0);
  let done = 0;
  for (const blob of blobs) {
    context.signal.throwIfAborted();
    await context.registry.pushBlob(reference, blob, () => openLazily(context, blob));
    done += blob.size;
    progress.status("pushing", done, total);
  }
  await context.registry.pushManifest(reference, image.manifestBytes, image.manifest.mediaType);
}

/** Returns a stream of a stored blob that opens the blob on its first read. */
function openLazily(context: ExporterContext, blob: Descriptor): ReadableStream<Uint8Array> {
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      reader ??= (await context.content.openBlob(blob.digest as Digest)).getReader();
      const { done, value } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel(reason) {
      return reader?.cancel(reason);
    },
  });
}

/** Returns the repository of `name` with `digest` in place of its tag. */
function byDigest(name: string, digest: string): string {
  const reference = parseReference(name);
  return formatReference({ ...reference, tag: undefined, digest: digest as Digest });
}
