import { join } from "../../../core/deps.ts";
import { mkdirInRoot, resolveInRoot } from "../../../core/exec/_root_path.ts";
import { assertEquals, assertThrows } from "../../_assert.ts";

async function withRootfs(fn: (rootfs: string) => Promise<void>): Promise<void> {
  const rootfs = await Deno.makeTempDir({ prefix: "tsbuild-root-path-test-" });
  try {
    await fn(rootfs);
  } finally {
    await Deno.remove(rootfs, { recursive: true });
  }
}

Deno.test("resolveInRoot() keeps symlinks and .. inside the root", async () => {
  await withRootfs(async (rootfs) => {
    await Deno.mkdir(join(rootfs, "usr/lib"), { recursive: true });
    await Deno.symlink("/usr/lib", join(rootfs, "lib"));
    await Deno.symlink("../../../../../../etc", join(rootfs, "usr/escape"));
    await Deno.symlink("/", join(rootfs, "usr/lib/root"));

    assertEquals(resolveInRoot(rootfs, "/lib/x"), join(rootfs, "usr/lib/x"));
    assertEquals(resolveInRoot(rootfs, "/usr/escape/passwd"), join(rootfs, "etc/passwd"));
    assertEquals(resolveInRoot(rootfs, "/../../etc"), join(rootfs, "etc"));
    assertEquals(resolveInRoot(rootfs, "/lib/root/lib/root/usr"), join(rootfs, "usr"));
    assertEquals(resolveInRoot(rootfs, "/missing/./a/../b"), join(rootfs, "missing/b"));
  });
});

Deno.test("resolveInRoot() rejects a symlink loop", async () => {
  await withRootfs(async (rootfs) => {
    await Deno.symlink("/b", join(rootfs, "a"));
    await Deno.symlink("/a", join(rootfs, "b"));

    assertThrows(
      () => resolveInRoot(rootfs, "/a/file"),
      Error,
      "too many levels of symbolic links",
    );
  });
});

Deno.test("mkdirInRoot() creates missing directories with the given owner", async () => {
  await withRootfs(async (rootfs) => {
    await Deno.mkdir(join(rootfs, "srv"));
    await Deno.symlink("/srv", join(rootfs, "app"));

    const path = mkdirInRoot(rootfs, "/app/build/out", 1000, 1001);

    assertEquals(path, join(rootfs, "srv/build/out"));
    for (const created of ["srv/build", "srv/build/out"]) {
      const info = await Deno.lstat(join(rootfs, created));
      assertEquals([info.uid, info.gid, info.mode! & 0o7777], [1000, 1001, 0o755]);
    }
    assertEquals((await Deno.lstat(join(rootfs, "srv"))).uid, 0);
  });
});

Deno.test("mkdirInRoot() rejects a file in the way", async () => {
  await withRootfs(async (rootfs) => {
    await Deno.writeTextFile(join(rootfs, "file"), "");

    assertThrows(
      () => mkdirInRoot(rootfs, "/file/dir", 0, 0),
      Error,
      'Failed to create directory "/file/dir": "/file" is not a directory',
    );
  });
});
