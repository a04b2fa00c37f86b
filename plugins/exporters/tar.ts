/**
 * The `tar` exporter: writes the result's filesystem as a tar archive.
 *
 * @module
 */

import type {
  ExportArgs,
  ExporterContext,
  ExporterPlugin,
  ExportResult,
} from "../../core/plugin/types.ts";
import { checkAttrs, requireDest } from "./_attrs.ts";
import { checkFileDestination, writeFileAtomically } from "./_destination.ts";
import { rejectMultiPlatform } from "./_image_index.ts";

const ACCEPTED_ATTRS = ["dest"] as const;

/**
 * The `tar` exporter. Attribute: `dest` (required), the archive file to write.
 *
 * The uncompressed archive is streamed into a temporary file beside `dest` and renamed over it
 * when complete.
 */
export const tarExporter: ExporterPlugin = {
  name: "tar",
  async onCheck(args) {
    checkAttrs("tar", args.attrs, ACCEPTED_ATTRS);
    await checkFileDestination(requireDest("tar", args.attrs), { type: "tar" });
  },
  async onExport(args: ExportArgs, context: ExporterContext): Promise<ExportResult> {
    checkAttrs("tar", args.attrs, ACCEPTED_ATTRS);
    rejectMultiPlatform("tar", args);
    const dest = requireDest("tar", args.attrs);

    await context.progress.step(`sending tarball to "${dest}"`, async () => {
      await writeFileAtomically(
        dest,
        { type: "tar" },
        (writable) => context.filesystemTar().pipeTo(writable, { signal: context.signal }),
      );
    });
    return {};
  },
};
