import { join } from "../../../core/deps.ts";
import { DigestMismatchError } from "../../../core/errors.ts";
import { localSource } from "../../../plugins/sources/local.ts";
import { assert, assertEquals, assertRejects } from "../../_assert.ts";
import { describeTree, PAST, settle, withLocalFixture, writeTree } from "./_local_fixture.ts";

const PLATFORM = { os: "linux", architecture: "amd64" };

function loadArgs(name: string, pin: string, attrs: Record<string, string> = {}) {
  return {
    identifier: `local://${name}`,
    scheme: "local",
    path: name,
    attrs,
    platform: PLATFORM,
    pin,
  };
}

Deno.test("local onLoad() copies the filtered tree with modes, links and owner 0:0", async () => {
  await withLocalFixture(async ({ dir, load }) => {
    const context = join(dir, "context");
    await writeTree(context, {
      "app/run.sh": "#!/bin/sh\necho hi\n",
      "app/secret.key": "key",
      "app/setuid": "s",
      "README": "readme",
      "debug.log": "noise",
    });
    // chown clears setuid bits, so it comes before the modes.
    await new Deno.Command("chown", { args: ["-R", "1000:1000", context] }).output();
    await Deno.chmod(join(context, "app/run.sh"), 0o755);
    await Deno.chmod(join(context, "app/secret.key"), 0o600);
    await Deno.chmod(join(context, "app/setuid"), 0o4755);
    await Deno.mkdir(join(context, "empty"), { mode: 0o700 });
    await Deno.chmod(join(context, "empty"), 0o700);
    await Deno.symlink("/etc/passwd", join(context, "passwd"));
    await Deno.symlink("run.sh", join(context, "app/start"));
    await new Deno.Command("mkfifo", { args: [join(context, "pipe")] }).output();
    await new Deno.Command("chown", {
      args: ["-h", "1000:1000", join(context, "passwd"), join(context, "app/start")],
    }).output();
    await Deno.utime(join(context, "app"), PAST, PAST);

    assertEquals((await Deno.lstat(join(context, "README"))).uid, 1000);
    const { pin, snapshot, diffDir } = await load("context", {
      "exclude-patterns": JSON.stringify(["*.log"]),
    });

    assertEquals(snapshot, `local-${pin.slice("sha256:".length)}`);
    assertEquals(await describeTree(diffDir), [
      "README=readme",
      "app/",
      "app/run.sh=#!/bin/sh\necho hi\n",
      "app/secret.key=key",
      "app/setuid=s",
      "app/start -> run.sh",
      "empty/",
      "passwd -> /etc/passwd",
    ]);
    const modeOf = async (path: string) => (await Deno.lstat(join(diffDir, path))).mode! & 0o7777;
    assertEquals(await modeOf("app/run.sh"), 0o755);
    assertEquals(await modeOf("app/secret.key"), 0o600);
    assertEquals(await modeOf("app/setuid"), 0o4755);
    assertEquals(await modeOf("empty"), 0o700);
    assertEquals(await modeOf(""), 0o755);
    for (const path of ["", "README", "app", "app/run.sh", "app/start", "empty", "passwd"]) {
      const info = await Deno.lstat(join(diffDir, path));
      assertEquals([info.uid, info.gid], [0, 0], `owner of "${path}"`);
    }
    assertEquals((await Deno.lstat(join(diffDir, "README"))).mtime, PAST);
    assertEquals((await Deno.lstat(join(diffDir, "app"))).mtime, PAST);
    assert((await Deno.lstat(join(diffDir, "passwd"))).isSymlink);
  });
});

Deno.test("local onLoad() reuses the snapshot of equal content", async () => {
  await withLocalFixture(async ({ dir, load, context }) => {
    await writeTree(join(dir, "one"), { "a.txt": "same" });
    await writeTree(join(dir, "two"), { "a.txt": "same" });
    const first = await load("one", {}, { one: join(dir, "one") });
    const second = await load("two", {}, { two: join(dir, "two") });
    await Deno.remove(join(dir, "one"), { recursive: true });

    // With the snapshot present, onLoad returns it without looking at the directory.
    const again = await localSource.onLoad(
      loadArgs("one", first.pin),
      context({ one: join(dir, "one") }),
    );

    assertEquals(second.snapshot, first.snapshot);
    assertEquals(again.snapshot, first.snapshot);
  });
});

