import { createHash } from "../../../core/deps.ts";
import { type Digest, digestHex } from "../../../core/digest.ts";
import { DigestMismatchError, InvalidInputError } from "../../../core/errors.ts";
import {
  ANNOTATION_IMAGE_NAME,
  ANNOTATION_REF_NAME,
  blobPath,
  createImageIndex,
  imageLayoutEntries,
  parseImageNames,
  writeImageLayoutArchive,
  writeImageLayoutDirectory,
  writeLayoutArchive,
} from "../../../core/oci/image_layout.ts";
import { OCI_INDEX, OCI_MANIFEST } from "../../../core/oci/media_types.ts";
import type { ImageArtifact } from "../../../core/plugin/types.ts";
import { BlobStore } from "../../../core/store/blobs.ts";
import { assert, assertEquals, assertRejects, assertThrows } from "../../_assert.ts";
import { listDir, run, storeTestImage } from "./_test_image.ts";

interface Fixture {
  dir: string;
  blobs: BlobStore;
  image: ImageArtifact;
}

async function withImage(fn: (fixture: Fixture) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "tsbuild-image-layout-test-" });
  try {
    const blobs = new BlobStore(`${dir}/store`);
    await fn({ dir, blobs, image: await storeTestImage(blobs) });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function writeArchiveFile(
  path: string,
  write: (writable: WritableStream<Uint8Array>) => Promise<void>,
) {
  const file = await Deno.open(path, { write: true, createNew: true });
  await write(file.writable);
}

async function sha256File(path: string): Promise<string> {
  return createHash("sha256").update(await Deno.readFile(path)).digest("hex");
}

Deno.test("parseImageNames() normalizes and drops duplicates", () => {
  const references = parseImageNames([
    "busybox",
    "docker.io/library/busybox:latest",
    "127.0.0.1:5000/app:1",
  ]);
  assertEquals(references, [
    { registry: "docker.io", repository: "library/busybox", tag: "latest" },
    { registry: "127.0.0.1:5000", repository: "app", tag: "1" },
  ]);
});

Deno.test("parseImageNames() rejects a name with a digest", () => {
  const name = `app@sha256:${"a".repeat(64)}`;
  const error = assertThrows(() => parseImageNames([name]), InvalidInputError);
  assertEquals(
    error.message,
    `Invalid image name "${name}": an exported image is named by a tag, not a digest`,
  );
});

Deno.test("parseImageNames() rejects an invalid name", () => {
  assertThrows(
    () => parseImageNames(["Upper/Case"]),
    InvalidInputError,
    `Invalid image reference "Upper/Case"`,
  );
});

Deno.test("createImageIndex() annotates one entry per name", () => {
  const manifest = {
    mediaType: OCI_MANIFEST,
    digest: `sha256:${"b".repeat(64)}` as Digest,
    size: 42,
  };
  const index = createImageIndex(manifest, parseImageNames(["busybox", "127.0.0.1:5000/app:1"]));
  assertEquals(index, {
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests: [
      {
        ...manifest,
        annotations: {
          [ANNOTATION_IMAGE_NAME]: "docker.io/library/busybox:latest",
          [ANNOTATION_REF_NAME]: "latest",
        },
      },
      {
        ...manifest,
        annotations: {
          [ANNOTATION_IMAGE_NAME]: "127.0.0.1:5000/app:1",
          [ANNOTATION_REF_NAME]: "1",
        },
      },
    ],
  });
});

Deno.test("createImageIndex() writes one plain entry without names", () => {
  const manifest = {
    mediaType: OCI_MANIFEST,
    digest: `sha256:${"b".repeat(64)}` as Digest,
    size: 42,
    platform: { os: "linux", architecture: "arm64" },
  };
  assertEquals(createImageIndex(manifest, []).manifests, [manifest]);
});

Deno.test("imageLayoutEntries() writes each layer once and index.json last", async () => {
  await withImage(({ image }) => {
    const twice = { ...image, layers: [image.layers[0], image.layers[1], image.layers[0]] };
    const paths = imageLayoutEntries(twice, []).map((entry) => entry.path);
    assertEquals(paths, [
      "oci-layout",
      "blobs/",
      "blobs/sha256/",
      blobPath(image.layers[0].digest),
      blobPath(image.layers[1].digest),
      blobPath(image.config.digest),
      blobPath(image.manifest.digest),
      "index.json",
    ]);
    return Promise.resolve();
  });
});

Deno.test("imageLayoutEntries() rejects config bytes that do not match the descriptor", async () => {
  await withImage(({ image }) => {
    const broken = { ...image, configBytes: new TextEncoder().encode("{}") };
    assertThrows(
      () => imageLayoutEntries(broken, []),
      DigestMismatchError,
      `Failed to export blob "${image.config.digest}"`,
    );
    return Promise.resolve();
  });
});

Deno.test("writeImageLayoutArchive() writes a layout skopeo reads", async () => {
  await withImage(async ({ dir, blobs, image }) => {
    const path = `${dir}/image.tar`;
    const progress: string[] = [];
    await writeArchiveFile(
      path,
      (writable) =>
        writeImageLayoutArchive(writable, image, (digest) => blobs.open(digest), {
          names: ["example.com/app:v1"],
          onProgress: (written, total) => progress.push(`${written}/${total}`),
        }),
    );

    const inspected = JSON.parse(await run("skopeo", ["inspect", `oci-archive:${path}`]));
    assertEquals(inspected.Digest, image.manifest.digest);
    assertEquals(inspected.Layers, image.layers.map((layer) => layer.digest));
    assertEquals(inspected.Architecture, "amd64");
    const byTag = JSON.parse(await run("skopeo", ["inspect", "--raw", `oci-archive:${path}:v1`]));
    assertEquals(byTag.config.digest, image.config.digest);
    assertEquals(progress.at(-1)?.split("/")[0], progress.at(-1)?.split("/")[1]);
  });
});

Deno.test("writeImageLayoutArchive() writes blobs whose names match their content", async () => {
  await withImage(async ({ dir, blobs, image }) => {
    const path = `${dir}/image.tar`;
    await writeArchiveFile(
      path,
      (writable) => writeImageLayoutArchive(writable, image, (digest) => blobs.open(digest)),
    );
    await Deno.mkdir(`${dir}/x`);
    await run("tar", ["-xf", path, "-C", `${dir}/x`]);

    const blobNames = await listDir(`${dir}/x/blobs/sha256`);
    assertEquals(blobNames.length, 4);
    for (const name of blobNames) {
      assertEquals(await sha256File(`${dir}/x/blobs/sha256/${name}`), name);
    }
    assertEquals(JSON.parse(await Deno.readTextFile(`${dir}/x/oci-layout`)), {
      imageLayoutVersion: "1.0.0",
    });
  });
});

Deno.test("writeLayoutArchive() rejects a corrupted blob and aborts the output", async () => {
  await withImage(async ({ blobs, image }) => {
    const layer = image.layers[0];
    await Deno.chmod(blobs.path(layer.digest), 0o644);
    const corrupted = await Deno.readFile(blobs.path(layer.digest));
    corrupted[corrupted.length - 1] ^= 0xff;
    await Deno.writeFile(blobs.path(layer.digest), corrupted);

    let aborted = false;
    const writable = new WritableStream<Uint8Array>({ abort: () => void (aborted = true) });
    const error = await assertRejects(
      () =>
        writeLayoutArchive(writable, imageLayoutEntries(image, []), (digest) => blobs.open(digest)),
      DigestMismatchError,
    );
    assert(
      error.message.startsWith(
        `Failed to export blob "${layer.digest}": the stored content has digest`,
      ),
    );
    assert(aborted, "the output was aborted");
  });
});

Deno.test("writeLayoutArchive() rejects a blob longer than its descriptor", async () => {
  await withImage(async ({ blobs, image }) => {
    const layer = image.layers[0];
    const shortened = { ...image, layers: [{ ...layer, size: layer.size - 1 }] };
    await assertRejects(
      () =>
        writeLayoutArchive(
          new WritableStream(),
          imageLayoutEntries(shortened, []),
          (digest) => blobs.open(digest),
        ),
      DigestMismatchError,
      `Failed to export blob "${layer.digest}": the stored content is longer than the expected ${
        layer.size - 1
      } bytes`,
    );
  });
});

Deno.test("writeImageLayoutDirectory() writes a layout skopeo reads", async () => {
  await withImage(async ({ dir, blobs, image }) => {
    const layout = `${dir}/layout`;
    await writeImageLayoutDirectory(layout, image, (digest) => blobs.open(digest), {
      names: ["app:2"],
    });

    assertEquals(await listDir(layout), ["blobs", "index.json", "oci-layout"]);
    const inspected = JSON.parse(await run("skopeo", ["inspect", `oci:${layout}:2`]));
    assertEquals(inspected.Digest, image.manifest.digest);
    for (const layer of image.layers) {
      assertEquals(
        await sha256File(`${layout}/blobs/sha256/${digestHex(layer.digest)}`),
        digestHex(layer.digest),
      );
    }
  });
});
