import { InvalidInputError } from "../../../core/errors.ts";
import { localExporter } from "../../../plugins/exporters/local.ts";
import { assertEquals, assertRejects } from "../../_assert.ts";
import { listDir, run } from "../../core/oci/_test_image.ts";
import { createTestContext, type TestContext, type TestContextOptions } from "./_context.ts";

const result = {
  imageConfig: {},
  platform: { os: "linux", architecture: "amd64" },
  attributes: {},
};

function exportLocal(test: TestContext, attrs: Record<string, string>) {
  return localExporter.onExport({ attrs, names: [], result }, test.context);
}

async function withContext(fn: (test: TestContext) => Promise<void>, options?: TestContextOptions) {
  await using test = await createTestContext(options);
  await fn(test);
}

Deno.test("localExporter writes the filesystem into a new directory", async () => {
  await withContext(async (test) => {
    const dest = `${test.dir}/out/nested/rootfs`;
    assertEquals(await exportLocal(test, { dest }), {});

    // diff -r compares contents and symlink targets; `--no-dereference` keeps links as links.
    await run("diff", ["-r", "--no-dereference", test.rootfs, dest]);
    assertEquals((await Deno.stat(`${dest}/bin`)).mode! & 0o777, 0o750);
    assertEquals(await Deno.readLink(`${dest}/etc/link`), "hello.txt");
    assertEquals(await listDir(`${test.dir}/out/nested`), ["rootfs"]);
  });
});

Deno.test("localExporter updates an existing directory in place", async () => {
  await withContext(async (test) => {
    const dest = `${test.dir}/dest`;
    await Deno.mkdir(`${dest}/etc`, { recursive: true });
    await Deno.chmod(`${dest}/etc`, 0o700);
    await Deno.writeTextFile(`${dest}/etc/hello.txt`, "old");
    await Deno.writeTextFile(`${dest}/etc/extra.txt`, "kept");
    await Deno.writeTextFile(`${dest}/bin`, "a file where the result has a directory");
    await Deno.mkdir(`${dest}/etc/link/inside`, { recursive: true });
    await exportLocal(test, { dest });

    assertEquals(await Deno.readTextFile(`${dest}/etc/hello.txt`), "hello\n");
    assertEquals(await Deno.readTextFile(`${dest}/etc/extra.txt`), "kept");
    assertEquals(await Deno.readTextFile(`${dest}/bin/tool`), "#!/bin/sh\necho tool\n");
    assertEquals(await Deno.readLink(`${dest}/etc/link`), "hello.txt");
    assertEquals(await listDir(dest), ["bin", "etc"]);
    assertEquals(await listDir(`${dest}/etc`), ["extra.txt", "hello.txt", "link"]);
    const merged = await Deno.stat(`${dest}/etc`);
    const source = await Deno.stat(`${test.rootfs}/etc`);
    assertEquals(merged.mode! & 0o7777, source.mode! & 0o7777);
    assertEquals(merged.mtime, source.mtime);
  });
});

Deno.test("localExporter replaces a symbolic link in dest without following it", async () => {
  await withContext(async (test) => {
    const dest = `${test.dir}/dest`;
    const outside = `${test.dir}/outside`;
    await Deno.mkdir(outside);
    await Deno.mkdir(dest);
    await Deno.symlink(outside, `${dest}/etc`);
    await exportLocal(test, { dest });

    assertEquals((await Deno.lstat(`${dest}/etc`)).isDirectory, true);
    assertEquals(await listDir(outside), []);
  });
});

Deno.test("localExporter leaves no directory behind when writeFilesystem fails", async () => {
  await withContext(async (test) => {
    await assertRejects(
      () => exportLocal(test, { dest: `${test.dir}/out` }),
      Error,
      "writeFilesystem failed on purpose",
    );
    assertEquals(await listDir(test.dir), ["rootfs", "store"]);
  }, { failFilesystem: true });
});

Deno.test("localExporter keeps an existing directory when writeFilesystem fails", async () => {
  await withContext(async (test) => {
    const dest = `${test.dir}/dest`;
    await Deno.mkdir(dest);
    await Deno.writeTextFile(`${dest}/old.txt`, "old");
    await assertRejects(
      () => exportLocal(test, { dest }),
      Error,
      "writeFilesystem failed on purpose",
    );
    assertEquals(await listDir(dest), ["old.txt"]);
  }, { failFilesystem: true });
});

Deno.test("localExporter rejects invalid attributes and a file as dest", async () => {
  await withContext(async (test) => {
    const missing = await assertRejects(() => exportLocal(test, {}), InvalidInputError);
    assertEquals(missing.message, `Invalid output "type=local": missing "dest"`);
    const unknown = await assertRejects(
      () => exportLocal(test, { dest: "x", name: "a" }),
      InvalidInputError,
    );
    assertEquals(
      unknown.message,
      `Invalid output "type=local": unknown attribute "name" (accepted: "dest")`,
    );
    const stdout = await assertRejects(() => exportLocal(test, { dest: "-" }), InvalidInputError);
    assertEquals(
      stdout.message,
      `Invalid output "type=local": "dest=-" is not supported, because tsbuild cannot write to standard output yet`,
    );

    const file = `${test.dir}/file`;
    await Deno.writeTextFile(file, "x");
    const error = await assertRejects(() => exportLocal(test, { dest: file }), InvalidInputError);
    assertEquals(
      error.message,
      `Failed to export to "${file}": the path is a file, but type=local writes a directory`,
    );
    assertEquals(await Deno.readTextFile(file), "x");
  });
});
