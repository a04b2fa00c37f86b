import { randomBytes } from "../../../core/deps.ts";
import { type ContainerdClient, createContainerdClient } from "../../../core/containerd/client.ts";
import { digestOf } from "../../../core/digest.ts";
import { CancelledError, InvalidInputError, RemoteError } from "../../../core/errors.ts";
import imageExporterPlugin, { imageExporter } from "../../../plugins/exporters/image.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  assertStringIncludes,
} from "../../_assert.ts";
import { hasContainerd, startContainerd, type TestContainerd } from "../../_fixtures/containerd.ts";
import { runCli } from "../../_fixtures/cli.ts";
import { importBusybox } from "../../core/containerd/_busybox_import.ts";
import { createImageContext, type ImageContext } from "../../core/containerd/_image_context.ts";

const HELLO_SCRIPT = "#!/bin/sh\necho hello from tsbuild\n";
const ignore = !hasContainerd();

/** Starts containerd in namespace "buildkit" with a client and a test image. */
async function withExport(
  fn: (
    setup: { containerd: TestContainerd; client: ContainerdClient; image: ImageContext },
  ) => Promise<void>,
  files: Record<string, string | Uint8Array> = { "hello.sh": HELLO_SCRIPT },
): Promise<void> {
  await using containerd = await startContainerd({ namespace: "buildkit" });
  using client = createContainerdClient({ address: containerd.address, namespace: "buildkit" });
  await using image = await createImageContext({
    containerd: client,
    files,
    cmd: ["sh", "/hello.sh"],
  });
  await fn({ containerd, client, image });
  assertEquals(await client.leases.list(), [], "the export must release its lease");
}

function exportImage(image: ImageContext, attrs: Record<string, string>, names: string[] = []) {
  return imageExporter.onExport(
    { attrs, names, result: { imageConfig: {}, platform: image.context.platform, attributes: {} } },
    image.context,
  );
}

Deno.test("image exporter plugin offers the image exporter", () => {
  assertEquals(imageExporterPlugin.apiVersion, 1);
  assertEquals(imageExporterPlugin.exporters?.map((exporter) => exporter.name), ["image"]);
});

Deno.test({
  name: "imageExporter stores an image ctr lists and runs",
  ignore,
  async fn() {
    await withExport(async ({ containerd, image }) => {
      const result = await exportImage(image, { name: "app:dev" });

      assertEquals(result.digest, image.image.manifest.digest);
      assertEquals(result.metadata?.["image.name"], "docker.io/library/app:dev");
      const listed = (await containerd.ctr(["images", "ls"])).split("\n")
        .filter((line) => line.startsWith("docker.io/library/app:dev "));
      assertEquals(listed.length, 1);
      assertStringIncludes(listed[0], image.image.manifest.digest);
      const output = await containerd.ctr(["run", "--rm", "docker.io/library/app:dev", "run-1"]);
      assertEquals(output, "hello from tsbuild\n");
    });
  },
});

Deno.test({
  name: "imageExporter labels content for garbage collection",
  ignore,
  async fn() {
    await withExport(async ({ client, image }) => {
      await exportImage(image, { name: "app:dev" });

      const { manifest, config, layers } = image.image;
      const manifestInfo = await client.content.info(manifest.digest);
      assertEquals(manifestInfo?.labels, {
        "containerd.io/gc.ref.content.config": config.digest,
        "containerd.io/gc.ref.content.l.0": layers[0].digest,
        "containerd.io/gc.ref.content.l.1": layers[1].digest,
      });
      for (const [index, layer] of layers.entries()) {
        const info = await client.content.info(layer.digest);
        assertEquals(info?.labels, { "containerd.io/uncompressed": image.diffIds[index] });
      }

      // With the lease gone, only the labels keep the config and layers: a garbage collection
      // after deleting an unrelated record must leave them in place.
      await client.images.create({ name: "docker.io/library/other:1", target: manifest });
      await client.images.delete("docker.io/library/other:1", { sync: true });
      for (const descriptor of [manifest, config, ...layers]) {
        assert(await client.content.info(descriptor.digest), `${descriptor.digest} was collected`);
      }
    });
  },
});

