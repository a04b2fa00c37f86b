/**
 * The `local` exporter: writes the result's filesystem into a directory.
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
import { writeDirectoryInto } from "./_destination.ts";
import { rejectMultiPlatform } from "./_image_index.ts";

const ACCEPTED_ATTRS = ["dest"] as const;

/**
 * The `local` exporter. Attribute: `dest` (required), the directory to write to.
 *
 * A missing `dest` is created whole: the filesystem is written beside it and renamed into place
 * when complete. An existing `dest` is updated as BuildKit's local exporter does: each file of
 * the result replaces the one of the same name, and files that the result does not have stay.
 */
export const localExporter: ExporterPlugin = {
  name: "local",
  onCheck(args) {
    checkAttrs("local", args.attrs, ACCEPTED_ATTRS);
    requireDest("local", args.attrs);
  },
  async onExport(args: ExportArgs, context: ExporterContext): Promise<ExportResult> {
    checkAttrs("local", args.attrs, ACCEPTED_ATTRS);
    rejectMultiPlatform("local", args);
    const dest = requireDest("local", args.attrs);

    await context.progress.step(`copying files to "${dest}"`, async () => {
      await writeDirectoryInto(dest, { type: "local" }, (dir) => context.writeFilesystem(dir));
    });
    return {};
  },
};
