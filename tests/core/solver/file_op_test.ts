/**
 * Tests of file ops on a real store: the direct path, which writes into the
 * new diff without an overlay, must leave the same diff as the overlay path,
 * and must decline the ops it cannot run the same way.
 *
 * @module
 */

import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { join } from "../../../core/deps.ts";
import {
  type FileAction,
  FileActionCopySchema,
  FileActionMkdirSchema,
  FileActionMkfileSchema,
  FileActionRmSchema,
  FileActionSchema,
  FileOpSchema,
} from "../../../core/graph/gen/tsbuild/graph/v1/definition_pb.ts";
import { hostPlatform } from "../../../core/oci/platform.ts";
import { RecordingSink } from "../../../core/progress/events.ts";
import { createWhiteout, markOpaque } from "../../../core/snapshot/whiteout.ts";
import { runDirectFileOp } from "../../../core/solver/_direct_file_op.ts";
import type { RunContext } from "../../../core/solver/_run_context.ts";
import { runFileOp, runFileOpOnOverlay } from "../../../core/solver/file_op.ts";
import type { VertexResult } from "../../../core/solver/solver.ts";
import { openStore, type Store } from "../../../core/store/store.ts";
import { assert, assertEquals } from "../../_assert.ts";
import { describeTree } from "../snapshot/_tree.ts";

const OLD_TIME = new Date("2020-01-02T03:04:05Z");

interface Fixture {
  store: Store;
  context: RunContext;
  /** The base image: two layers, the top one with a whiteout and an opaque directory. */
  base: VertexResult;
  /** A build context: a single snapshot of kind "local". */
  local: VertexResult;
}

async function withFixture(fn: (fixture: Fixture) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "tsbuild-file-op-test-" });
  const store = await openStore(join(dir, "root"));
  try {
    const context: RunContext = {
      store,
      executor: {
        name: "none",
        run: () => Promise.reject(new Error("file ops run no process")),
      },
      sink: new RecordingSink(),
      vertex: { id: "file-op", name: "file op" },
      signal: new AbortController().signal,
      platform: hostPlatform(),
    };
    const lower = await commitSnapshot(store, undefined, "layer", fillLowerLayer);
    const upper = await commitSnapshot(store, lower, "layer", fillUpperLayer);
    const local = await commitSnapshot(store, undefined, "local", fillContext);
    await fn({
      store,
      context,
      base: { key: "sha256:base", snapshot: upper } as VertexResult,
      local: { key: "sha256:local", snapshot: local } as VertexResult,
    });
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
}

async function commitSnapshot(
  store: Store,
  parent: string | undefined,
  kind: string,
  fill: (dir: string) => Promise<void>,
): Promise<string> {
  const active = await store.snapshots.prepare();
  await fill(active.dir);
  return (await active.commit({ parent, kind })).id;
}

