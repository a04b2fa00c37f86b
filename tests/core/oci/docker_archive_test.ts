import { digestHex } from "../../../core/digest.ts";
import {
  createDockerManifest,
  createDockerRepositories,
  dockerArchiveEntries,
  familiarName,
  writeDockerArchive,
} from "../../../core/oci/docker_archive.ts";
import { blobPath, parseImageNames } from "../../../core/oci/image_layout.ts";
import type { ImageArtifact } from "../../../core/plugin/types.ts";
import { BlobStore } from "../../../core/store/blobs.ts";
import { assertEquals } from "../../_assert.ts";
import { run, storeTestImage } from "./_test_image.ts";

async function withDockerImage(
  fn: (dir: string, blobs: BlobStore, image: ImageArtifact) => Promise<void>,
) {
  const dir = await Deno.makeTempDir({ prefix: "tsbuild-docker-archive-test-" });
  try {
    const blobs = new BlobStore(`${dir}/store`);
    await fn(dir, blobs, await storeTestImage(blobs, { dockerMediaTypes: true }));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("familiarName() formats names as Docker shows them", () => {
  const cases: [string, string][] = [
    ["busybox", "busybox:latest"],
    ["busybox:1.36", "busybox:1.36"],
    ["docker.io/library/busybox:latest", "busybox:latest"],
    ["index.docker.io/library/busybox", "busybox:latest"],
    ["docker.io/foo/bar", "foo/bar:latest"],
    ["docker.io/library/a/b:2", "library/a/b:2"],
    ["127.0.0.1:5000/app", "127.0.0.1:5000/app:latest"],
    ["ghcr.io/org/app:v1", "ghcr.io/org/app:v1"],
    ["localhost/app:dev", "localhost/app:dev"],
  ];
  for (const [name, expected] of cases) {
    assertEquals(familiarName(parseImageNames([name])[0]), expected, name);
  }
});

Deno.test("createDockerManifest() names the config and every layer by blob path", async () => {
  await withDockerImage((_dir, _blobs, image) => {
    const manifest = createDockerManifest(image, parseImageNames(["busybox", "example.com/app:1"]));
    assertEquals(manifest, [{
      Config: blobPath(image.config.digest),
      RepoTags: ["busybox:latest", "example.com/app:1"],
      Layers: image.layers.map((layer) => blobPath(layer.digest)),
    }]);
    return Promise.resolve();
  });
});

Deno.test("createDockerRepositories() maps each tag to the top layer", async () => {
  await withDockerImage((_dir, _blobs, image) => {
    const top = digestHex(image.layers[1].digest);
    assertEquals(
      createDockerRepositories(image, parseImageNames(["busybox:1", "busybox:2", "foo/bar"])),
      {
        busybox: { "1": top, "2": top },
        "foo/bar": { latest: top },
      },
    );
    assertEquals(createDockerRepositories(image, []), undefined);
    assertEquals(
      createDockerRepositories({ ...image, layers: [] }, parseImageNames(["busybox"])),
      undefined,
    );
    return Promise.resolve();
  });
});

Deno.test("dockerArchiveEntries() adds manifest.json and repositories to the OCI layout", async () => {
  await withDockerImage((_dir, _blobs, image) => {
    const paths = dockerArchiveEntries(image, parseImageNames(["busybox"])).map((entry) =>
      entry.path
    );
    assertEquals(paths.slice(0, 3), ["oci-layout", "blobs/", "blobs/sha256/"]);
    assertEquals(paths.slice(-3), ["index.json", "manifest.json", "repositories"]);
    const unnamed = dockerArchiveEntries(image, []).map((entry) => entry.path);
    assertEquals(unnamed.at(-1), "manifest.json");
    return Promise.resolve();
  });
});

Deno.test("writeDockerArchive() writes an archive skopeo reads", async () => {
  await withDockerImage(async (dir, blobs, image) => {
    const path = `${dir}/docker.tar`;
    const file = await Deno.open(path, { write: true, createNew: true });
    await writeDockerArchive(file.writable, image, (digest) => blobs.open(digest), {
      names: ["busybox:1"],
    });

    const diffIds = JSON.parse(new TextDecoder().decode(image.configBytes)).rootfs.diff_ids;
    const inspected = JSON.parse(
      await run("skopeo", ["inspect", `docker-archive:${path}:busybox:1`]),
    );
    assertEquals(inspected.Name, "docker.io/library/busybox");
    assertEquals(inspected.Architecture, "amd64");
    assertEquals(inspected.Layers, diffIds);
    const config = JSON.parse(
      await run("skopeo", ["inspect", "--config", `docker-archive:${path}`]),
    );
    assertEquals(config.rootfs.diff_ids, diffIds);
  });
});