Deno.test({
  name: "imageExporter unpacks into the snapshotter",
  ignore,
  async fn() {
    await withExport(async ({ containerd, client, image }) => {
      await exportImage(image, { name: "app:unpacked", unpack: "true" });

      const chainId = digestOf(`${image.diffIds[0]} ${image.diffIds[1]}`);
      const snapshot = await client.snapshots("overlayfs").stat(chainId);
      assertEquals(snapshot?.kind, "committed");
      assertEquals(snapshot?.parent, image.diffIds[0]);
      const record = await client.images.get("docker.io/library/app:unpacked");
      assertEquals(record?.labels, { "containerd.io/gc.ref.snapshot.overlayfs": chainId });
      const configInfo = await client.content.info(image.image.config.digest);
      assertEquals(configInfo?.labels["containerd.io/gc.ref.snapshot.overlayfs"], chainId);
      assert(image.steps.includes("unpacking to docker.io/library/app:unpacked"));

      const snapshotsBefore = await containerd.ctr(["snapshots", "ls"]);
      const output = await containerd.ctr([
        "run",
        "--rm",
        "docker.io/library/app:unpacked",
        "run-2",
      ]);
      assertEquals(output, "hello from tsbuild\n");
      // ctr run unpacks an image that is not unpacked yet; the chain must have been there.
      assertStringIncludes(snapshotsBefore, chainId);
    });
  },
});

Deno.test({
  name: "imageExporter writes no blob twice",
  ignore,
  async fn() {
    await withExport(async ({ client, image }) => {
      const counted = countWrites(client);
      image.context = { ...image.context, containerd: counted.client };
      await exportImage(image, { name: "app:dev", unpack: "true" });
      assertEquals(counted.written, 4, "two layers, the config and the manifest");
      const blobs = [image.image.manifest, image.image.config, ...image.image.layers];
      const before = await Promise.all(blobs.map((blob) => client.content.info(blob.digest)));
      const recordBefore = await client.images.get("docker.io/library/app:dev");

      const again = await exportImage(image, { name: "app:dev", unpack: "true" });

      assertEquals(again.digest, image.image.manifest.digest);
      assertEquals(counted.written, 4, "the second export must write nothing");
      assertEquals(counted.calls, 4, "the second export must not even start a write");
      const after = await Promise.all(blobs.map((blob) => client.content.info(blob.digest)));
      assertEquals(after, before);
      assertEquals(await client.images.get("docker.io/library/app:dev"), recordBefore);
    });
  },
});

Deno.test({
  name: "imageExporter names several images",
  ignore,
  async fn() {
    await withExport(async ({ client, image }) => {
      await exportImage(image, { name: "app:a,127.0.0.1:5000/team/app:b" }, ["app:c"]);

      const names = (await client.images.list()).map((record) => record.name).sort();
      assertEquals(names, [
        "127.0.0.1:5000/team/app:b",
        "docker.io/library/app:a",
        "docker.io/library/app:c",
      ]);
    });
  },
});

Deno.test({
  name: "imageExporter moves an existing name to the new image",
  ignore,
  async fn() {
    await withExport(async ({ client, image }) => {
      await exportImage(image, { name: "app:dev", unpack: "true" });
      await using other = await createImageContext({
        containerd: client,
        files: { "other.txt": "other\n" },
      });

      await exportImage(other, { name: "app:dev" });

      const record = await client.images.get("docker.io/library/app:dev");
      assertEquals(record?.target.digest, other.image.manifest.digest);
      assertEquals(record?.labels, {}, "the first image's snapshot label must go");
    });
  },
});

