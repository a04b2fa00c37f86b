import { createHash } from "../../../core/deps.ts";
import { digestHex } from "../../../core/digest.ts";
import { InvalidInputError } from "../../../core/errors.ts";
import { ANNOTATION_IMAGE_NAME, ANNOTATION_REF_NAME } from "../../../core/oci/image_layout.ts";
import { ociExporter } from "../../../plugins/exporters/oci.ts";
import { assertEquals, assertRejects } from "../../_assert.ts";
import { listDir, run } from "../../core/oci/_test_image.ts";
import { createTestContext, type TestContext, type TestContextOptions } from "./_context.ts";

const result = {
  imageConfig: {},
  platform: { os: "linux", architecture: "amd64" },
  attributes: {},
};

function exportOci(test: TestContext, attrs: Record<string, string>, names: string[] = []) {
  return ociExporter.onExport({ attrs, names, result }, test.context);
}

async function withContext(fn: (test: TestContext) => Promise<void>, options?: TestContextOptions) {
  await using test = await createTestContext(options);
  await fn(test);
}

Deno.test("ociExporter writes an archive skopeo inspects and copies", async () => {
  await withContext(async (test) => {
    const dest = `${test.dir}/out/image.tar`;
    const exported = await exportOci(test, { dest }, ["127.0.0.1:5000/app:1"]);

    assertEquals(exported.digest, test.ociImage.manifest.digest);
    assertEquals(exported.configDigest, test.ociImage.config.digest);
    const inspected = JSON.parse(await run("skopeo", ["inspect", `oci-archive:${dest}`]));
    assertEquals(inspected.Digest, test.ociImage.manifest.digest);
    assertEquals(inspected.Layers, test.ociImage.layers.map((layer) => layer.digest));

    const copy = `${test.dir}/copy`;
    await run("skopeo", ["copy", `oci-archive:${dest}`, `dir:${copy}`]);
    for (const layer of test.ociImage.layers) {
      const bytes = await Deno.readFile(`${copy}/${digestHex(layer.digest)}`);
      assertEquals(createHash("sha256").update(bytes).digest("hex"), digestHex(layer.digest));
    }
    assertEquals(await listDir(`${test.dir}/out`), ["image.tar"]);
  });
});

Deno.test("ociExporter annotates index.json with each name", async () => {
  await withContext(async (test) => {
    const dest = `${test.dir}/image.tar`;
    await exportOci(test, { dest, name: "example.com/a:1,b" }, ["busybox"]);

    const index = JSON.parse(await run("tar", ["-xOf", dest, "index.json"]));
    const annotations = index.manifests.map((entry: { annotations: Record<string, string> }) =>
      entry.annotations
    );
    assertEquals(annotations, [
      {
        [ANNOTATION_IMAGE_NAME]: "docker.io/library/busybox:latest",
        [ANNOTATION_REF_NAME]: "latest",
      },
      { [ANNOTATION_IMAGE_NAME]: "example.com/a:1", [ANNOTATION_REF_NAME]: "1" },
      { [ANNOTATION_IMAGE_NAME]: "docker.io/library/b:latest", [ANNOTATION_REF_NAME]: "latest" },
    ]);
    const byTag = JSON.parse(await run("skopeo", ["inspect", `oci-archive:${dest}:1`]));
    assertEquals(byTag.Digest, test.ociImage.manifest.digest);
  });
});

Deno.test("ociExporter writes the layout entries GNU tar lists", async () => {
  await withContext(async (test) => {
    const dest = `${test.dir}/image.tar`;
    await exportOci(test, { dest });

    const image = test.ociImage;
    const listing = (await run("tar", ["-tf", dest])).trim().split("\n");
    assertEquals(listing, [
      "oci-layout",
      "blobs/",
      "blobs/sha256/",
      ...image.layers.map((layer) => `blobs/sha256/${digestHex(layer.digest)}`),
      `blobs/sha256/${digestHex(image.config.digest)}`,
      `blobs/sha256/${digestHex(image.manifest.digest)}`,
      "index.json",
    ]);
    assertEquals(JSON.parse(await run("tar", ["-xOf", dest, "oci-layout"])), {
      imageLayoutVersion: "1.0.0",
    });
  });
});

Deno.test("ociExporter passes compression to buildImage and reports progress", async () => {
  await withContext(async (test) => {
    await exportOci(test, { dest: `${test.dir}/image.tar`, compression: "uncompressed" });
    assertEquals(test.buildImageCalls, [{ compression: "none" }]);
    const last = test.statuses.at(-1)!;
    const [written, total] = last.slice(last.lastIndexOf(" ") + 1).split("/");
    assertEquals(written, total);
  });
});

Deno.test("ociExporter with tar=false writes a layout directory", async () => {
  await withContext(async (test) => {
    const dest = `${test.dir}/layout`;
    await exportOci(test, { dest, tar: "false" }, ["app:3"]);

    assertEquals(await listDir(dest), ["blobs", "index.json", "oci-layout"]);
    const inspected = JSON.parse(await run("skopeo", ["inspect", `oci:${dest}:3`]));
    assertEquals(inspected.Digest, test.ociImage.manifest.digest);
    assertEquals(await listDir(test.dir), ["layout", "rootfs", "store"]);
  });
});

