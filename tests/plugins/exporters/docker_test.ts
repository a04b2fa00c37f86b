import { createHash } from "../../../core/deps.ts";
import { digestHex } from "../../../core/digest.ts";
import { InvalidInputError } from "../../../core/errors.ts";
import { dockerExporter } from "../../../plugins/exporters/docker.ts";
import { assert, assertEquals, assertRejects, assertStringIncludes } from "../../_assert.ts";
import { listDir, run } from "../../core/oci/_test_image.ts";
import { hasContainerd, startContainerd } from "../../_fixtures/containerd.ts";
import { createTestContext, type TestContext, type TestContextOptions } from "./_context.ts";

const result = {
  imageConfig: {},
  platform: { os: "linux", architecture: "amd64" },
  attributes: {},
};

function exportDocker(test: TestContext, attrs: Record<string, string>, names: string[] = []) {
  return dockerExporter.onExport({ attrs, names, result }, test.context);
}

async function withContext(fn: (test: TestContext) => Promise<void>, options?: TestContextOptions) {
  await using test = await createTestContext(options);
  await fn(test);
}

async function sha256File(path: string): Promise<string> {
  return createHash("sha256").update(await Deno.readFile(path)).digest("hex");
}

Deno.test("dockerExporter writes a tarball skopeo reads", async () => {
  await withContext(async (test) => {
    const dest = `${test.dir}/out/image.tar`;
    const exported = await exportDocker(test, { dest }, ["busybox"]);

    assertEquals(exported.digest, test.dockerImage.manifest.digest);
    assertEquals(exported.configDigest, test.dockerImage.config.digest);
    assertEquals(test.buildImageCalls.map((call) => call.dockerMediaTypes), [true]);
    const diffIds =
      JSON.parse(new TextDecoder().decode(test.dockerImage.configBytes)).rootfs.diff_ids;
    const inspected = JSON.parse(
      await run("skopeo", ["inspect", `docker-archive:${dest}:busybox:latest`]),
    );
    assertEquals(inspected.Name, "docker.io/library/busybox");
    assertEquals(inspected.Layers, diffIds);

    await run("skopeo", ["copy", `docker-archive:${dest}`, `oci:${test.dir}/copy:x`]);
    assertEquals(await listDir(`${test.dir}/out`), ["image.tar"]);
  });
});

Deno.test("dockerExporter writes a manifest.json whose files are in the tarball", async () => {
  await withContext(async (test) => {
    const dest = `${test.dir}/image.tar`;
    await exportDocker(test, { dest, name: "docker.io/library/app:2,ghcr.io/org/tool" }, [
      "busybox:1.36",
    ]);
    const extracted = `${test.dir}/extracted`;
    await Deno.mkdir(extracted);
    await run("tar", ["-xf", dest, "-C", extracted]);

    const [manifest, ...others] = JSON.parse(await Deno.readTextFile(`${extracted}/manifest.json`));
    assertEquals(others.length, 0);
    assertEquals(manifest.RepoTags, ["busybox:1.36", "app:2", "ghcr.io/org/tool:latest"]);
    for (const path of [manifest.Config, ...manifest.Layers]) {
      assertEquals(
        await sha256File(`${extracted}/${path}`),
        path.slice("blobs/sha256/".length),
        path,
      );
    }
    const config = JSON.parse(await Deno.readTextFile(`${extracted}/${manifest.Config}`));
    assertEquals(config.rootfs.diff_ids.length, manifest.Layers.length);
    assertEquals(
      manifest.Layers,
      test.dockerImage.layers.map((layer) => `blobs/sha256/${digestHex(layer.digest)}`),
    );

    const top = digestHex(test.dockerImage.layers[1].digest);
    assertEquals(JSON.parse(await Deno.readTextFile(`${extracted}/repositories`)), {
      busybox: { "1.36": top },
      app: { "2": top },
      "ghcr.io/org/tool": { latest: top },
    });
    assertEquals(await listDir(extracted), [
      "blobs",
      "index.json",
      "manifest.json",
      "oci-layout",
      "repositories",
    ]);
  });
});

Deno.test({
  name: "dockerExporter writes a tarball containerd imports and unpacks",
  ignore: !hasContainerd(),
  fn: async () => {
    await withContext(async (test) => {
      const dest = `${test.dir}/image.tar`;
      await exportDocker(test, { dest }, ["busybox", "127.0.0.1:5000/app:1"]);
      // The manifest.json path is what `docker load` of Docker before 25 reads; containerd takes
      // it when the archive has no OCI layout files.
      const legacy = `${test.dir}/legacy.tar`;
      await Deno.copyFile(dest, legacy);
      await run("tar", ["--delete", "-f", legacy, "index.json", "oci-layout"]);

      await using containerd = await startContainerd();
      await containerd.ctr(["images", "import", dest]);
      const images = await containerd.ctr(["images", "ls", "-q"]);
      assertEquals(images.trim().split("\n").sort(), [
        "127.0.0.1:5000/app:1",
        "docker.io/library/busybox:latest",
      ]);
      await containerd.ctr([
        "images",
        "rm",
        "127.0.0.1:5000/app:1",
        "docker.io/library/busybox:latest",
      ]);

      const output = await containerd.ctr(["images", "import", legacy]);
      assertStringIncludes(
        output,
        `docker.io/library/busybox:latest (${test.dockerImage.manifest.digest})`,
      );
      // Each line reads "REF TYPE DIGEST complete (3/3) SIZE true": the config and both layers
      // are present and the layers were unpacked into snapshots.
      const check = (await containerd.ctr(["images", "check"])).trim().split("\n").slice(1);
      assertEquals(check.length, 2);
      for (const line of check) {
        assertStringIncludes(line, "complete (3/3)");
        assert(line.trimEnd().endsWith("true"), `unpacked: ${line}`);
      }
    });
  },
});

Deno.test("dockerExporter leaves no file behind when a layer read fails", async () => {
  await withContext(async (test) => {
    const dest = `${test.dir}/image.tar`;
    await assertRejects(
      () => exportDocker(test, { dest }, ["busybox"]),
      Error,
      "read failed on purpose",
    );
    assertEquals(await listDir(test.dir), ["rootfs", "store"]);
  }, { failLayer: 1 });
});

Deno.test("dockerExporter keeps an existing tarball when a layer read fails", async () => {
  await withContext(async (test) => {
    const dest = `${test.dir}/image.tar`;
    await Deno.writeTextFile(dest, "old tarball");
    await assertRejects(() => exportDocker(test, { dest }), Error, "read failed on purpose");
    assertEquals(await Deno.readTextFile(dest), "old tarball");
    assertEquals(await listDir(test.dir), ["image.tar", "rootfs", "store"]);
  }, { failLayer: 0 });
});

Deno.test("dockerExporter rejects invalid attributes", async () => {
  await withContext(async (test) => {
    const missing = await assertRejects(() => exportDocker(test, {}), InvalidInputError);
    assertEquals(missing.message, `Invalid output "type=docker": missing "dest"`);
    const unknown = await assertRejects(
      () => exportDocker(test, { dest: "x.tar", tar: "false" }),
      InvalidInputError,
    );
    assertEquals(
      unknown.message,
      `Invalid output "type=docker": unknown attribute "tar" (accepted: "dest", "name", "compression")`,
    );
    const directory = await assertRejects(
      () => exportDocker(test, { dest: test.dir }),
      InvalidInputError,
    );
    assertEquals(
      directory.message,
      `Failed to export to "${test.dir}": the path is a directory, but type=docker writes a file`,
    );
    assertEquals(test.buildImageCalls.length, 0);
  });
});