async function fillLowerLayer(dir: string): Promise<void> {
  for (const path of ["etc", "home/app", "srv/old", "var/lib"]) {
    await Deno.mkdir(join(dir, path), { recursive: true });
  }
  await Deno.writeTextFile(join(dir, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n");
  await Deno.writeTextFile(join(dir, "srv/old/file"), "old");
  await Deno.writeTextFile(join(dir, "var/lib/gone"), "gone");
  await Deno.chown(join(dir, "home/app"), 1000, 1000);
  await Deno.chmod(join(dir, "var"), 0o750);
  await Deno.symlink("/etc", join(dir, "link"));
  await Deno.symlink("/var/lib", join(dir, "deep"));
  await Deno.symlink("../../../../etc", join(dir, "escape"));
  await setOldTimes(dir, ["etc", "etc/passwd", "home", "home/app", "srv", "srv/old", "var"]);
}

async function fillUpperLayer(dir: string): Promise<void> {
  await Deno.mkdir(join(dir, "var/lib"), { recursive: true });
  createWhiteout(join(dir, "var/lib/gone"));
  await Deno.mkdir(join(dir, "srv"));
  markOpaque(join(dir, "srv"));
  await Deno.chmod(join(dir, "var"), 0o750);
  await setOldTimes(dir, ["var", "var/lib", "srv"]);
}

async function fillContext(dir: string): Promise<void> {
  await Deno.writeTextFile(join(dir, "message.txt"), "hello");
  await Deno.mkdir(join(dir, "site/css"), { recursive: true });
  await Deno.writeTextFile(join(dir, "site/index.html"), "<p>");
  await Deno.writeTextFile(join(dir, "site/css/a.css"), "p{}");
  await Deno.mkdir(join(dir, "etc-files"));
  await Deno.writeTextFile(join(dir, "etc-files/passwd"), "app:x:1000:1000::/:/bin/sh\n");
  await setOldTimes(dir, ["message.txt", "site", "site/css", "site/index.html", "site/css/a.css"]);
}

async function setOldTimes(dir: string, paths: string[]): Promise<void> {
  for (const path of paths.reverse()) await Deno.utime(join(dir, path), OLD_TIME, OLD_TIME);
}

function mkdir(path: string, options: { makeParents?: boolean; mode?: number } = {}): FileAction {
  const value = create(FileActionMkdirSchema, {
    path,
    mode: options.mode ?? 0o755,
    makeParents: options.makeParents ?? true,
  });
  return create(FileActionSchema, { action: { case: "mkdir", value } });
}

function mkfile(path: string, data: string, owner?: { user: string; group: string }): FileAction {
  const value = create(FileActionMkfileSchema, {
    path,
    mode: 0o600,
    data: new TextEncoder().encode(data),
    owner,
  });
  return create(FileActionSchema, { action: { case: "mkfile", value } });
}

function copy(
  src: string,
  dest: string,
  options: MessageInitShape<typeof FileActionCopySchema> = {},
): FileAction {
  const value = create(FileActionCopySchema, {
    input: 1,
    src,
    dest,
    followSymlinks: true,
    allowWildcard: true,
    ...options,
  });
  return create(FileActionSchema, { action: { case: "copy", value } });
}

function fileOp(...actions: FileAction[]) {
  return create(FileOpSchema, { actions, baseInput: 0 });
}

/** Returns the directory a copy's source input shows, for calling runDirectFileOp(). */
function sourceRootOf(fixture: Fixture): (input: number) => Promise<string> {
  return () => Promise.resolve(fixture.store.snapshots.diffDir(fixture.local.snapshot!));
}

/**
 * Runs `actions` on the direct path, which must take them, and through the
 * overlay, and returns both diffs, described without the times of new entries.
 */
async function runBothWays(fixture: Fixture, actions: FileAction[]) {
  const inputs = [fixture.base, fixture.local];
  const direct = await runDirectFileOp(
    fileOp(...actions),
    inputs,
    fixture.context,
    sourceRootOf(fixture),
  );
  assert(direct !== undefined, "the direct path declined the op");
  const overlay = await runFileOpOnOverlay(fileOp(...actions), inputs, fixture.context);
  const diffOf = (id: string | undefined) => fixture.store.snapshots.diffDir(id!);
  return {
    direct: await describeTree(diffOf(direct), { times: false }),
    overlay: await describeTree(diffOf(overlay), { times: false }),
    directDir: diffOf(direct),
    overlayDir: diffOf(overlay),
  };
}

/** Returns the modification time of `path` under `dir`, in milliseconds. */
async function mtimeOf(dir: string, path: string): Promise<number | undefined> {
  return (await Deno.lstat(join(dir, path))).mtime?.getTime();
}

const SAME_DIFF_CASES: Array<{ name: string; actions: FileAction[] }> = [
  { name: "a new directory", actions: [mkdir("/app")] },
  { name: "a new directory below existing ones", actions: [mkdir("/home/app/work")] },
  { name: "new parents", actions: [mkdir("/opt/a/b/c")] },
  { name: "an existing directory", actions: [mkdir("/etc")] },
  { name: "an existing directory with a new mode", actions: [mkdir("/etc", { mode: 0o700 })] },
  { name: "a directory in a whited-out path", actions: [mkdir("/var/lib/gone/x")] },
  { name: "a new file", actions: [mkfile("/etc/app.conf", "x=1", { user: "7", group: "8" })] },
  { name: "a file into an existing directory", actions: [copy("/message.txt", "/etc/")] },
  { name: "a file into an opaque directory", actions: [copy("/message.txt", "/srv/")] },
  { name: "a directory's contents", actions: [copy("/site", "/www/", { dirContentsOnly: true })] },
  {
    name: "an owned copy",
    actions: [copy("/message.txt", "/home/app/", { owner: { user: "1000", group: "1000" } })],
  },
  { name: "several actions", actions: [mkdir("/app"), copy("/site", "/app/"), mkdir("/app/x")] },
  { name: "a path an opaque directory hides", actions: [copy("/site", "/srv/old")] },
];

for (const { name, actions } of SAME_DIFF_CASES) {
  Deno.test(`runFileOp() writes ${name} as the overlay does`, async () => {
    await withFixture(async (fixture) => {
      const { direct, overlay } = await runBothWays(fixture, actions);

      assertEquals(direct, overlay);
    });
  });
}

Deno.test("runFileOp() keeps the base's times on directories it copies up", async () => {
  await withFixture(async (fixture) => {
    const { directDir, overlayDir } = await runBothWays(fixture, [mkdir("/home/app/work")]);

    assertEquals(await mtimeOf(directDir, "home"), OLD_TIME.getTime());
    assertEquals(await mtimeOf(overlayDir, "home"), OLD_TIME.getTime());
    assert((await mtimeOf(directDir, "home/app"))! > OLD_TIME.getTime(), "home/app got an entry");
  });
});

Deno.test("runFileOp() leaves no copy of an unchanged directory", async () => {
  await withFixture(async (fixture) => {
    const { direct } = await runBothWays(fixture, [mkdir("/etc")]);

    assertEquals(direct, {});
  });
});

const DECLINED_CASES: Array<{ name: string; actions: FileAction[] }> = [
  { name: "a path through a symlink", actions: [mkdir("/link/x")] },
  { name: "a path through a symlink that climbs out", actions: [mkdir("/escape/x")] },
  { name: "a file the base has", actions: [mkfile("/etc/passwd", "x")] },
  { name: "a path with .. after a symlink", actions: [mkdir("/deep/../made-here")] },
  { name: "a copy onto a file the base has", actions: [copy("/message.txt", "/etc/passwd")] },
  {
    name: "a copy of contents the base has",
    actions: [copy("/etc-files", "/etc", { dirContentsOnly: true })],
  },
  {
    name: "an owner given by name",
    actions: [mkfile("/new", "x", { user: "root", group: "app" })],
  },
  { name: "an archive to unpack", actions: [copy("/message.txt", "/x/", { attemptUnpack: true })] },
  {
    name: "a removal",
    actions: [
      create(FileActionSchema, {
        action: { case: "rm", value: create(FileActionRmSchema, { path: "/etc/passwd" }) },
      }),
    ],
  },
];

for (const { name, actions } of DECLINED_CASES) {
  Deno.test(`runDirectFileOp() declines ${name}`, async () => {
    await withFixture(async (fixture) => {
      const inputs = [fixture.base, fixture.local];
      const sourceRoot = sourceRootOf(fixture);
      const before = await Array.fromAsync(Deno.readDir(fixture.store.temporaryDir));

      const id = await runDirectFileOp(fileOp(...actions), inputs, fixture.context, sourceRoot);

      assertEquals(id, undefined);
      assertEquals(await Array.fromAsync(Deno.readDir(fixture.store.temporaryDir)), before);
    });
  });
}

Deno.test("runFileOp() applies .. after following a symlink", async () => {
  await withFixture(async (fixture) => {
    const inputs = [fixture.base, fixture.local];

    const id = await runFileOp(fileOp(mkdir("/deep/../made-here")), inputs, fixture.context);

    // "/deep" is "/var/lib", so ".." leads to "/var", not to the root.
    const diff = await describeTree(fixture.store.snapshots.diffDir(id!), { times: false });
    assertEquals(Object.keys(diff).sort(), ["var", "var/made-here"]);
  });
});

Deno.test("runFileOp() resolves a symlink that climbs out inside the root", async () => {
  await withFixture(async (fixture) => {
    const inputs = [fixture.base, fixture.local];

    const id = await runFileOp(fileOp(mkdir("/escape/made-here")), inputs, fixture.context);

    const diff = await describeTree(fixture.store.snapshots.diffDir(id!), { times: false });
    assertEquals(diff["etc/made-here"], "dir 755 0:0");
    assertEquals(Object.keys(diff).sort(), ["etc", "etc/made-here"]);
  });
});
