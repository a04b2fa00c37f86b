/**
 * The `containerd-image` source: an image from containerd's image store, pinned to its
 * manifest digest, unpacked into one snapshot per layer as the registry source does.
 *
 * @module
 */

import type {
  ContainerdClient,
  Plugin,
  PluginContext,
  SourceLoadArgs,
  SourceLoadResult,
  SourcePlugin,
  SourceResolveArgs,
  SourceResolveResult,
} from "../../core/plugin/types.ts";
// NOTE: plugins are meant to import only types from core; the error classes are shared until
// the plugin API offers them.
import { InvalidInputError } from "../../core/errors.ts";
import { loadImageLayers } from "./_image_layers.ts";

/** A pinned identifier's trailing manifest digest. */
const DIGEST_SUFFIX = /@sha256:[a-f0-9]{64}$/;

async function onResolve(
  args: SourceResolveArgs,
  context: PluginContext,
): Promise<SourceResolveResult> {
  const image = await containerdOf(args, context).resolveImage(args.path, args.platform);
  return { pin: image.digest };
}

async function onLoad(args: SourceLoadArgs, context: PluginContext): Promise<SourceLoadResult> {
  const containerd = containerdOf(args, context);
  const reference = `${args.path.replace(DIGEST_SUFFIX, "")}@${args.pin}`;
  const image = await containerd.resolveImage(reference, args.platform);
  const snapshot = await loadImageLayers(reference, image, {
    describe: (layer, size) => `loading ${layer.digest.slice(0, 19)} (${size}) from containerd`,
    fetch: (layer) => Promise.resolve(containerd.content.read(layer.digest)),
  }, context);
  return { snapshot };
}

function containerdOf(args: SourceResolveArgs, context: PluginContext): ContainerdClient {
  if (context.containerd) return context.containerd;
  throw new InvalidInputError(
    `Failed to resolve "${args.identifier}": this build has no containerd client`,
  );
}

/** The `containerd-image` source plugin. */
export const containerdImageSource: SourcePlugin = {
  schemes: ["containerd-image"],
  onResolve,
  onLoad,
};

const plugin: Plugin = {
  apiVersion: 1,
  name: "builtin-containerd-image-source",
  sources: [containerdImageSource],
};
export default plugin;