Deno.test({
  name: "imageExporter keeps images in its own namespace",
  ignore,
  async fn() {
    await withExport(async ({ containerd, image }) => {
      await exportImage(image, { name: "app:dev" });

      using elsewhere = createContainerdClient({ address: containerd.address, namespace: "other" });
      assertEquals(await elsewhere.images.get("docker.io/library/app:dev"), undefined);
      assertEquals(await elsewhere.content.info(image.image.manifest.digest), undefined);
    });
  },
});

Deno.test({
  name: "imageExporter rejects a bad name before writing",
  ignore,
  async fn() {
    await withExport(async ({ client, image }) => {
      const error = await assertRejects(
        () => exportImage(image, { name: "App:Dev" }),
        InvalidInputError,
      );

      assertEquals(
        error.message,
        'Invalid image reference "App:Dev": the repository name must be lowercase',
      );
      assertEquals(await client.images.list(), []);
      assertEquals(await client.content.info(image.image.manifest.digest), undefined);
    });
  },
});

Deno.test({
  name: "imageExporter rejects a missing name and unknown attributes",
  ignore,
  async fn() {
    await withExport(async ({ image }) => {
      const missing = await assertRejects(() => exportImage(image, {}), InvalidInputError);
      assertEquals(
        missing.message,
        'Invalid output "type=image": missing "name" (set name=NAME or -t NAME)',
      );
      const unknown = await assertRejects(
        () => exportImage(image, { name: "app", push: "true" }),
        InvalidInputError,
      );
      assertStringIncludes(unknown.message, 'unknown attribute "push"');
    });
  },
});

Deno.test("imageExporter names a missing socket", async () => {
  const address = `/tmp/tsbuild-no-such-dir-${randomBytes(4).toString("hex")}/containerd.sock`;
  using client = createContainerdClient({ address, namespace: "buildkit" });
  await using image = await createImageContext({ containerd: client });

  const error = await assertRejects(() => exportImage(image, { name: "app:dev" }), RemoteError);

  assertEquals(
    error.message,
    `Failed to create a containerd lease: containerd socket "${address}" does not exist (start containerd, or set --containerd-address or CONTAINERD_ADDRESS)`,
  );
  assertEquals(error.data.reason, "socket-missing");
});

