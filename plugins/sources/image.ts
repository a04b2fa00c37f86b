/**
 * The `docker-image` source: an image from an OCI registry, pinned to its
 * manifest digest, unpacked into one snapshot per layer.
 *
 * @module
 */

import type {
  Plugin,
  PluginContext,
  SourceLoadArgs,
  SourceLoadResult,
  SourcePlugin,
  SourceResolveArgs,
  SourceResolveResult,
} from "../../mod.ts";
import { loadImageLayers } from "./_image_layers.ts";

async function onResolve(
  args: SourceResolveArgs,
  context: PluginContext,
): Promise<SourceResolveResult> {
  const image = await context.registry.resolve(args.path, args.platform);
  return { pin: image.digest };
}

async function onLoad(args: SourceLoadArgs, context: PluginContext): Promise<SourceLoadResult> {
  const reference = `${args.path.replace(/@sha256:[a-f0-9]{64}$/, "")}@${args.pin}`;
  const image = await context.registry.resolve(reference, args.platform);
  const snapshot = await loadImageLayers(reference, image, {
    describe: (layer, size) => `pulling ${layer.digest.slice(0, 19)} (${size})`,
    fetch: (layer) => context.registry.fetchBlob(reference, layer),
  }, context);
  return { snapshot };
}

/** The `docker-image` source plugin. */
export const imageSource: SourcePlugin = { schemes: ["docker-image"], onResolve, onLoad };

const plugin: Plugin = { apiVersion: 1, name: "builtin-image-source", sources: [imageSource] };
export default plugin;