Deno.test("local onLoad() scans again when the resolve happened elsewhere", async () => {
  await withLocalFixture(async ({ dir, resolve, store, context }) => {
    await writeTree(join(dir, "one"), { "a.txt": "rescanned", "sub/b.txt": "b" });
    await writeTree(join(dir, "two"), { "a.txt": "rescanned", "sub/b.txt": "b" });
    const { pin } = await resolve("one", {}, { one: join(dir, "one") });

    const { snapshot } = await localSource.onLoad(
      loadArgs("two", pin),
      context({ two: join(dir, "two") }),
    );

    assertEquals(snapshot, `local-${pin.slice("sha256:".length)}`);
    assertEquals(await describeTree(store.snapshots.diffDir(snapshot!)), [
      "a.txt=rescanned",
      "sub/",
      "sub/b.txt=b",
    ]);
  });
});

Deno.test("local onLoad() fails when the directory no longer has the pinned content", async () => {
  await withLocalFixture(async ({ dir, resolve, context }) => {
    await writeTree(join(dir, "one"), { "a.txt": "before" });
    await writeTree(join(dir, "two"), { "a.txt": "after!" });
    const { pin } = await resolve("one", {}, { one: join(dir, "one") });

    const error = await assertRejects(
      () => localSource.onLoad(loadArgs("two", pin), context({ two: join(dir, "two") })),
      DigestMismatchError,
    );

    assert(
      error.message.startsWith(
        `Failed to load local "two": its content changed during the build: expected "${pin}"`,
      ),
      error.message,
    );
  });
});

Deno.test("local onLoad() fails when a file changes between resolve and load", async () => {
  await withLocalFixture(async ({ dir, resolve, context, store }) => {
    await writeTree(join(dir, "context"), { "a.txt": "original", "b.txt": "stays" });
    await settle(dir);
    const { pin } = await resolve("context");
    await Deno.writeTextFile(join(dir, "context/a.txt"), "modified");

    const error = await assertRejects(
      () => localSource.onLoad(loadArgs("context", pin), context()),
      DigestMismatchError,
    );

    assertEquals(
      error.message,
      `Failed to copy local "context": "a.txt" changed during the build (run the build again)`,
    );
    assertEquals(await store.snapshots.get(`local-${pin.slice("sha256:".length)}`), undefined);
  });
});

Deno.test("local onLoad() accepts a file touched between resolve and load", async () => {
  await withLocalFixture(async ({ dir, resolve, context, store }) => {
    await writeTree(join(dir, "context"), { "a.txt": "touched only" });
    await settle(dir);
    const { pin } = await resolve("context");
    await Deno.utime(join(dir, "context/a.txt"), new Date(), new Date());

    const { snapshot } = await localSource.onLoad(loadArgs("context", pin), context());

    assertEquals(await describeTree(store.snapshots.diffDir(snapshot!)), ["a.txt=touched only"]);
  });
});

Deno.test("local onLoad() refuses a file reached through a directory swapped for a symlink", async () => {
  await withLocalFixture(async ({ dir, resolve, context, store }) => {
    await writeTree(join(dir, "context"), { "sub/data.txt": "context data" });
    await writeTree(join(dir, "outside"), { "data.txt": "private data" });
    await settle(dir);
    const { pin } = await resolve("context");
    // Same names, another inode: what a swap between the scan and the copy leaves.
    await Deno.rename(join(dir, "context/sub"), join(dir, "sub-moved"));
    await Deno.symlink(join(dir, "outside"), join(dir, "context/sub"));

    const error = await assertRejects(
      () => localSource.onLoad(loadArgs("context", pin), context()),
      DigestMismatchError,
    );

    assertEquals(
      error.message,
      `Failed to copy local "context": "sub/data.txt" changed during the build (run the build again)`,
    );
    assertEquals(await store.snapshots.get(`local-${pin.slice("sha256:".length)}`), undefined);
    const stored = await describeTree(join(dir, "store/data/local"));
    assert(!stored.some((line) => line.includes("private data")), stored.join("\n"));
  });
});
