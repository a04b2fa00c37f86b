/**
 * Turns an image's layers into a chain of snapshots, shared by the registry
 * and containerd image sources.
 *
 * @module
 */

import type { Descriptor, Digest, PluginContext } from "../../mod.ts";
import { chainIds } from "./_chain_id.ts";

/** The origin of an image's layer blobs: the registry or containerd's content store. */
export interface LayerOrigin {
  /** Progress text for loading one layer, e.g. "pulling sha256:1234 (1.1 MB)". */
  describe(layer: Descriptor, size: string): string;
  /** Opens a layer blob that the store does not have yet. */
  fetch(layer: Descriptor): Promise<ReadableStream<Uint8Array>>;
}

/**
 * Makes one snapshot per layer and returns the top one. Snapshots are named by
 * chain ID, so images that share base layers share snapshots, whichever source
 * loaded them, and a layer already unpacked is not fetched again.
 */
export async function loadImageLayers(
  reference: string,
  image: { manifest: { layers: Descriptor[] }; config: { rootfs?: { diff_ids?: string[] } } },
  origin: LayerOrigin,
  context: PluginContext,
): Promise<string | undefined> {
  const diffIds = (image.config.rootfs?.diff_ids ?? []) as Digest[];
  const layers = image.manifest.layers;
  if (diffIds.length !== layers.length) {
    throw new TypeError(
      `Invalid image "${reference}": the manifest has ${layers.length} layers but the config lists ${diffIds.length} diff IDs`,
    );
  }

  const ids = chainIds(diffIds);
  let parent: string | undefined;
  for (const [index, layer] of layers.entries()) {
    const id = ids[index];
    if (!(await context.content.hasSnapshot(id))) {
      const diffId = diffIds[index];
      await context.progress.step(origin.describe(layer, formatSize(layer.size)), async () => {
        if (!(await context.content.hasBlob(layer.digest))) {
          const stream = await origin.fetch(layer);
          await context.content.writeBlob(stream, { digest: layer.digest, size: layer.size });
        }
        const blob = { digest: layer.digest, diffId, size: layer.size, mediaType: layer.mediaType };
        await context.content.createSnapshot(
          { id, parent, kind: "layer", layer: blob },
          async (diffDir) => {
            await context.layers.unpack(await context.content.openBlob(layer.digest), diffDir, {
              expectedDigest: layer.digest,
              expectedDiffId: diffId,
            });
          },
        );
      });
    }
    parent = id;
  }
  return parent;
}

function formatSize(bytes: number): string {
  return bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : `${(bytes / 1e3).toFixed(1)} kB`;
}
