/**
 * Turns an image's layers into a chain of snapshots, shared by the registry
 * and containerd image sources.
 *
 * @module
 */

import type { Descriptor, Digest, PluginContext } from "../../mod.ts";
import { DigestMismatchError } from "../../core/errors.ts";
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
      const description = origin.describe(layer, formatSize(layer.size));
      const blob = { digest: layer.digest, diffId: diffIds[index], size: layer.size };
      await context.progress.step(description, () =>
        context.content.createSnapshot(
          { id, parent, kind: "layer", layer: { ...blob, mediaType: layer.mediaType } },
          (diffDir) => fillLayer(layer, blob.diffId, diffDir, origin, context),
        ));
    }
    parent = id;
  }
  return parent;
}

/**
 * Unpacks `layer` into `diffDir`. A blob the store lacks is fetched once, and
 * its bytes go to the store and to the unpacker at the same time, so the
 * unpack does not wait for the whole download. Both check the digest; the
 * snapshot is kept only when both succeed.
 */
async function fillLayer(
  layer: Descriptor,
  diffId: Digest,
  diffDir: string,
  origin: LayerOrigin,
  context: PluginContext,
): Promise<void> {
  const checks = { expectedDigest: layer.digest, expectedDiffId: diffId };
  if (await context.content.hasBlob(layer.digest)) {
    await context.layers.unpack(await context.content.openBlob(layer.digest), diffDir, checks);
    return;
  }
  // The unpacker starts before the registry responds, so its setup overlaps with the request.
  const tee = teeWithBackpressure(streamOf(origin.fetch(layer)));
  // A branch whose reader fails may stop reading without cancelling, so both are stopped then.
  const failures: unknown[] = [];
  const stopOnFailure = (error: unknown) => {
    failures.push(error);
    tee.cancel(error);
  };
  await Promise.all([
    context.content.writeBlob(tee.branches[0], { digest: layer.digest, size: layer.size })
      .catch(stopOnFailure),
    context.layers.unpack(tee.branches[1], diffDir, checks).catch(stopOnFailure),
  ]);
  // A short or altered blob makes the unpacker fail too, sometimes first; the digest check names
  // the cause. Otherwise the first failure is thrown, since the other branch was only stopped.
  if (failures.length > 0) {
    throw failures.find((error) => error instanceof DigestMismatchError) ?? failures[0];
  }
}

/** Returns a stream of the stream that `opened` resolves to, failing when `opened` rejects. */
function streamOf(opened: Promise<ReadableStream<Uint8Array>>): ReadableStream<Uint8Array> {
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      reader ??= (await opened).getReader();
      const { done, value } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    async cancel(reason) {
      await (reader ?? (await opened.catch(() => undefined))?.getReader())?.cancel(reason);
    },
  }, { highWaterMark: 0 });
}

/** The two branches of {@linkcode teeWithBackpressure}, and a way to stop both. */
export interface BackpressureTee {
  branches: [ReadableStream<Uint8Array>, ReadableStream<Uint8Array>];
  /** Cancels the source and makes both branches fail with `reason`. */
  cancel(reason: unknown): void;
}

/**
 * Splits `source` into two streams that each get every chunk. Unlike
 * `ReadableStream.tee()`, a chunk is read from `source` only once both
 * branches took the previous one, so a slow reader holds back the download
 * instead of letting it pile up in memory. When one branch is cancelled, the
 * other fails too, and `source` is cancelled.
 */
export function teeWithBackpressure(source: ReadableStream<Uint8Array>): BackpressureTee {
  const pipes = [new TransformStream<Uint8Array, Uint8Array>(), new TransformStream()];
  const writers = pipes.map((pipe) => pipe.writable.getWriter());
  const reader = source.getReader();
  const cancel = (reason: unknown) => {
    reader.cancel(reason).catch(() => {});
    for (const writer of writers) writer.abort(reason).catch(() => {});
  };
  const pump = async () => {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      await Promise.all(writers.map((writer) => writer.write(value)));
    }
    await Promise.all(writers.map((writer) => writer.close()));
  };
  pump().catch(cancel);
  return { branches: [pipes[0].readable, pipes[1].readable], cancel };
}

function formatSize(bytes: number): string {
  return bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : `${(bytes / 1e3).toFixed(1)} kB`;
}
