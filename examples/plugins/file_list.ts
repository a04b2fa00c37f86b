/**
 * An example exporter plugin, `--output type=file-list,dest=PATH`: writes one line per regular
 * file of the build result, "sha256:HEX SIZE PATH", sorted by path.
 *
 * It reads the result as a tar stream from the host, so the only access it needs is writing
 * `dest`, which the user grants:
 *
 * ```sh
 * tsbuild build --plugin examples/plugins/file_list.ts \
 *   --plugin-allow write=/tmp/files.txt --output type=file-list,dest=/tmp/files.txt CONTEXT
 * ```
 *
 * @module
 */

import type { ExportArgs, ExporterContext, ExportResult, Plugin } from "../../mod.ts";
import { listTarFiles } from "./_tar_files.ts";

const ACCEPTED_ATTRS = ["dest"];

async function onExport(args: ExportArgs, context: ExporterContext): Promise<ExportResult> {
  for (const key of Object.keys(args.attrs)) {
    if (!ACCEPTED_ATTRS.includes(key)) {
      throw new TypeError(
        `Unknown attribute "${key}" for --output type=file-list (accepted: ${ACCEPTED_ATTRS})`,
      );
    }
  }
  const dest = args.attrs.dest;
  if (!dest) throw new TypeError(`Missing attribute "dest" for --output type=file-list`);

  const files = await context.progress.step(`listing files into "${dest}"`, async (progress) => {
    const tar = context.filesystemTar({ sourceDateEpoch: args.result.sourceDateEpoch });
    const listed = await listTarFiles(tar);
    progress.status(`${listed.length} files`);
    return listed;
  });
  files.sort((a, b) => compareText(a.path, b.path));
  const lines = files.map((file) => `${file.digest} ${file.size} ${file.path}\n`);
  await Deno.writeTextFile(dest, lines.join(""));
  return { metadata: { "file-list.count": files.length } };
}

const plugin: Plugin = {
  apiVersion: 1,
  name: "file-list",
  // "/" declares that the listing may go anywhere; `--plugin-allow write=PATH` then decides
  // which path the plugin actually gets.
  permissions: { write: ["/"] },
  exporters: [{ name: "file-list", onExport }],
};

export default plugin;

// Orders by UTF-16 code units, so the listing does not depend on the host's locale.
function compareText(a: string, b: string): number {
  if (a < b) return -1;
  if (a > b) return 1;
  return 0;
}
