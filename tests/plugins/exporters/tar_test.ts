import { InvalidInputError } from "../../../core/errors.ts";
import { tarExporter } from "../../../plugins/exporters/tar.ts";
import { assertEquals, assertRejects } from "../../_assert.ts";
import { listDir, run } from "../../core/oci/_test_image.ts";
import { createTestContext, type TestContext, type TestContextOptions } from "./_context.ts";

const result = {
  imageConfig: {},
  platform: { os: "linux", architecture: "amd64" },
  attributes: {},
};

function exportTar(test: TestContext, attrs: Record<string, string>) {
  return tarExporter.onExport({ attrs, names: [], result }, test.context);
}

async function withContext(fn: (test: TestContext) => Promise<void>, options?: TestContextOptions) {
  await using test = await createTestContext(options);
  await fn(test);
}

Deno.test("tarExporter writes the filesystem as a tar GNU tar extracts", async () => {
  await withContext(async (test) => {
    const dest = `${test.dir}/out/rootfs.tar`;
    assertEquals(await exportTar(test, { dest }), {});

    const listing = (await run("tar", ["-tf", dest])).trim().split("\n").sort();
    assertEquals(listing, [
      "./",
      "./bin/",
      "./bin/tool",
      "./etc/",
      "./etc/hello.txt",
      "./etc/link",
    ]);
    const extracted = `${test.dir}/extracted`;
    await Deno.mkdir(extracted);
    await run("tar", ["-xf", dest, "-C", extracted]);
    await run("diff", ["-r", "--no-dereference", test.rootfs, extracted]);
    assertEquals(await listDir(`${test.dir}/out`), ["rootfs.tar"]);
  });
});

Deno.test("tarExporter replaces an existing file", async () => {
  await withContext(async (test) => {
    const dest = `${test.dir}/rootfs.tar`;
    await Deno.writeTextFile(dest, "old");
    await exportTar(test, { dest });
    assertEquals((await run("tar", ["-tf", dest])).includes("./etc/hello.txt"), true);
  });
});

Deno.test("tarExporter leaves no file behind when the tar stream fails", async () => {
  await withContext(async (test) => {
    await assertRejects(
      () => exportTar(test, { dest: `${test.dir}/rootfs.tar` }),
      Error,
      "read failed on purpose",
    );
    assertEquals(await listDir(test.dir), ["rootfs", "store"]);
  }, { failFilesystem: true });
});

Deno.test("tarExporter keeps an existing file when the tar stream fails", async () => {
  await withContext(async (test) => {
    const dest = `${test.dir}/rootfs.tar`;
    await Deno.writeTextFile(dest, "old");
    await assertRejects(() => exportTar(test, { dest }), Error, "read failed on purpose");
    assertEquals(await Deno.readTextFile(dest), "old");
    assertEquals(await listDir(test.dir), ["rootfs", "rootfs.tar", "store"]);
  }, { failFilesystem: true });
});

Deno.test("tarExporter stops when the build is cancelled", async () => {
  await withContext(async (test) => {
    test.abort(new Error("cancelled on purpose"));
    await assertRejects(
      () => exportTar(test, { dest: `${test.dir}/rootfs.tar` }),
      Error,
      "cancelled on purpose",
    );
    assertEquals(await listDir(test.dir), ["rootfs", "store"]);
  });
});

Deno.test("tarExporter rejects invalid attributes and paths", async () => {
  await withContext(async (test) => {
    const missing = await assertRejects(() => exportTar(test, {}), InvalidInputError);
    assertEquals(missing.message, `Invalid output "type=tar": missing "dest"`);
    const unknown = await assertRejects(
      () => exportTar(test, { dest: "x", compression: "gzip" }),
      InvalidInputError,
    );
    assertEquals(
      unknown.message,
      `Invalid output "type=tar": unknown attribute "compression" (accepted: "dest")`,
    );
    const directory = await assertRejects(
      () => exportTar(test, { dest: test.rootfs }),
      InvalidInputError,
    );
    assertEquals(
      directory.message,
      `Failed to export to "${test.rootfs}": the path is a directory, but type=tar writes a file`,
    );
  });
});

Deno.test("tarExporter removes temporary files a killed export left beside the destination", async () => {
  await withContext(async (test) => {
    await Deno.mkdir(`${test.dir}/out`);
    const dest = `${test.dir}/out/rootfs.tar`;
    // No process can have pid 4194399, above the kernel's limit for pid_max; pid 1 always runs.
    const abandoned = `${test.dir}/out/.rootfs.tar.tsbuild-tmp-4194399-0a1b2c`;
    const running = `${test.dir}/out/.rootfs.tar.tsbuild-tmp-1-0a1b2c`;
    const unrelated = `${test.dir}/out/.other.tar.tsbuild-tmp-4194399-0a1b2c`;
    for (const path of [abandoned, running, unrelated]) await Deno.writeTextFile(path, "partial");

    await exportTar(test, { dest });

    assertEquals(await listDir(`${test.dir}/out`), [
      ".other.tar.tsbuild-tmp-4194399-0a1b2c",
      ".rootfs.tar.tsbuild-tmp-1-0a1b2c",
      "rootfs.tar",
    ]);
  });
});
