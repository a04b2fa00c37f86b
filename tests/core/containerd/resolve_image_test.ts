import { type ContainerdClient, createContainerdClient } from "../../../core/containerd/client.ts";
import {
  findContainerdImage,
  resolveContainerdImage,
} from "../../../core/containerd/resolve_image.ts";
import { type Digest, digestOf } from "../../../core/digest.ts";
import { NotFoundError } from "../../../core/errors.ts";
import { OCI_INDEX, OCI_MANIFEST } from "../../../core/oci/media_types.ts";
import { hostPlatform } from "../../../core/oci/platform.ts";
import { assertEquals, assertRejects } from "../../_assert.ts";
import { hasContainerd, startContainerd, type TestContainerd } from "../../_fixtures/containerd.ts";
import { importBusybox } from "./_busybox_import.ts";

const ignore = !hasContainerd();

async function withImported(
  fn: (
    setup: {
      containerd: TestContainerd;
      client: ContainerdClient;
      busybox: Awaited<ReturnType<typeof importBusybox>>;
    },
  ) => Promise<void>,
): Promise<void> {
  await using containerd = await startContainerd({ namespace: "buildkit" });
  const busybox = await importBusybox(containerd);
  using client = createContainerdClient({ address: containerd.address, namespace: "buildkit" });
  await fn({ containerd, client, busybox });
}

Deno.test({
  name: "resolveContainerdImage() finds an image ctr imported",
  ignore,
  async fn() {
    await withImported(async ({ client, busybox }) => {
      const image = await resolveContainerdImage(client, "busybox:1", hostPlatform());

      assertEquals(image.digest, busybox.manifestDigest);
      assertEquals(image.mediaType, OCI_MANIFEST);
      assertEquals(image.configDigest, busybox.configDigest);
      assertEquals(image.config.rootfs.diff_ids, [busybox.diffId]);
      assertEquals(image.manifestBytes, busybox.manifestBytes);
      assertEquals(image.reference.repository, "library/busybox");
      assertEquals(image.indexDigest, undefined);
    });
  },
});

Deno.test({
  name: "resolveContainerdImage() pins a digest without a record",
  ignore,
  async fn() {
    await withImported(async ({ client, busybox }) => {
      const pinned = `example.com/renamed:2@${busybox.manifestDigest}`;

      const image = await resolveContainerdImage(client, pinned, hostPlatform());

      assertEquals(image.digest, busybox.manifestDigest);
    });
  },
});

Deno.test({
  name: "resolveContainerdImage() chooses the platform from an index",
  ignore,
  async fn() {
    await withImported(async ({ client, busybox }) => {
      const index = await storeIndexImage(client, "example.com/multi:1", {
        digest: busybox.manifestDigest,
        size: busybox.manifestBytes.length,
      });

      const image = await resolveContainerdImage(client, "example.com/multi:1", hostPlatform());
      const error = await assertRejects(
        () =>
          resolveContainerdImage(client, "example.com/multi:1", {
            os: "linux",
            architecture: "s390x",
          }),
        NotFoundError,
      );

      assertEquals(image.digest, busybox.manifestDigest);
      assertEquals(image.indexDigest, index.digest);
      assertEquals(
        error.message,
        `Failed to resolve "example.com/multi:1" in containerd namespace "buildkit": no manifest for platform "linux/s390x" (available: "${hostPlatform().os}/${hostPlatform().architecture}")`,
      );
    });
  },
});

Deno.test({
  name: "resolveContainerdImage() reports an image missing from the namespace",
  ignore,
  async fn() {
    await withImported(async ({ containerd }) => {
      using other = createContainerdClient({ address: containerd.address, namespace: "other" });

      const error = await assertRejects(
        () => resolveContainerdImage(other, "busybox:1", hostPlatform()),
        NotFoundError,
      );

      assertEquals(
        error.message,
        'Failed to resolve "busybox:1" in containerd namespace "other": no image named "docker.io/library/busybox:1"',
      );
      assertEquals(await findContainerdImage(other, "busybox:1", hostPlatform()), undefined);
    });
  },
});

/** Stores an index listing the busybox manifest for the host, named `name`. */
async function storeIndexImage(
  client: ContainerdClient,
  name: string,
  manifest: { digest: Digest; size: number },
): Promise<{ mediaType: string; digest: Digest; size: number }> {
  const bytes = new TextEncoder().encode(JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests: [{ mediaType: OCI_MANIFEST, ...manifest, platform: hostPlatform() }],
  }));
  const index = { mediaType: OCI_INDEX, digest: digestOf(bytes), size: bytes.length };
  // The lease keeps the index until the record does; the gc label keeps the manifest.
  await using lease = await client.leases.create();
  const leased = client.withLease(lease.id);
  await leased.content.write(index, () => Promise.resolve(ReadableStream.from([bytes])), {
    labels: { "containerd.io/gc.ref.content.m.0": manifest.digest },
  });
  await leased.images.create({ name, target: index });
  return index;
}