Deno.test("ociExporter with tar=false updates an existing directory in place", async () => {
  await withContext(async (test) => {
    const dest = `${test.dir}/layout`;
    await Deno.mkdir(`${dest}/blobs/sha256`, { recursive: true });
    await Deno.writeTextFile(`${dest}/index.json`, "old");
    await Deno.writeTextFile(`${dest}/blobs/sha256/other`, "kept");
    await exportOci(test, { dest, tar: "false" });

    assertEquals(await Deno.readTextFile(`${dest}/blobs/sha256/other`), "kept");
    const index = JSON.parse(await Deno.readTextFile(`${dest}/index.json`));
    assertEquals(index.manifests[0].digest, test.ociImage.manifest.digest);
    assertEquals(await listDir(dest), ["blobs", "index.json", "oci-layout"]);
  });
});

Deno.test("ociExporter replaces an existing archive", async () => {
  await withContext(async (test) => {
    const dest = `${test.dir}/image.tar`;
    await Deno.writeTextFile(dest, "old archive");
    await exportOci(test, { dest });
    const inspected = JSON.parse(await run("skopeo", ["inspect", `oci-archive:${dest}`]));
    assertEquals(inspected.Digest, test.ociImage.manifest.digest);
  });
});

Deno.test("ociExporter leaves no file behind when a layer read fails", async () => {
  await withContext(async (test) => {
    const dest = `${test.dir}/out/image.tar`;
    await assertRejects(() => exportOci(test, { dest }), Error, "read failed on purpose");
    assertEquals(await listDir(`${test.dir}/out`), []);
  }, { failLayer: 1 });
});

Deno.test("ociExporter keeps an existing archive when a layer read fails", async () => {
  await withContext(async (test) => {
    const dest = `${test.dir}/image.tar`;
    await Deno.writeTextFile(dest, "old archive");
    await assertRejects(() => exportOci(test, { dest }), Error, "read failed on purpose");
    assertEquals(await Deno.readTextFile(dest), "old archive");
    assertEquals(await listDir(test.dir), ["image.tar", "rootfs", "store"]);
  }, { failLayer: 0 });
});

Deno.test("ociExporter with tar=false leaves no directory behind when a layer read fails", async () => {
  await withContext(async (test) => {
    await assertRejects(
      () => exportOci(test, { dest: `${test.dir}/layout`, tar: "false" }),
      Error,
      "read failed",
    );
    assertEquals(await listDir(test.dir), ["rootfs", "store"]);
  }, { failLayer: 0 });
});

Deno.test("ociExporter stops when the build is cancelled", async () => {
  await withContext(async (test) => {
    test.abort(new Error("cancelled on purpose"));
    await assertRejects(
      () => exportOci(test, { dest: `${test.dir}/image.tar` }),
      Error,
      "cancelled on purpose",
    );
    assertEquals(await listDir(test.dir), ["rootfs", "store"]);
  });
});

Deno.test("ociExporter rejects invalid attributes", async () => {
  await withContext(async (test) => {
    const cases: [Record<string, string>, string][] = [
      [{}, `Invalid output "type=oci": missing "dest"`],
      [{ dest: "" }, `Invalid output "type=oci": missing "dest"`],
      [
        { dest: "x.tar", push: "true" },
        `Invalid output "type=oci": unknown attribute "push" (accepted: "dest", "tar", "name", "compression")`,
      ],
      [
        { dest: "x.tar", tar: "yes" },
        `Invalid output "type=oci": "tar" must be "true" or "false", got "yes"`,
      ],
      [
        { dest: "x.tar", compression: "lz4" },
        `Invalid output "type=oci": unknown compression "lz4" (accepted: "gzip", "zstd", "uncompressed")`,
      ],
    ];
    for (const [attrs, message] of cases) {
      const error = await assertRejects(() => exportOci(test, attrs), InvalidInputError);
      assertEquals(error.message, message);
    }
    assertEquals(test.buildImageCalls.length, 0);
  });
});

Deno.test("ociExporter rejects a directory as archive destination", async () => {
  await withContext(async (test) => {
    const error = await assertRejects(() => exportOci(test, { dest: test.dir }), InvalidInputError);
    assertEquals(
      error.message,
      `Failed to export to "${test.dir}": the path is a directory, but type=oci writes a file (set tar=false to write a directory)`,
    );
    assertEquals(test.buildImageCalls.length, 0);
  });
});

Deno.test("ociExporter rejects a name with a digest before building", async () => {
  await withContext(async (test) => {
    const name = `app@sha256:${"c".repeat(64)}`;
    await assertRejects(
      () => exportOci(test, { dest: `${test.dir}/x.tar` }, [name]),
      InvalidInputError,
      name,
    );
    assertEquals(test.buildImageCalls.length, 0);
  });
});
