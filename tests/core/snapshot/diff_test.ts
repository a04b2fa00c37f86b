import { join } from "../../../core/deps.ts";
import { removeUnchangedDirectories, writeDiff } from "../../../core/snapshot/diff.ts";
import { materialize } from "../../../core/snapshot/materialize.ts";
import { markOpaque } from "../../../core/snapshot/whiteout.ts";
import { assert, assertEquals } from "../../_assert.ts";
import { describeTree, whiteout, writeFile } from "./_tree.ts";

interface Chain {
  base: string;
  middle: string;
  result: string;
  upper: string;
  check: string;
}

/** Builds two lower layers, materializes them into `result` and hands the paths to `fn`. */
async function withChain(fn: (chain: Chain) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "tsbuild-diff-test-" });
  try {
    const chain: Chain = {
      base: join(dir, "base"),
      middle: join(dir, "middle"),
      result: join(dir, "result"),
      upper: join(dir, "upper"),
      check: join(dir, "check"),
    };
    for (const path of Object.values(chain)) await Deno.mkdir(path);

    await writeFile(chain.base, "etc/passwd", "root:x:0:0::/root:/bin/sh\n");
    await writeFile(chain.base, "etc/hosts", "127.0.0.1 localhost\n");
    await writeFile(chain.base, "var/cache/a", "a");
    await writeFile(chain.base, "var/cache/b", "b");
    await writeFile(chain.base, "usr/lib/lib.so", "library");
    await writeFile(chain.base, "old/file", "old");
    await Deno.symlink("lib.so", join(chain.base, "usr/lib/lib.so.1"));
    await writeFile(chain.middle, "usr/lib/extra", "extra");
    await whiteout(chain.middle, "old");
    for (const layer of [chain.base, chain.middle]) {
      await setTimes(layer, new Date(1_600_000_000_000));
    }

    await materialize([chain.base, chain.middle], chain.result);
    await fn(chain);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Sets the times of every entry under `root` to `time`, so a change in the result is visible. */
async function setTimes(root: string, time: Date): Promise<void> {
  for await (const entry of Deno.readDir(root)) {
    const path = join(root, entry.name);
    if (entry.isDirectory) await setTimes(path, time);
    if (!entry.isSymlink) await Deno.utime(path, time, time);
  }
  await Deno.utime(root, time, time);
}

/** Asserts that mounting the diff over the lower chain gives back the result tree. */
async function assertRoundTrip(chain: Chain): Promise<void> {
  await materialize([chain.base, chain.middle, chain.upper], chain.check);
  assertEquals(await describeTree(chain.check), await describeTree(chain.result));
}

Deno.test("writeDiff() of an unchanged tree is empty", async () => {
  await withChain(async (chain) => {
    await writeDiff([chain.base, chain.middle], chain.result, chain.upper);

    assertEquals(await describeTree(chain.upper), {});
  });
});

Deno.test("writeDiff() records new, changed and deleted files", async () => {
  await withChain(async (chain) => {
    await writeFile(chain.result, "out.txt", "hi\n");
    await Deno.writeTextFile(join(chain.result, "etc/hosts"), "127.0.0.1 localhost changed\n");
    await Deno.remove(join(chain.result, "etc/passwd"));
    await Deno.remove(join(chain.result, "usr/lib/extra"));

    await writeDiff([chain.base, chain.middle], chain.result, chain.upper);

    const tree = await describeTree(chain.upper, { times: false });
    assertEquals(tree["out.txt"], 'file 644 0:0 "hi\\n"');
    assertEquals(tree["etc/hosts"], 'file 644 0:0 "127.0.0.1 localhost changed\\n"');
    assertEquals(tree["etc/passwd"], "whiteout");
    assertEquals(tree["usr/lib/extra"], "whiteout");
    assertEquals(Object.keys(tree), [
      "etc",
      "etc/hosts",
      "etc/passwd",
      "out.txt",
      "usr",
      "usr/lib",
      "usr/lib/extra",
    ]);
    await assertRoundTrip(chain);
  });
});

Deno.test("writeDiff() records mode, owner and symlink changes", async () => {
  await withChain(async (chain) => {
    await Deno.chmod(join(chain.result, "usr/lib/lib.so"), 0o600);
    await Deno.chown(join(chain.result, "etc/hosts"), 1000, 1000);
    await Deno.remove(join(chain.result, "usr/lib/lib.so.1"));
    await Deno.symlink("extra", join(chain.result, "usr/lib/lib.so.1"));

    await writeDiff([chain.base, chain.middle], chain.result, chain.upper);

    const tree = await describeTree(chain.upper, { times: false });
    assertEquals(tree["usr/lib/lib.so"], 'file 600 0:0 "library"');
    assertEquals(tree["etc/hosts"], 'file 644 1000:1000 "127.0.0.1 localhost\\n"');
    assertEquals(tree["usr/lib/lib.so.1"], "symlink 777 0:0 -> extra");
    await assertRoundTrip(chain);
  });
});

Deno.test("writeDiff() makes a directory with no lower entry left opaque", async () => {
  await withChain(async (chain) => {
    await Deno.remove(join(chain.result, "var/cache"), { recursive: true });
    await writeFile(chain.result, "var/cache/fresh", "fresh");

    await writeDiff([chain.base, chain.middle], chain.result, chain.upper);

    const tree = await describeTree(chain.upper, { times: false });
    assertEquals(tree["var/cache"], "dir 755 0:0 opaque");
    assertEquals(tree["var/cache/fresh"], 'file 644 0:0 "fresh"');
    assertEquals(tree["var/cache/a"], undefined);
    await assertRoundTrip(chain);
  });
});

Deno.test("writeDiff() replaces a file with a directory and back", async () => {
  await withChain(async (chain) => {
    await Deno.remove(join(chain.result, "etc/hosts"));
    await writeFile(chain.result, "etc/hosts/inside", "inside");
    await Deno.remove(join(chain.result, "usr/lib"), { recursive: true });
    await writeFile(chain.result, "usr/lib", "now a file");

    await writeDiff([chain.base, chain.middle], chain.result, chain.upper);

    const tree = await describeTree(chain.upper, { times: false });
    assertEquals(tree["etc/hosts"], "dir 755 0:0 opaque");
    assertEquals(tree["usr/lib"], 'file 644 0:0 "now a file"');
    await assertRoundTrip(chain);
  });
});

Deno.test("writeDiff() recreates a path a lower layer deleted", async () => {
  await withChain(async (chain) => {
    await writeFile(chain.result, "old/file", "back again");

    await writeDiff([chain.base, chain.middle], chain.result, chain.upper);

    assertEquals(await Deno.readTextFile(join(chain.upper, "old/file")), "back again");
    await assertRoundTrip(chain);
  });
});

Deno.test("writeDiff() keeps hard links between new files", async () => {
  await withChain(async (chain) => {
    await writeFile(chain.result, "bin/one", "tool");
    await Deno.link(join(chain.result, "bin/one"), join(chain.result, "bin/two"));

    await writeDiff([chain.base, chain.middle], chain.result, chain.upper);

    const one = await Deno.lstat(join(chain.upper, "bin/one"));
    const two = await Deno.lstat(join(chain.upper, "bin/two"));
    assertEquals(one.ino, two.ino);
    await assertRoundTrip(chain);
  });
});

Deno.test("writeDiff() with no lower layers copies the whole tree", async () => {
  await withChain(async (chain) => {
    await writeDiff([], chain.result, chain.upper);

    assertEquals(await describeTree(chain.upper), await describeTree(chain.result));
  });
});

Deno.test("removeUnchangedDirectories() removes only empty unchanged directories", async () => {
  await withChain(async (chain) => {
    const lowers = [chain.base, chain.middle];
    const lowerVar = await Deno.lstat(join(chain.base, "var"));
    const lowerCache = await Deno.lstat(join(chain.base, "var/cache"));
    await Deno.mkdir(join(chain.upper, "var/cache"), { recursive: true });
    await Deno.utime(join(chain.upper, "var/cache"), lowerCache.atime!, lowerCache.mtime!);
    await Deno.utime(join(chain.upper, "var"), lowerVar.atime!, lowerVar.mtime!);
    await Deno.mkdir(join(chain.upper, "etc"));
    await Deno.chmod(join(chain.upper, "etc"), 0o700);
    await Deno.mkdir(join(chain.upper, "usr"));
    markOpaque(join(chain.upper, "usr"));
    await Deno.mkdir(join(chain.upper, "new"));

    await removeUnchangedDirectories(lowers, chain.upper);

    const tree = await describeTree(chain.upper, { times: false });
    assertEquals(Object.keys(tree), ["etc", "new", "usr"]);
    assert(tree["usr"].includes("opaque"));
  });
});

Deno.test("writeDiff() output mounts as an overlay upper layer", async () => {
  await withChain(async (chain) => {
    await writeFile(chain.result, "out.txt", "hi\n");
    await Deno.remove(join(chain.result, "etc/passwd"));
    await Deno.remove(join(chain.result, "var/cache"), { recursive: true });
    await writeFile(chain.result, "var/cache/fresh", "fresh");
    await Deno.remove(join(chain.result, "usr/lib"), { recursive: true });
    await writeFile(chain.result, "usr/lib", "now a file");
    await writeDiff([chain.base, chain.middle], chain.result, chain.upper);

    // The kernel reads the diff here, with upperDir as the top-most read-only layer.
    const lowerdir = [chain.upper, chain.middle, chain.base].join(":");
    const mount = await new Deno.Command("mount", {
      args: ["-t", "overlay", "overlay", "-o", `lowerdir=${lowerdir}`, chain.check],
    }).output();
    assert(mount.success, new TextDecoder().decode(mount.stderr));
    try {
      assertEquals(await describeTree(chain.check), await describeTree(chain.result));
    } finally {
      await new Deno.Command("umount", { args: [chain.check] }).output();
    }
  });
});
