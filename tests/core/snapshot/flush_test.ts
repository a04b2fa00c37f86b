/**
 * Tests of flushing a diff directory to disk. Durability itself cannot be
 * observed from a test, so these check that every kind of entry is handled
 * and that both the per-entry and the whole-file-system paths run.
 *
 * @module
 */

import { join } from "../../../core/deps.ts";
import { flushTree, MAX_ENTRIES_FLUSHED_SEPARATELY } from "../../../core/snapshot/flush.ts";
import { createWhiteout } from "../../../core/snapshot/whiteout.ts";
import { assertEquals, assertRejects } from "../../_assert.ts";
import { describeTree } from "./_tree.ts";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "tsbuild-flush-test-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("flushTree() passes over special files, which open would block on", async () => {
  await withDir(async (dir) => {
    await Deno.mkdir(join(dir, "etc"));
    await Deno.writeTextFile(join(dir, "etc/hosts"), "127.0.0.1 localhost\n");
    await Deno.symlink("/nowhere", join(dir, "link"));
    createWhiteout(join(dir, "gone"));
    const mkfifo = await new Deno.Command("mkfifo", { args: [join(dir, "pipe")] }).output();
    assertEquals(mkfifo.success, true);
    const before = await describeTree(dir);

    await flushTree(dir);

    assertEquals(await describeTree(dir), before);
  });
});

Deno.test("flushTree() flushes a large tree as a whole file system", async () => {
  await withDir(async (dir) => {
    for (let index = 0; index <= MAX_ENTRIES_FLUSHED_SEPARATELY; index++) {
      await Deno.writeTextFile(join(dir, `file-${index}`), String(index));
    }
    const before = await describeTree(dir);

    await flushTree(dir);

    assertEquals(await describeTree(dir), before);
  });
});

Deno.test("flushTree() rejects a missing directory", async () => {
  await withDir(async (dir) => {
    await assertRejects(() => flushTree(join(dir, "missing")), Deno.errors.NotFound);
  });
});
