/**
 * The `docker` exporter: writes the image as a tarball that `docker load` reads.
 *
 * @module
 */

import type {
  ExportArgs,
  ExporterContext,
  ExporterPlugin,
  ExportResult,
} from "../../core/plugin/types.ts";
// NOTE: the image layout and Docker archive writers will be offered through the exporter
// context later; until then the built-in exporters import them from core.
import { parseImageNames } from "../../core/oci/image_layout.ts";
import { writeDockerArchive } from "../../core/oci/docker_archive.ts";
import { checkAttrs, compressionAttr, imageNames, requireDest } from "./_attrs.ts";
import {
  checkFileDestination,
  prepareFileDestination,
  writeFileAtomically,
} from "./_destination.ts";
import { blobOpener, imageExportResult, writeOptions } from "./_image.ts";
import { rejectMultiPlatform } from "./_image_index.ts";

const ACCEPTED_ATTRS = ["dest", "name", "compression"] as const;

/**
 * The `docker` exporter. Attributes: `dest` (required), `name` (comma-separated names added to
 * the `-t` names) and `compression` ("gzip", "zstd" or "uncompressed").
 *
 * The tarball contains the files that `docker save` writes since Docker 25: "manifest.json" with the names
 * as `docker load` tags them ("busybox" becomes "busybox:latest"), "repositories", and an OCI
 * layout ("oci-layout", "index.json", "blobs/sha256/"). The image uses Docker's media types. The
 * tarball is written to a temporary file and renamed over `dest` when complete.
 */
export const dockerExporter: ExporterPlugin = {
  name: "docker",
  async onCheck(args) {
    checkAttrs("docker", args.attrs, ACCEPTED_ATTRS);
    const dest = requireDest("docker", args.attrs);
    compressionAttr("docker", args.attrs);
    parseImageNames(imageNames(args));
    await checkFileDestination(dest, { type: "docker" });
  },
  async onExport(args: ExportArgs, context: ExporterContext): Promise<ExportResult> {
    checkAttrs("docker", args.attrs, ACCEPTED_ATTRS);
    rejectMultiPlatform("docker", args);
    const dest = requireDest("docker", args.attrs);
    const compression = compressionAttr("docker", args.attrs);
    const names = imageNames(args);
    parseImageNames(names); // rejects a bad name before the image is built
    const destination = { type: "docker" };
    await prepareFileDestination(dest, destination);

    const image = await context.progress.step(
      "exporting layers",
      () => context.buildImage({ compression, dockerMediaTypes: true }),
    );
    await context.progress.step(
      `exporting image ${image.manifest.digest} to "${dest}"`,
      async (progress) => {
        await writeFileAtomically(dest, destination, (writable) =>
          writeDockerArchive(
            writable,
            image,
            blobOpener(context),
            writeOptions(context, progress, names),
          ));
      },
    );

    return imageExportResult(image, names);
  },
};
