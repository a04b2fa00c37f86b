import { join } from "../../../core/deps.ts";
import { recordMountStubs } from "../../../core/exec/mount_stubs.ts";
import { assertEquals } from "../../_assert.ts";
import { describeTree } from "../snapshot/_tree.ts";

async function withRootfs(fn: (rootfs: string) => Promise<void>): Promise<void> {
  const rootfs = await Deno.makeTempDir({ prefix: "tsbuild-stubs-test-" });
  try {
    await fn(rootfs);
  } finally {
    await Deno.remove(rootfs, { recursive: true });
  }
}

Deno.test("recordMountStubs() removes the mount points a runtime created", async () => {
  await withRootfs(async (rootfs) => {
    await Deno.mkdir(join(rootfs, "etc"));
    await Deno.mkdir(join(rootfs, "existing"));
    const time = new Date(1_500_000_000_000);
    await Deno.utime(join(rootfs, "etc"), time, time);
    await Deno.utime(rootfs, time, time);
    const before = await describeTree(rootfs);

    const stubs = recordMountStubs(rootfs, [
      "/etc/hosts",
      "/proc",
      "/dev",
      "/dev/pts",
      "/existing",
    ]);
    // What runc does before starting the process:
    await Deno.writeTextFile(join(rootfs, "etc/hosts"), "");
    await Deno.mkdir(join(rootfs, "proc"));
    await Deno.mkdir(join(rootfs, "dev/pts"), { recursive: true });
    stubs.remove();

    assertEquals(await describeTree(rootfs), before);
    assertEquals((await Deno.lstat(rootfs)).mtime?.getTime(), time.getTime());
  });
});

Deno.test("recordMountStubs() keeps a mount point the process wrote into", async () => {
  await withRootfs(async (rootfs) => {
    const stubs = recordMountStubs(rootfs, ["/run/secrets/token", "/data"]);
    await Deno.mkdir(join(rootfs, "run/secrets"), { recursive: true });
    await Deno.writeTextFile(join(rootfs, "run/secrets/token"), "");
    await Deno.writeTextFile(join(rootfs, "run/pid"), "1");
    await Deno.mkdir(join(rootfs, "data"));
    await Deno.writeTextFile(join(rootfs, "data/file"), "kept");
    stubs.remove();

    assertEquals(Object.keys(await describeTree(rootfs, { times: false })), [
      "data",
      "data/file",
      "run",
      "run/pid",
    ]);
  });
});

Deno.test("recordMountStubs() follows symlinks inside the root file system", async () => {
  await withRootfs(async (rootfs) => {
    await Deno.mkdir(join(rootfs, "real"));
    await Deno.symlink("/real", join(rootfs, "link"));

    const stubs = recordMountStubs(rootfs, ["/link/mnt"]);
    await Deno.mkdir(join(rootfs, "real/mnt"));
    stubs.remove();

    assertEquals(Object.keys(await describeTree(rootfs, { times: false })), ["link", "real"]);
  });
});
