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
import { chainIds } from "./_chain_id.ts";

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
  const diffIds = image.config.rootfs?.diff_ids ?? [];
  if (diffIds.length !== image.manifest.layers.length) {
    throw new TypeError(
      `Invalid image "${reference}": the manifest has ${image.manifest.layers.length} layers but the config lists ${diffIds.length} diff IDs`,
    );
  }

  // Snapshots are named by chain ID, so images sharing base layers share snapshots.
  const ids = chainIds(diffIds);
  let parent: string | undefined;
  for (const [index, layer] of image.manifest.layers.entries()) {
    const id = ids[index];
    if (!(await context.content.hasSnapshot(id))) {
      await context.progress.step(
        `pulling ${layer.digest.slice(0, 19)} (${formatSize(layer.size)})`,
        async () => {
          if (!(await context.content.hasBlob(layer.digest))) {
            const stream = await context.registry.fetchBlob(reference, layer);
            await context.content.writeBlob(stream, { digest: layer.digest, size: layer.size });
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

function formatSize(bytes: number): string {
  return bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : `${(bytes / 1e3).toFixed(1)} kB`;
}

/** The `docker-image` source plugin. */
export const imageSource: SourcePlugin = { schemes: ["docker-image"], onResolve, onLoad };

const plugin: Plugin = { apiVersion: 1, name: "builtin-image-source", sources: [imageSource] };
export default plugin;
