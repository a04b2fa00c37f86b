/**
 * Imports the busybox test image into a test containerd with `ctr images import`, so that
 * tests find it in containerd's image store without any registry.
 *
 * @module
 */

import { buildBusyboxImage, type BusyboxImage } from "../../_fixtures/busybox_image.ts";
import type { TestContainerd } from "../../_fixtures/containerd.ts";

/**
 * Imports the busybox image as `<baseName>:1` (e.g. "docker.io/library/busybox:1") into the
 * fixture's namespace and returns what the fixture built.
 */
export async function importBusybox(
  containerd: TestContainerd,
  baseName = "docker.io/library/busybox",
): Promise<BusyboxImage> {
  const dir = await Deno.makeTempDir({ prefix: "tsbuild-busybox-import-" });
  try {
    const image = await buildBusyboxImage(dir);
    const archive = `${dir}.tar`;
    const tar = await new Deno.Command("tar", { args: ["-C", dir, "-cf", archive, "."] }).output();
    if (!tar.success) throw new Error(`tar failed: ${new TextDecoder().decode(tar.stderr)}`);
    try {
      await containerd.ctr(["images", "import", "--base-name", baseName, archive]);
    } finally {
      await Deno.remove(archive);
    }
    return image;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
