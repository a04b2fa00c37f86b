/**
 * The context exporters receive: image assembly and the result's merged
 * filesystem, on top of the common plugin context.
 *
 * @module
 */

import { packTree } from "../oci/layer_pack.ts";
import { createPluginContext, type PluginContextOptions } from "../plugin/context.ts";
import type { BuildResult, ExporterContext, Platform } from "../plugin/types.ts";
import { formatPlatform, platformMatches } from "../oci/platform.ts";
import { NotFoundError } from "../errors.ts";
import { materialize } from "../snapshot/materialize.ts";
import { lowerDirsOf, withReadonlyView } from "../solver/_views.ts";
import { buildImage } from "./build_image.ts";
import { lutimes } from "../fs/link_metadata.ts";

/** Options for {@link createExporterContext}. */
export interface ExporterContextOptions extends PluginContextOptions {
  result: BuildResult;
}

/**
 * Returns the result for `platform` of a multi-platform build, or `result`
 * itself when no platform is asked for.
 *
 * @throws {NotFoundError} when the build has no result for `platform`.
 */
export function platformResult(result: BuildResult, platform: Platform | undefined): BuildResult {
  if (!platform) return result;
  const found = (result.platforms ?? [result]).find((candidate) =>
    platformMatches(platform, candidate.platform)
  );
  if (!found) {
    throw new NotFoundError(
      `Failed to build the image for "${formatPlatform(platform)}": the build has no result for it`,
    );
  }
  return found;
}

/** Returns the context for an exporter's `onExport`. */
export function createExporterContext(
  options: ExporterContextOptions,
  plugin?: string,
): ExporterContext {
  const { store, result } = options;
  return {
    ...createPluginContext(options, plugin),
    buildImage: (imageOptions) =>
      buildImage(
        store,
        platformResult(result, imageOptions?.platform),
        imageOptions,
        options.signal,
      ),
    async writeFilesystem(dir) {
      await Deno.mkdir(dir, { recursive: true });
      await materialize(await lowerDirsOf(store, result.snapshot), dir, { signal: options.signal });
      if (result.sourceDateEpoch !== undefined) await clampTimes(dir, result.sourceDateEpoch);
    },
    filesystemTar(tarOptions = {}) {
      let release: (() => Promise<void>) | undefined;
      const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
      (async () => {
        const view = await withReadonlyView(store, result.snapshot, store.temporaryDir);
        release = view.release;
        const packed = packTree(view.dir, {
          compression: "none",
          sourceDateEpoch: tarOptions.sourceDateEpoch ?? result.sourceDateEpoch,
        });
        await packed.stream.pipeTo(writable);
      })().catch((error) => writable.abort(error).catch(() => {})).finally(() => release?.());
      return readable;
    },
  };
}

// Sets every entry's times under `dir` to at most `epoch` seconds, children before their
// directory so that writing a child does not move its parent's time again.
async function clampTimes(dir: string, epoch: number): Promise<void> {
  const limit = new Date(epoch * 1000);
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) await clampTimes(path, epoch);
    const info = await Deno.lstat(path);
    if (info.mtime && info.mtime > limit) lutimes(path, limit, limit);
  }
  const info = await Deno.lstat(dir);
  if (info.mtime && info.mtime > limit) lutimes(dir, limit, limit);
}
