import { join } from "../../../core/deps.ts";
import { materialize } from "../../../core/snapshot/materialize.ts";
import { markOpaque } from "../../../core/snapshot/whiteout.ts";
import { assert, assertEquals, assertRejects } from "../../_assert.ts";
import { describeTree, whiteout, writeFile } from "./_tree.ts";

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "tsbuild-materialize-test-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function makeDirs(root: string, ...names: string[]): Promise<string[]> {
  const paths = names.map((name) => join(root, name));
  for (const path of paths) await Deno.mkdir(path);
  return paths;
}

Deno.test("materialize() applies whiteouts and opaque directories", async () => {
  await withTempDir(async (dir) => {
    const [base, middle, top, target] = await makeDirs(dir, "base", "middle", "top", "target");
    await writeFile(base, "a/x", "x");
    await writeFile(base, "a/y", "y");
    await writeFile(base, "b/old", "old");
    await writeFile(base, "c", "c file");
    await writeFile(base, "keep", "base version");
    await writeFile(base, "gone/deep/file", "deep");

    await whiteout(middle, "a/x");
    await writeFile(middle, "b/new", "new");
    markOpaque(join(middle, "b"));
    await whiteout(middle, "c");
    await whiteout(middle, "gone");

    await writeFile(top, "keep", "top version");
    await writeFile(top, "c/inside", "c is a directory now");
    await writeFile(top, "gone", "gone is a file now");

    await materialize([base, middle, top], target);

    const tree = await describeTree(target, { times: false });
    assertEquals(Object.keys(tree), ["a", "a/y", "b", "b/new", "c", "c/inside", "gone", "keep"]);
    assertEquals(await Deno.readTextFile(join(target, "keep")), "top version");
    assertEquals(await Deno.readTextFile(join(target, "gone")), "gone is a file now");
  });
});

Deno.test("materialize() keeps modes, owners, times and symlinks", async () => {
  await withTempDir(async (dir) => {
    const [base, target] = await makeDirs(dir, "base", "target");
    await writeFile(base, "bin/tool", "#!/bin/sh\n", 0o4755);
    await Deno.chown(join(base, "bin/tool"), 1000, 1001);
    await Deno.chmod(join(base, "bin/tool"), 0o4755);
    await Deno.utime(join(base, "bin/tool"), new Date(1_000_000), new Date(2_000_123));
    await Deno.symlink("tool", join(base, "bin/alias"));
    await Deno.chmod(join(base, "bin"), 0o750);
    await Deno.utime(join(base, "bin"), new Date(3_000_000), new Date(4_000_000));
    await Deno.chmod(base, 0o711);

    await materialize([base], target);

    assertEquals(await describeTree(target), await describeTree(base));
    assertEquals((await Deno.lstat(target)).mode! & 0o7777, 0o711);
    assertEquals((await Deno.lstat(join(target, "bin/tool"))).mode! & 0o7777, 0o4755);
    assertEquals((await Deno.lstat(join(target, "bin/tool"))).mtime?.getTime(), 2_000_123);
    assertEquals(await Deno.readLink(join(target, "bin/alias")), "tool");
  });
});

Deno.test("materialize() keeps hard links within a layer", async () => {
  await withTempDir(async (dir) => {
    const [base, target] = await makeDirs(dir, "base", "target");
    await writeFile(base, "one", "shared");
    await Deno.link(join(base, "one"), join(base, "two"));

    await materialize([base], target);

    const one = await Deno.lstat(join(target, "one"));
    const two = await Deno.lstat(join(target, "two"));
    assertEquals(one.ino, two.ino);
    assertEquals(one.nlink, 2);
    assert(
      one.ino !== (await Deno.lstat(join(base, "one"))).ino,
      "the copy must not link into the layer",
    );
  });
});

Deno.test("materialize() copies FIFOs and character devices", async () => {
  await withTempDir(async (dir) => {
    const [base, target] = await makeDirs(dir, "base", "target");
    const mkfifo = await new Deno.Command("mkfifo", { args: [join(base, "pipe")] }).output();
    assert(mkfifo.success);
    const mknod = await new Deno.Command("mknod", { args: [join(base, "null"), "c", "1", "3"] })
      .output();
    assert(mknod.success);

    await materialize([base], target);

    assert((await Deno.lstat(join(target, "pipe"))).isFifo);
    const device = await Deno.lstat(join(target, "null"));
    assert(device.isCharDevice);
    assertEquals(device.rdev, (await Deno.lstat(join(base, "null"))).rdev);
  });
});

Deno.test("materialize() with no layers leaves the target empty", async () => {
  await withTempDir(async (dir) => {
    const [target] = await makeDirs(dir, "target");
    await materialize([], target);
    assertEquals(await describeTree(target), {});
  });
});

Deno.test("materialize() stops when the signal is aborted", async () => {
  await withTempDir(async (dir) => {
    const [base, target] = await makeDirs(dir, "base", "target");
    await writeFile(base, "file", "content");
    const controller = new AbortController();
    controller.abort();
    await assertRejects(
      () => materialize([base], target, { signal: controller.signal }),
      DOMException,
    );
  });
});
