import { join } from "../../../core/deps.ts";
import { InvalidInputError } from "../../../core/errors.ts";
import { MAX_LOWER_LAYERS, MAX_MOUNT_DATA } from "../../../core/exec/overlay.ts";
import { prepareRootfs, SNAPSHOTTER_ENV } from "../../../core/exec/rootfs.ts";
import { assert, assertEquals, assertRejects } from "../../_assert.ts";
import { describeTree } from "../snapshot/_tree.ts";
import { mountsUnder } from "./_busybox.ts";

/** Gives `fn` a temporary directory with an empty `upper`, and checks that nothing is left mounted in it. */
async function withDir(fn: (dir: string, upper: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "tsbuild-rootfs-test-" });
  const upper = join(dir, "upper");
  await Deno.mkdir(upper);
  try {
    await fn(dir, upper);
    assertEquals(await mountsUnder(dir), [], "no mount may be left behind");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Creates `count` lower layers under `parent`, layer i holding the file "layer-i" and "top" saying "i". */
async function createLayers(
  parent: string,
  count: number,
  namePrefix = "layer-",
): Promise<string[]> {
  const layers: string[] = [];
  for (let index = 0; index < count; index++) {
    const layer = join(parent, `${namePrefix}${index}`);
    await Deno.mkdir(layer);
    await Deno.writeTextFile(join(layer, `layer-${index}`), String(index));
    await Deno.writeTextFile(join(layer, "top"), String(index));
    layers.push(layer);
  }
  return layers;
}

async function listNames(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  return names.sort();
}

for (const strategy of ["overlay", "copy"] as const) {
  Deno.test(`prepareRootfs() merges layers and commits changes (${strategy})`, async () => {
    await withDir(async (dir, upper) => {
      const lowers = await createLayers(dir, 3);

      const rootfs = await prepareRootfs(lowers, upper, { snapshotter: strategy });
      try {
        assertEquals(rootfs.strategy, strategy);
        assertEquals(await Deno.readTextFile(join(rootfs.path, "top")), "2");
        assertEquals(await Deno.readTextFile(join(rootfs.path, "layer-0")), "0");
        await Deno.writeTextFile(join(rootfs.path, "new"), "written");
        await Deno.remove(join(rootfs.path, "layer-1"));
        await rootfs.commit();
      } finally {
        await rootfs.release();
      }

      const tree = await describeTree(upper, { times: false });
      assertEquals(tree, { "layer-1": "whiteout", "new": 'file 644 0:0 "written"' });
      assertEquals(await listNames(dir), ["layer-0", "layer-1", "layer-2", "upper"]);
    });
  });

  Deno.test(`prepareRootfs() accepts an empty chain (${strategy})`, async () => {
    await withDir(async (_dir, upper) => {
      await using rootfs = await prepareRootfs([], upper, { snapshotter: strategy });
      await Deno.writeTextFile(join(rootfs.path, "only"), "one");
      await rootfs.commit();

      assertEquals(await listNames(upper), ["only"]);
    });
  });

  Deno.test(`prepareRootfs() release without commit removes everything (${strategy})`, async () => {
    await withDir(async (dir, upper) => {
      const lowers = await createLayers(dir, 1);

      const rootfs = await prepareRootfs(lowers, upper, { snapshotter: strategy });
      await rootfs.release();
      await rootfs.release();

      assertEquals(await listNames(dir), ["layer-0", "upper"]);
    });
  });
}

Deno.test("prepareRootfs() uses the copy strategy when TSBUILD_SNAPSHOTTER=copy", async () => {
  await withDir(async (_dir, upper) => {
    const previous = Deno.env.get(SNAPSHOTTER_ENV);
    Deno.env.set(SNAPSHOTTER_ENV, "copy");
    try {
      await using rootfs = await prepareRootfs([], upper);
      assertEquals(rootfs.strategy, "copy");
    } finally {
      if (previous === undefined) Deno.env.delete(SNAPSHOTTER_ENV);
      else Deno.env.set(SNAPSHOTTER_ENV, previous);
    }
  });
});

Deno.test("prepareRootfs() picks overlay where the kernel allows it", async () => {
  await withDir(async (_dir, upper) => {
    await using rootfs = await prepareRootfs([], upper, { snapshotter: "auto" });
    assertEquals(rootfs.strategy, "overlay");
  });
});

Deno.test("prepareRootfs() rejects an unknown TSBUILD_SNAPSHOTTER", async () => {
  const previous = Deno.env.get(SNAPSHOTTER_ENV);
  Deno.env.set(SNAPSHOTTER_ENV, "zfs");
  try {
    const error = await assertRejects(
      () => prepareRootfs([], "/nonexistent/upper"),
      InvalidInputError,
    );
    assertEquals(
      error.message,
      'Invalid TSBUILD_SNAPSHOTTER "zfs": expected "auto", "overlay" or "copy"',
    );
  } finally {
    if (previous === undefined) Deno.env.delete(SNAPSHOTTER_ENV);
    else Deno.env.set(SNAPSHOTTER_ENV, previous);
  }
});

Deno.test("prepareRootfs() mounts more layers than fit in the mount options", async () => {
  await withDir(async (dir, upper) => {
    const longPrefix = `layer-with-a-long-name-${"x".repeat(40)}-`;
    const lowers = await createLayers(dir, 120, longPrefix);
    assert(
      lowers.join(":").length > MAX_MOUNT_DATA,
      "the test needs lower paths longer than a page",
    );

    await using rootfs = await prepareRootfs(lowers, upper, { snapshotter: "overlay" });

    assertEquals(rootfs.strategy, "overlay");
    assertEquals(await Deno.readTextFile(join(rootfs.path, "top")), "119");
    assertEquals(await Deno.readTextFile(join(rootfs.path, "layer-0")), "0");
  });
});

Deno.test("prepareRootfs() falls back to copying beyond overlayfs's layer limit", async () => {
  await withDir(async (dir, upper) => {
    const lowers = await createLayers(dir, MAX_LOWER_LAYERS + 1);

    await assertRejects(
      () => prepareRootfs(lowers, upper, { snapshotter: "overlay" }),
      Error,
      "501 layers",
    );
    await using rootfs = await prepareRootfs(lowers, upper, { snapshotter: "auto" });

    assertEquals(rootfs.strategy, "copy");
    assertEquals(await Deno.readTextFile(join(rootfs.path, "top")), String(MAX_LOWER_LAYERS));
  });
});

Deno.test("prepareRootfs() mounts a volatile overlay, which skips the flush at unmount", async () => {
  await withDir(async (dir, upper) => {
    const lowers = await createLayers(dir, 1);

    await using rootfs = await prepareRootfs(lowers, upper, { snapshotter: "overlay" });

    const [line] = await mountsUnder(rootfs.path);
    const superOptions = line.split(" - ")[1].split(" ")[2].split(",");
    // Linux 6.x lists the option as "fsync=volatile"; 5.10 to 5.x list "volatile".
    const volatile = superOptions.some((option) => /^(fsync=)?volatile$/.test(option));
    assert(volatile, `mounted with ${superOptions.join(",")}`);
  });
});

Deno.test("prepareRootfs() reports a failed mount instead of copying", async () => {
  await withDir(async (dir, upper) => {
    await assertRejects(
      () => prepareRootfs([join(dir, "missing")], upper, { snapshotter: "auto" }),
      Error,
      "Failed to mount overlay",
    );
    assertEquals(await listNames(dir), ["upper"]);
  });
});
