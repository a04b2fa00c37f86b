import { type ContainerdClient, createContainerdClient } from "../../../core/containerd/client.ts";
import { join } from "../../../core/deps.ts";
import { InvalidInputError, NotFoundError } from "../../../core/errors.ts";
import { hostPlatform } from "../../../core/oci/platform.ts";
import { createPluginContext } from "../../../core/plugin/context.ts";
import type { PluginContext } from "../../../core/plugin/types.ts";
import { createRegistryClient } from "../../../core/registry/client.ts";
import { openStore } from "../../../core/store/store.ts";
import containerdImagePlugin, {
  containerdImageSource,
} from "../../../plugins/sources/containerd_image.ts";
import { assert, assertEquals, assertRejects, assertStringIncludes } from "../../_assert.ts";
import { runCli } from "../../_fixtures/cli.ts";
import { hasContainerd, startContainerd, type TestContainerd } from "../../_fixtures/containerd.ts";
import { importBusybox } from "../../core/containerd/_busybox_import.ts";

const ignore = !hasContainerd();

/** Runs `fn` with a containerd that has busybox as "docker.io/library/busybox:1", and a scratch dir. */
async function withImported(
  fn: (setup: { containerd: TestContainerd; dir: string }) => Promise<void>,
  baseName?: string,
): Promise<void> {
  await using containerd = await startContainerd({ namespace: "buildkit" });
  await importBusybox(containerd, baseName);
  const dir = await Deno.makeTempDir({ prefix: "tsbuild-containerd-source-test-" });
  try {
    await fn({ containerd, dir });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Creates a plugin context over a fresh store in `dir` with `containerd` as its client. */
async function pluginContext(
  dir: string,
  containerd: ContainerdClient | undefined,
): Promise<{ context: PluginContext } & AsyncDisposable> {
  const store = await openStore(join(dir, "root"));
  const context = createPluginContext({
    store,
    registry: createRegistryClient(),
    sink: { emit() {} },
    signal: new AbortController().signal,
    platform: hostPlatform(),
    containerd,
  });
  return { context, [Symbol.asyncDispose]: () => store.close() };
}

function sourceArgs(path: string) {
  return {
    identifier: `containerd-image://${path}`,
    scheme: "containerd-image",
    path,
    attrs: {},
    platform: hostPlatform(),
  };
}

Deno.test("containerd-image plugin serves its scheme", () => {
  assertEquals(containerdImagePlugin.apiVersion, 1);
  assertEquals(containerdImagePlugin.sources?.[0].schemes, ["containerd-image"]);
});

Deno.test({
  name: "containerdImageSource loads an image only containerd has",
  ignore,
  async fn() {
    await withImported(async ({ containerd, dir }) => {
      using client = createContainerdClient({ address: containerd.address, namespace: "buildkit" });
      await using setup = await pluginContext(dir, client);
      const busybox = await client.resolveImage("busybox:1", hostPlatform());

      const resolved = await containerdImageSource.onResolve(
        sourceArgs("busybox:1"),
        setup.context,
      );
      const loaded = await containerdImageSource.onLoad(
        { ...sourceArgs("busybox:1"), pin: resolved.pin },
        setup.context,
      );

      assertEquals(resolved.pin, busybox.digest);
      // One layer: the snapshot is named by its chain ID, which is its diff ID.
      assertEquals(loaded.snapshot, busybox.config.rootfs.diff_ids[0].slice("sha256:".length));
      const diff = join(dir, "root", "snapshots", loaded.snapshot!, "diff");
      assert((await Deno.stat(join(diff, "bin/busybox"))).isFile);
      assertEquals(
        await Deno.readTextFile(join(diff, "etc/passwd")),
        "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
      );
    });
  },
});

Deno.test({
  name: "containerdImageSource reports an image missing from the namespace",
  ignore,
  async fn() {
    await withImported(async ({ containerd, dir }) => {
      using client = createContainerdClient({ address: containerd.address, namespace: "other" });
      await using setup = await pluginContext(dir, client);

      const error = await assertRejects(
        () => containerdImageSource.onResolve(sourceArgs("busybox:1"), setup.context),
        NotFoundError,
      );

      assertEquals(
        error.message,
        'Failed to resolve "busybox:1" in containerd namespace "other": no image named "docker.io/library/busybox:1"',
      );
    });
  },
});

Deno.test("containerdImageSource needs a containerd client", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tsbuild-containerd-source-test-" });
  try {
    await using setup = await pluginContext(dir, undefined);

    const error = await assertRejects(
      () => containerdImageSource.onResolve(sourceArgs("busybox:1"), setup.context),
      InvalidInputError,
    );

    assertEquals(
      error.message,
      'Failed to resolve "containerd-image://busybox:1": this build has no containerd client',
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "build FROM an image only containerd has",
  ignore,
  async fn() {
    await withImported(async ({ containerd, dir }) => {
      await writeContext(dir, "FROM busybox:1\nRUN echo built > /built.txt\n");

      const built = await runCli([
        "build",
        "--root",
        join(dir, "root"),
        "--progress",
        "plain",
        "--containerd-address",
        containerd.address,
        "--output",
        `type=local,dest=${join(dir, "out")}`,
        join(dir, "context"),
      ]);

      assertEquals(built.code, 0, built.stderr);
      assertStringIncludes(built.stderr, "FROM docker.io/library/busybox:1@sha256:");
      assertStringIncludes(built.stderr, "from containerd");
      assertEquals(await Deno.readTextFile(join(dir, "out", "built.txt")), "built\n");
    });
  },
});

Deno.test({
  name: "build FROM with --pull or without containerd uses the registry",
  ignore,
  async fn() {
    // Nothing listens on this loopback port, so the registry source fails at once, while
    // containerd has an image of that name.
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = listener.addr.port;
    listener.close();
    const base = `127.0.0.1:${port}/busybox`;
    await withImported(async ({ containerd, dir }) => {
      await writeContext(dir, `FROM ${base}:1\nRUN true\n`);
      const build = (...flags: string[]) =>
        runCli([
          "build",
          "--root",
          join(dir, "root"),
          "--progress",
          "plain",
          ...flags,
          join(dir, "context"),
        ], { env: { CONTAINERD_ADDRESS: "" } });

      const fromContainerd = await build("--containerd-address", containerd.address);
      const pulled = await build("--containerd-address", containerd.address, "--pull");
      const unconfigured = await build();

      assertEquals(fromContainerd.code, 0, fromContainerd.stderr);
      assert(pulled.code !== 0, "--pull must not use containerd's copy");
      assertStringIncludes(pulled.stderr, `127.0.0.1:${port}`);
      assert(unconfigured.code !== 0, "without a containerd address the registry is used");
      assertStringIncludes(unconfigured.stderr, `127.0.0.1:${port}`);
    }, base);
  },
});

async function writeContext(dir: string, dockerfile: string): Promise<void> {
  await Deno.mkdir(join(dir, "context"), { recursive: true });
  await Deno.writeTextFile(join(dir, "context", "Dockerfile"), dockerfile);
}
