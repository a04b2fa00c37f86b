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
import { chainIds } from "./_chain_id.ts";

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
  const diffIds = image.config.rootfs?.diff_ids ?? [];
  if (diffIds.length !== image.manifest.layers.length) {
    throw new TypeError(
      `Invalid image "${reference}": the manifest has ${image.manifest.layers.length} layers but the config lists ${diffIds.length} diff IDs`,
    );
  }

  // Snapshots are named by chain ID, so images sharing base layers share snapshots, whichever
  // source loaded them.
  const ids = chainIds(diffIds);
  let parent: string | undefined;
  for (const [index, layer] of image.manifest.layers.entries()) {
    const id = ids[index];
    if (!(await context.content.hasSnapshot(id))) {
      await context.progress.step(
        `loading ${layer.digest.slice(0, 19)} (${formatSize(layer.size)}) from containerd`,
        async () => {
          if (!(await context.content.hasBlob(layer.digest))) {
            await context.content.writeBlob(containerd.content.read(layer.digest), {
              digest: layer.digest,
              size: layer.size,
            });
          }
          const blob = {
            digest: layer.digest,
            diffId: diffIds[index],
            size: layer.size,
            mediaType: layer.mediaType,
          };
          await context.content.createSnapshot(
            { id, parent, kind: "layer", layer: blob },
            async (diffDir) => {
              await context.layers.unpack(await context.content.openBlob(layer.digest), diffDir, {
                expectedDigest: layer.digest,
                expectedDiffId: diffIds[index],
              });
            },
          );
        },
      );
    }
    parent = id;
  }
  return { snapshot: parent };
}

function containerdOf(args: SourceResolveArgs, context: PluginContext): ContainerdClient {
  if (context.containerd) return context.containerd;
  throw new InvalidInputError(
    `Failed to resolve "${args.identifier}": this build has no containerd client`,
  );
}

function formatSize(bytes: number): string {
  return bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : `${(bytes / 1e3).toFixed(1)} kB`;
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
