/**
 * Tests of a rescan from the previous scan's record. The tree is reused whole
 * only when every recorded entry, directories included, kept its stat fields.
 * Changed files alone are hashed again, and any other change takes the full
 * walk. Each result equals the tree of a full scan.
 *
 * @module
 */

import { join } from "../../../core/deps.ts";
import { assert, assertEquals } from "../../_assert.ts";
import { createLocalFilter } from "../../../plugins/sources/_local_filter.ts";
import { fileSystemNow, readRecord, writeRecord } from "../../../plugins/sources/_local_record.ts";
import {
  MAX_REHASHED_FILES,
  scanDirectory,
  type ScanResult,
} from "../../../plugins/sources/_local_scan.ts";
import { type DirectoryEntry, walkTree } from "../../../plugins/sources/_local_tree.ts";
import { settle, writeTree } from "./_local_fixture.ts";

const FILES = { "a.txt": "a", "sub/b.txt": "b", "sub/deep/c.txt": "c", "other/d.txt": "d" };

/** Runs `fn` with a new context directory and the path of a record file beside it. */
async function withContext(
  fn: (paths: { context: string; record: string; dir: string }) => Promise<void>,
  files: Record<string, string> = FILES,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "tsbuild-rescan-test-" });
  try {
    const context = join(dir, "context");
    await writeTree(context, files);
    await Deno.symlink("a.txt", join(context, "link"));
    await settle(dir);
    await fn({ context, record: join(dir, "record.jsonl"), dir });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Scans `context` with the record at `record`, and rewrites the record when the local source would. */
async function scan(context: string, record: string, exclude: string[] = []): Promise<ScanResult> {
  const previous = await readRecord(record);
  const stampMs = fileSystemNow(join(record, ".."));
  const result = await scanDirectory(context, {
    name: "context",
    filter: createLocalFilter("context", [], exclude),
    previous,
    signal: new AbortController().signal,
    onSkipped: () => {},
  });
  if (!result.reusedWhole && !result.fewRehashed) {
    await writeRecord(record, stampMs, result.tree, {
      excluded: result.counts.excluded,
      complete: result.complete,
    });
  }
  return result;
}

/** Lists every entry of `tree` with the fields a build uses. */
function describe(tree: DirectoryEntry): string[] {
  return [...walkTree(tree)].map(([path, entry]) =>
    `${path} ${entry.kind} ${entry.mode} ${entry.digest} ${entry.mtimeMs} ${entry.ctimeMs} ${entry.ino}`
  );
}

Deno.test("rescan: an unchanged tree is reused whole and equals a full scan", async () => {
  await withContext(async ({ context, record }) => {
    const first = await scan(context, record);
    const again = await scan(context, record);

    assertEquals(first.reusedWhole, false);
    assertEquals(again.reusedWhole, true);
    assertEquals(again.counts, { read: 0, reused: 4, skipped: 0, excluded: 0 });
    assertEquals(again.tree.digest, first.tree.digest);
    assertEquals(describe(again.tree), describe(first.tree));
  });
});

Deno.test("rescan: each kind of change is found", async () => {
  const changes: Record<string, (context: string) => Promise<void>> = {
    "a file added in a subdirectory": (context) =>
      Deno.writeTextFile(join(context, "sub/new"), "n"),
    "a file removed": (context) => Deno.remove(join(context, "sub/deep/c.txt")),
    "a file renamed": (context) =>
      Deno.rename(join(context, "other/d.txt"), join(context, "other/e.txt")),
    "a mode changed": (context) => Deno.chmod(join(context, "a.txt"), 0o600),
    "content changed with the mtime put back": async (context) => {
      const path = join(context, "sub/b.txt");
      const { mtime } = await Deno.lstat(path);
      await Deno.writeTextFile(path, "B");
      await Deno.utime(path, mtime!, mtime!);
    },
    "a symlink retargeted": async (context) => {
      await Deno.remove(join(context, "link"));
      await Deno.symlink("sub/b.txt", join(context, "link"));
    },
  };
  for (const [name, change] of Object.entries(changes)) {
    await withContext(async ({ context, record, dir }) => {
      const first = await scan(context, record);
      await change(context);
      await settle(dir);

      const changed = await scan(context, record);
      const again = await scan(context, record);

      assertEquals(changed.reusedWhole, false, name);
      assert(changed.tree.digest !== first.tree.digest, name);
      // A rewritten record is reused whole. A record kept as it was leaves the changed file to hash.
      assertEquals(
        again.reusedWhole || (changed.fewRehashed && again.counts.read === 1),
        true,
        name,
      );
      assertEquals(again.tree.digest, changed.tree.digest, name);
    });
  }
});

Deno.test("rescan: changed files alone are hashed again, giving a full scan's tree", async () => {
  await withContext(async ({ context, record, dir }) => {
    await scan(context, record);
    await Deno.writeTextFile(join(context, "sub/deep/c.txt"), "changed");
    await Deno.chmod(join(context, "a.txt"), 0o600);
    await settle(dir);

    const rescan = await scan(context, record);
    const full = await scan(context, `${record}.fresh`);

    assertEquals(rescan.counts, { read: 2, reused: 2, skipped: 0, excluded: 0 });
    assertEquals(rescan.reusedWhole, false);
    assertEquals(rescan.fewRehashed, true);
    assertEquals(rescan.tree.digest, full.tree.digest);
    assertEquals(describe(rescan.tree), describe(full.tree));
    // The record is kept as it was, so the next scan hashes the same two files again.
    const again = await scan(context, record);
    assertEquals(again.counts.read, 2);
    assertEquals(describe(again.tree), describe(full.tree));
  });
});

Deno.test("rescan: a change larger than a few small files is recorded", async () => {
  const files: Record<string, string> = {};
  for (let i = 0; i < MAX_REHASHED_FILES + 1; i++) files[`many/f${i}`] = `${i}`;
  await withContext(async ({ context, record, dir }) => {
    await scan(context, record);
    for (const path of Object.keys(files)) await Deno.writeTextFile(join(context, path), "new");
    await settle(dir);

    const changed = await scan(context, record);
    const again = await scan(context, record);

    assertEquals(changed.counts.read, MAX_REHASHED_FILES + 1);
    assertEquals(changed.fewRehashed, false);
    assertEquals(again.reusedWhole, true);
    assertEquals(again.tree.digest, changed.tree.digest);
  }, files);
});

Deno.test("rescan: an entry not settled before the recording scan is not trusted", async () => {
  await withContext(async ({ context, record }) => {
    // An mtime ahead of the scan's clock plays the part of a change within its clock tick.
    const future = new Date(Date.now() + 86_400_000);
    await Deno.utime(join(context, "sub/b.txt"), future, future);
    await scan(context, record);

    const again = await scan(context, record);

    assertEquals(again.reusedWhole, false);
    assertEquals(again.counts.read, 1);
  });
});

Deno.test("rescan: a directory the patterns left empty keeps every rescan full", async () => {
  await withContext(async ({ context, record, dir }) => {
    const exclude = ["sub", "!sub/deep/*.md"];
    const first = await scan(context, record, exclude);
    assertEquals(first.complete, false);
    assertEquals((await scan(context, record, exclude)).reusedWhole, false);

    // A re-included file appears inside the directory that was left out.
    await Deno.writeTextFile(join(context, "sub/deep/new.md"), "m");
    await settle(dir);
    const found = await scan(context, record, exclude);
    assert([...walkTree(found.tree)].some(([path]) => path === "sub/deep/new.md"));
  });
});

Deno.test("rescan: a damaged record reads as none", async () => {
  await withContext(async ({ context, record }) => {
    await scan(context, record);
    const text = await Deno.readTextFile(record);
    await Deno.writeTextFile(record, text.replace('"a.txt"', '"z.txt"'));

    assertEquals(await readRecord(record), undefined);
    const rescan = await scan(context, record);
    assertEquals(rescan.counts.read, 4);
  });
});
