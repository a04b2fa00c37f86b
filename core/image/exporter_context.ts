/**
 * The context exporters receive: image assembly and the result's merged
 * filesystem, on top of the common plugin context.
 *
 * @module
 */

import { packTree } from "../oci/layer_pack.ts";
import { createPluginContext, type PluginContextOptions } from "../plugin/context.ts";
import type { BuildResult, ExporterContext } from "../plugin/types.ts";
import { materialize } from "../snapshot/materialize.ts";
import { lowerDirsOf, withReadonlyView } from "../solver/_views.ts";
import { buildImage } from "./build_image.ts";

/** Options for {@link createExporterContext}. */
export interface ExporterContextOptions extends PluginContextOptions {
  result: BuildResult;
}

/** Returns the context for an exporter's `onExport`. */
export function createExporterContext(
  options: ExporterContextOptions,
  plugin?: string,
): ExporterContext {
  const { store, result } = options;
  return {
    ...createPluginContext(options, plugin),
    buildImage: (imageOptions) => buildImage(store, result, imageOptions),
    async writeFilesystem(dir) {
      await Deno.mkdir(dir, { recursive: true });
      await materialize(await lowerDirsOf(store, result.snapshot), dir, { signal: options.signal });
    },
    filesystemTar(tarOptions = {}) {
      let release: (() => Promise<void>) | undefined;
      const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
      (async () => {
        const view = await withReadonlyView(store, result.snapshot, store.temporaryDir);
        release = view.release;
        const packed = packTree(view.dir, {
          compression: "none",
          sourceDateEpoch: tarOptions.sourceDateEpoch,
        });
        await packed.stream.pipeTo(writable);
      })().catch((error) => writable.abort(error).catch(() => {})).finally(() => release?.());
      return readable;
    },
  };
}