Deno.test({
  name: "imageExporter survives containerd stopping mid-export",
  ignore,
  async fn() {
    await using containerd = await startContainerd({ namespace: "buildkit" });
    using client = createContainerdClient({ address: containerd.address, namespace: "buildkit" });
    let killed: Promise<void> | undefined;
    await using image = await createImageContext({
      containerd: client,
      files: { "hello.sh": HELLO_SCRIPT, "payload.bin": randomBytes(48 * 1024 * 1024) },
      cmd: ["sh", "/hello.sh"],
      gzipLevel: 1,
      onStatus: (line) => {
        // Stop containerd once the first megabytes of the large layer are acknowledged.
        const written = Number(line.match(/writing layers (\d+)\//)?.[1] ?? 0);
        if (written > image.image.layers[0].size + 4 * 1024 * 1024) killed ??= containerd.kill();
      },
    });

    const error = await assertRejects(() => exportImage(image, { name: "app:dev" }), RemoteError);
    await killed;

    assert(killed !== undefined, "containerd was not stopped during the export");
    assertMatch(error.message, /^Failed to .*containerd/);
    assertStringIncludes(error.message, `"${containerd.address}"`);
    // The write in flight loses its connection; a call that starts later finds no listener.
    assert(
      ["connection-lost", "unreachable"].includes(String(error.data.reason)),
      `unexpected reason "${error.data.reason}"`,
    );
    await containerd.restart();
    assertEquals(await client.images.list(), [], "no record may point at partial content");

    const result = await exportImage(image, { name: "app:dev" });
    assertEquals(result.digest, image.image.manifest.digest);
    const check = await containerd.ctr(["images", "check"]);
    assertMatch(check, /docker\.io\/library\/app:dev\s+.*complete \(3\/3\)/);
    const output = await containerd.ctr(["run", "--rm", "docker.io/library/app:dev", "run-3"]);
    assertEquals(output, "hello from tsbuild\n");
  },
});

Deno.test({
  name: "imageExporter stops on cancellation and releases its lease",
  ignore,
  async fn() {
    await using containerd = await startContainerd({ namespace: "buildkit" });
    const controller = new AbortController();
    using client = createContainerdClient({
      address: containerd.address,
      namespace: "buildkit",
      signal: controller.signal,
    });
    await using image = await createImageContext({
      containerd: client,
      files: { "payload.bin": randomBytes(16 * 1024 * 1024) },
      gzipLevel: 1,
      onStatus: (line) => {
        const written = Number(line.match(/writing layers (\d+)\//)?.[1] ?? 0);
        if (written > image.image.layers[0].size) controller.abort();
      },
    });

    const error = await assertRejects(
      () => exportImage(image, { name: "app:dev" }),
      CancelledError,
    );

    assertStringIncludes(error.message, "the build was cancelled");
    const unsignalled = client.withSignal(undefined);
    assertEquals(await unsignalled.leases.list(), [], "the lease must go also after a cancel");
    assertEquals(await unsignalled.images.list(), []);
  },
});

Deno.test({
  name: "imageExporter reports a name containerd rejects",
  ignore,
  async fn() {
    await withExport(async ({ client, image }) => {
      // Names pass tsbuild's own check first; the empty name is one only containerd rejects.
      const error = await assertRejects(
        () => client.images.create({ name: "", target: image.image.manifest }),
        InvalidInputError,
      );
      assertEquals(
        error.message,
        'Failed to create image "": containerd rejected it: Image.Name required',
      );
      assertEquals(error.data.code, "InvalidArgument");
    });
  },
});

/** Wraps `client` so that content writes, including those under a lease, are counted. */
function countWrites(client: ContainerdClient) {
  const counts = { calls: 0, written: 0, client };
  const wrap = (inner: ContainerdClient): ContainerdClient => ({
    ...inner,
    withLease: (lease) => wrap(inner.withLease(lease)),
    content: {
      ...inner.content,
      write: async (descriptor, open, options) => {
        counts.calls++;
        const result = await inner.content.write(descriptor, open, options);
        if (result.written) counts.written++;
        return result;
      },
    },
  });
  counts.client = wrap(client);
  return counts;
}

Deno.test({
  name: "build --exporter image stores a runnable image",
  ignore,
  async fn() {
    await using containerd = await startContainerd({ namespace: "buildkit" });
    await importBusybox(containerd);
    const dir = await Deno.makeTempDir({ prefix: "tsbuild-image-exporter-test-" });
    try {
      await Deno.mkdir(`${dir}/context`);
      await Deno.writeTextFile(
        `${dir}/context/Dockerfile`,
        'FROM busybox:1\nRUN echo "built by tsbuild" > /message\nCMD ["cat", "/message"]\n',
      );

      const built = await runCli([
        "build",
        "--root",
        `${dir}/root`,
        "--progress",
        "plain",
        "--containerd-address",
        containerd.address,
        "--exporter",
        "image",
        "--exporter-opt",
        "name=cli/app:1",
        "--exporter-opt",
        "unpack=true",
        `${dir}/context`,
      ]);

      assertEquals(built.code, 0, built.stderr);
      const digest = built.stderr.match(/exported image: (sha256:[a-f0-9]{64})/)?.[1];
      assert(digest, built.stderr);
      const listed = (await containerd.ctr(["images", "ls"])).split("\n")
        .find((line) => line.startsWith("docker.io/cli/app:1 "));
      assertStringIncludes(listed ?? "", digest);
      const output = await containerd.ctr(["run", "--rm", "docker.io/cli/app:1", "run-cli"]);
      assertEquals(output, "built by tsbuild\n");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
