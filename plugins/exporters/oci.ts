/**
 * The `oci` exporter: writes the image as an OCI image layout, in a tar archive or a directory.
 *
 * @module
 */

import type {
  ExportArgs,
  ExporterContext,
  ExporterPlugin,
  ExportResult,
  Platform,
} from "../../core/plugin/types.ts";
// NOTE: the image layout writer will be offered through the exporter context later; until then
// the built-in exporters import it from core.
import {
  parseImageNames,
  writeImageLayoutArchive,
  writeImageLayoutDirectory,
  writeLayoutArchive,
  writeLayoutDirectory,
} from "../../core/oci/image_layout.ts";
import { buildImageIndex, imageIndexLayoutEntries } from "./_image_index.ts";
import { booleanAttr, checkAttrs, compressionAttr, imageNames, requireDest } from "./_attrs.ts";
import {
  checkFileDestination,
  prepareFileDestination,
  writeDirectoryInto,
  writeFileAtomically,
} from "./_destination.ts";
import { blobOpener, imageExportResult, writeOptions } from "./_image.ts";

const ACCEPTED_ATTRS = ["dest", "tar", "name", "compression"] as const;

/**
 * The `oci` exporter. Its attributes:
 * - `dest` (required): the archive file, or the directory when `tar=false`.
 * - `tar`: "true" (the default) writes a tar archive, "false" a layout directory.
 * - `name`: comma-separated image names, added to the `-t` names.
 * - `compression`: "gzip", "zstd" or "uncompressed".
 *
 * `index.json` gets one entry per name, annotated with the tag
 * (`org.opencontainers.image.ref.name`) and the full name (`io.containerd.image.name`). An
 * archive is written to a temporary file and renamed over `dest` when complete. An existing
 * directory `dest` is updated in place: files of the new layout replace those of the same name,
 * and other files stay, including the blobs of images the new `index.json` no longer lists.
 */
export const ociExporter: ExporterPlugin = {
  name: "oci",
  async onCheck(args) {
    checkAttrs("oci", args.attrs, ACCEPTED_ATTRS);
    const dest = requireDest("oci", args.attrs);
    const asTar = booleanAttr("oci", args.attrs, "tar", true);
    compressionAttr("oci", args.attrs);
    parseImageNames(imageNames(args));
    if (asTar) {
      await checkFileDestination(dest, { type: "oci", hint: "set tar=false to write a directory" });
    }
  },
  async onExport(args: ExportArgs, context: ExporterContext): Promise<ExportResult> {
    checkAttrs("oci", args.attrs, ACCEPTED_ATTRS);
    const dest = requireDest("oci", args.attrs);
    const asTar = booleanAttr("oci", args.attrs, "tar", true);
    const compression = compressionAttr("oci", args.attrs);
    const names = imageNames(args);
    parseImageNames(names); // rejects a bad name before the image is built
    const destination = {
      type: "oci",
      hint: asTar ? "set tar=false to write a directory" : undefined,
    };
    if (asTar) await prepareFileDestination(dest, destination);
    const platforms = args.result.platforms;
    if (platforms && platforms.length > 1) {
      const list = platforms.map((result) => result.platform);
      return await exportIndex(context, list, { dest, asTar, compression, names, destination });
    }

    const image = await context.progress.step(
      "exporting layers",
      () => context.buildImage({ compression }),
    );
    await context.progress.step(
      `exporting image ${image.manifest.digest} to "${dest}"`,
      async (progress) => {
        const options = writeOptions(context, progress, names);
        if (asTar) {
          await writeFileAtomically(
            dest,
            destination,
            (writable) => writeImageLayoutArchive(writable, image, blobOpener(context), options),
          );
        } else {
          await writeDirectoryInto(
            dest,
            destination,
            (dir) => writeImageLayoutDirectory(dir, image, blobOpener(context), options),
          );
        }
      },
    );

    return imageExportResult(image, names);
  },
};

// A multi-platform build becomes one image per platform, listed by an image index that
// index.json names, as BuildKit's oci exporter writes it.
async function exportIndex(
  context: ExporterContext,
  platforms: Platform[],
  options: {
    dest: string;
    asTar: boolean;
    compression: ReturnType<typeof compressionAttr>;
    names: string[];
    destination: { type: string; hint?: string };
  },
): Promise<ExportResult> {
  const { dest, asTar, names, destination } = options;
  const artifact = await context.progress.step(
    "exporting layers",
    () => buildImageIndex(context, { compression: options.compression }, platforms),
  );
  await context.progress.step(
    `exporting image index ${artifact.index.digest} to "${dest}"`,
    async (progress) => {
      const entries = imageIndexLayoutEntries(artifact, names);
      const writeOpts = writeOptions(context, progress, names);
      if (asTar) {
        await writeFileAtomically(
          dest,
          destination,
          (writable) => writeLayoutArchive(writable, entries, blobOpener(context), writeOpts),
        );
      } else {
        await writeDirectoryInto(
          dest,
          destination,
          (dir) => writeLayoutDirectory(dir, entries, blobOpener(context), writeOpts),
        );
      }
    },
  );
  return {
    digest: artifact.index.digest,
    metadata: {
      "containerimage.descriptor": artifact.index,
      ...(names.length > 0 ? { "image.name": names.join(",") } : {}),
    },
  };
}
