/**
 * Tests of turning an image's layers into snapshots: a fetched blob goes to
 * the store and to the unpacker in one pass, and nothing is kept from a blob
 * that fails its digest.
 *
 * @module
 */

import { join } from "../../../core/deps.ts";
import { digestHex } from "../../../core/digest.ts";
import { CancelledError, DigestMismatchError } from "../../../core/errors.ts";
import { OCI_LAYER_GZIP } from "../../../core/oci/media_types.ts";
import { hostPlatform } from "../../../core/oci/platform.ts";
import { createPluginContext } from "../../../core/plugin/context.ts";
import { RecordingSink } from "../../../core/progress/events.ts";
import { createRegistryClient } from "../../../core/registry/client.ts";
import { openStore, type Store } from "../../../core/store/store.ts";
import type { Descriptor } from "../../../mod.ts";
import { loadImageLayers, teeWithBackpressure } from "../../../plugins/sources/_image_layers.ts";
import { assert, assertEquals, assertRejects } from "../../_assert.ts";
import { buildBusyboxImage, type BusyboxImage } from "../../_fixtures/busybox_image.ts";

async function withStoreAndImage(
  fn: (store: Store, image: BusyboxImage, layerBytes: Uint8Array) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "tsbuild-image-layers-test-" });
  const store = await openStore(join(dir, "root"));
  try {
    const image = await buildBusyboxImage(join(dir, "layout"));
    const path = join(image.dir, "blobs", "sha256", digestHex(image.layerDigest));
    await fn(store, image, await Deno.readFile(path));
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
}

function contextFor(store: Store) {
  return createPluginContext({
    store,
    registry: createRegistryClient(),
    sink: new RecordingSink(),
    signal: new AbortController().signal,
    platform: hostPlatform(),
  });
}

function imageOf(image: BusyboxImage) {
  const layer: Descriptor = {
    mediaType: OCI_LAYER_GZIP,
    digest: image.layerDigest,
    size: image.layerSize,
  };
  return { manifest: { layers: [layer] }, config: { rootfs: { diff_ids: [image.diffId] } } };
}

/** Returns a stream of `bytes` in chunks of `size`, as a download arrives. */
function chunked(bytes: Uint8Array, size: number): ReadableStream<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for (let offset = 0; offset < bytes.byteLength; offset += size) {
    chunks.push(bytes.slice(offset, offset + size));
  }
  return ReadableStream.from(chunks);
}

Deno.test("loadImageLayers() stores and unpacks a fetched blob in one pass", async () => {
  await withStoreAndImage(async (store, image, layerBytes) => {
    let fetches = 0;
    const origin = {
      describe: () => "pulling",
      fetch: () => {
        fetches++;
        return Promise.resolve(chunked(layerBytes, 16 * 1024));
      },
    };

    const id = await loadImageLayers("busybox", imageOf(image), origin, contextFor(store));

    assertEquals(fetches, 1);
    assert(await store.blobs.has(image.layerDigest), "the blob is in the store");
    const info = await store.snapshots.get(id!);
    assertEquals(info?.layers?.gzip?.digest, image.layerDigest);
    const busybox = await Deno.lstat(join(store.snapshots.diffDir(id!), "bin/busybox"));
    assert(busybox.isFile, "the layer was unpacked");
  });
});

Deno.test("loadImageLayers() keeps nothing from a blob with a wrong digest", async () => {
  await withStoreAndImage(async (store, image, layerBytes) => {
    const corrupted = layerBytes.slice();
    corrupted[corrupted.length - 100] ^= 0xff;
    const origin = {
      describe: () => "pulling",
      fetch: () => Promise.resolve(chunked(corrupted, 16 * 1024)),
    };

    await assertRejects(
      () => loadImageLayers("busybox", imageOf(image), origin, contextFor(store)),
      Error,
    );

    assertEquals(await store.blobs.has(image.layerDigest), false);
    assertEquals(await Array.fromAsync(store.snapshots.list()), []);
    assertEquals(await Array.fromAsync(Deno.readDir(store.temporaryDir)), []);
  });
});

Deno.test("loadImageLayers() rejects a short blob with DigestMismatchError", async () => {
  await withStoreAndImage(async (store, image, layerBytes) => {
    const origin = {
      describe: () => "pulling",
      fetch: () => Promise.resolve(chunked(layerBytes.subarray(0, 1000), 256)),
    };

    await assertRejects(
      () => loadImageLayers("busybox", imageOf(image), origin, contextFor(store)),
      DigestMismatchError,
    );
    assertEquals(await Array.fromAsync(store.snapshots.list()), []);
  });
});

async function readAll(stream: ReadableStream<Uint8Array>): Promise<number[]> {
  const bytes: number[] = [];
  for await (const chunk of stream) bytes.push(...chunk);
  return bytes;
}

Deno.test("teeWithBackpressure() gives both branches every byte", async () => {
  const source = chunked(new Uint8Array([1, 2, 3, 4, 5, 6, 7]), 2);

  const tee = teeWithBackpressure(source);
  const [first, second] = await Promise.all(tee.branches.map(readAll));

  assertEquals(first, [1, 2, 3, 4, 5, 6, 7]);
  assertEquals(second, [1, 2, 3, 4, 5, 6, 7]);
});

Deno.test("teeWithBackpressure() reads no further than the slower branch", async () => {
  let pulled = 0;
  const source = new ReadableStream<Uint8Array>({
    pull(controller) {
      pulled++;
      controller.enqueue(new Uint8Array(1024));
    },
  }, { highWaterMark: 0 });

  const tee = teeWithBackpressure(source);
  const fast = tee.branches[0].getReader();
  let read = 0;
  const reading = (async () => {
    while (!(await fast.read()).done) read++;
  })().catch(() => {});
  await new Promise((resolve) => setTimeout(resolve, 20));

  assert(read < 10, `one branch read ${read} chunks while the other read none`);
  assert(pulled < 10, `the source was read ${pulled} times while one branch read nothing`);
  tee.cancel(new Error("done"));
  await reading;
});

Deno.test("teeWithBackpressure() fails the other branch and the source on cancel", async () => {
  let cancelled: unknown;
  const source = new ReadableStream<Uint8Array>({
    pull(controller) {
      controller.enqueue(new Uint8Array(8));
    },
    cancel(reason) {
      cancelled = reason;
    },
  });

  const tee = teeWithBackpressure(source);
  await tee.branches[0].cancel(new Error("stopped"));

  await assertRejects(() => readAll(tee.branches[1]), Error);
  assert(cancelled instanceof Error, "the source was cancelled");
});

Deno.test("loadImageLayers() stops the download when the build is cancelled", async () => {
  await withStoreAndImage(async (store, image, layerBytes) => {
    const controller = new AbortController();
    let cancelled = false;
    const origin = {
      describe: () => "pulling",
      fetch: () =>
        Promise.resolve(
          new ReadableStream<Uint8Array>({
            start(stream) {
              stream.enqueue(layerBytes.slice(0, 4096));
              controller.abort(new Error("stopped by the test"));
            },
            cancel() {
              cancelled = true;
            },
          }),
        ),
    };
    const context = createPluginContext({
      store,
      registry: createRegistryClient(),
      sink: new RecordingSink(),
      signal: controller.signal,
      platform: hostPlatform(),
    });

    await assertRejects(
      () => loadImageLayers("busybox", imageOf(image), origin, context),
      CancelledError,
    );
    assert(cancelled, "the download was cancelled");
    assertEquals(await Array.fromAsync(store.snapshots.list()), []);
  });
});
