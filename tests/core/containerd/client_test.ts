import { createContainerdClient } from "../../../core/containerd/client.ts";
import { AlreadyExistsError } from "../../../core/containerd/errors.ts";
import { LEASE_EXPIRE_LABEL } from "../../../core/containerd/leases.ts";
import { join, randomBytes } from "../../../core/deps.ts";
import { digestOf } from "../../../core/digest.ts";
import {
  CancelledError,
  DigestMismatchError,
  InvalidInputError,
  NotFoundError,
  RemoteError,
} from "../../../core/errors.ts";
import { assert, assertEquals, assertRejects, assertStringIncludes } from "../../_assert.ts";
import { hasContainerd, startContainerd } from "../../_fixtures/containerd.ts";

const ignore = !hasContainerd();
const encode = (text: string) => new TextEncoder().encode(text);
const streamOf = (...chunks: Uint8Array[]) => () => Promise.resolve(ReadableStream.from(chunks));

Deno.test({
  name: "version() returns containerd's version",
  ignore,
  async fn() {
    await using containerd = await startContainerd();
    using client = createContainerdClient({ address: containerd.address, namespace: "test" });

    const version = await client.version();

    assertStringIncludes(version.version, "1.");
    assertEquals(client.namespace, "test");
    assertEquals(client.address, containerd.address);
  },
});

Deno.test({
  name: "content.write() stores a blob once with its labels",
  ignore,
  async fn() {
    await using containerd = await startContainerd();
    using unleased = createContainerdClient({ address: containerd.address, namespace: "test" });
    // containerd collects content nothing refers to; the lease keeps the blob for the checks.
    await using lease = await unleased.leases.create();
    const client = unleased.withLease(lease.id);
    // Several write messages, cut across the chunks the stream delivers.
    const data = randomBytes(3 * 1024 * 1024 + 123);
    const digest = digestOf(data);
    const progress: number[] = [];

    const first = await client.content.write(
      { digest, size: data.length },
      streamOf(data.subarray(0, 1000), data.subarray(1000)),
      { labels: { "example.com/kind": "test" }, onProgress: (written) => progress.push(written) },
    );
    const second = await client.content.write({ digest, size: data.length }, () => {
      throw new Error("a stored blob must not be opened again");
    });

    assertEquals(first, { written: true });
    assertEquals(second, { written: false });
    assertEquals(progress.at(-1), data.length);
    const info = await client.content.info(digest);
    assertEquals(info?.size, data.length);
    assertEquals(info?.labels, { "example.com/kind": "test" });
    assertEquals(digestOf(await client.content.readBytes(digest, data.length)), digest);
    const part = await new Response(client.content.read(digest, { offset: 10, size: 5 })).bytes();
    assertEquals([...part], [...data.subarray(10, 15)]);
  },
});

Deno.test({
  name: "content.write() rejects a stream of the wrong size",
  ignore,
  async fn() {
    await using containerd = await startContainerd();
    using client = createContainerdClient({ address: containerd.address, namespace: "test" });
    const digest = digestOf("hello");

    const longer = await assertRejects(
      () => client.content.write({ digest, size: 5 }, streamOf(encode("hello!"))),
      DigestMismatchError,
    );
    const shorter = await assertRejects(
      () => client.content.write({ digest, size: 5 }, streamOf(encode("hell"))),
      DigestMismatchError,
    );

    assertEquals(
      longer.message,
      `Failed to write blob "${digest}" to containerd: the stream carried more than 5 bytes, but the expected size is 5`,
    );
    assertStringIncludes(shorter.message, "the stream carried 4 bytes");
    assertEquals(await client.content.info(digest), undefined);
  },
});

Deno.test({
  name: "content.write() rejects bytes of another digest",
  ignore,
  async fn() {
    await using containerd = await startContainerd();
    using client = createContainerdClient({ address: containerd.address, namespace: "test" });
    const digest = digestOf("hello");

    const error = await assertRejects(
      () => client.content.write({ digest, size: 5 }, streamOf(encode("jello"))),
      DigestMismatchError,
    );

    assertStringIncludes(error.message, "unexpected commit digest");
    assertEquals(await client.content.info(digest), undefined);
  },
});

Deno.test({
  name: "content.write() starts over after a failed write",
  ignore,
  async fn() {
    await using containerd = await startContainerd();
    using client = createContainerdClient({ address: containerd.address, namespace: "test" });
    const data = randomBytes(2 * 1024 * 1024);
    const digest = digestOf(data);
    const failing = () =>
      Promise.resolve(
        new ReadableStream<Uint8Array>({
          start(controller) {
            controller.enqueue(data.subarray(0, 1024 * 1024 + 7));
            controller.error(new Error("source failed on purpose"));
          },
        }),
      );

    await assertRejects(
      () => client.content.write({ digest, size: data.length }, failing),
      Error,
      "source failed on purpose",
    );
    const result = await client.content.write({ digest, size: data.length }, streamOf(data));

    assertEquals(result, { written: true });
    assertEquals(digestOf(await client.content.readBytes(digest, data.length)), digest);
  },
});

Deno.test({
  name: "leases keep content until they are released",
  ignore,
  async fn() {
    await using containerd = await startContainerd();
    using client = createContainerdClient({ address: containerd.address, namespace: "test" });
    const data = encode("leased");
    const digest = digestOf(data);

    const lease = await client.leases.create();
    await client.withLease(lease.id).content.write({ digest, size: data.length }, streamOf(data));
    const listed = await client.leases.list();
    // Deleting a record with sync runs a garbage collection and waits for it.
    await client.images.create({ name: "example.com/gc:1", target: manifestOf(digestOf("gc")) });
    await client.images.delete("example.com/gc:1", { sync: true });
    const kept = await client.content.info(digest);
    await client.leases.delete(lease.id, { sync: true });

    assertEquals(listed.map((entry) => entry.id), [lease.id]);
    assert(listed[0].labels[LEASE_EXPIRE_LABEL], "a lease must carry an expiry label");
    assert(kept, "the leased blob was collected while the lease existed");
    assertEquals(await client.content.info(digest), undefined, "released content must go");
    assertEquals(await client.leases.list(), []);
  },
});

function manifestOf(digest: `sha256:${string}`) {
  return { mediaType: "application/vnd.oci.image.manifest.v1+json", digest, size: 6 };
}

Deno.test({
  name: "images create, update, list and delete records",
  ignore,
  async fn() {
    await using containerd = await startContainerd();
    using client = createContainerdClient({ address: containerd.address, namespace: "test" });
    const target = manifestOf(digestOf("one"));
    const next = manifestOf(digestOf("two"));

    const created = await client.images.create({
      name: "example.com/app:1",
      target,
      labels: { a: "1" },
    });
    const duplicate = await assertRejects(
      () => client.images.create({ name: "example.com/app:1", target }),
      AlreadyExistsError,
    );
    const updated = await client.images.update({
      name: "example.com/app:1",
      target: next,
      labels: { b: "2" },
    });

    assertEquals(created.target, target);
    assertEquals(
      duplicate.message,
      'Failed to create image "example.com/app:1": already exists in containerd namespace "test"',
    );
    assertEquals(updated.target, next);
    assertEquals(updated.labels, { a: "1", b: "2" });
    assertEquals(updated.createdAt, created.createdAt);
    assertEquals((await client.images.list()).map((image) => image.name), ["example.com/app:1"]);
    assertEquals(
      (await client.images.list(['name=="example.com/other:1"'])).length,
      0,
    );
    await client.images.delete("example.com/app:1");
    assertEquals(await client.images.get("example.com/app:1"), undefined);
    await assertRejects(
      () => client.images.update({ name: "example.com/app:1", target }),
      NotFoundError,
    );
  },
});

Deno.test({
  name: "snapshots prepare, commit, stat and remove",
  ignore,
  async fn() {
    await using containerd = await startContainerd();
    using base = createContainerdClient({ address: containerd.address, namespace: "test" });
    // A lease keeps containerd's garbage collector off the snapshots while the test works.
    const lease = await base.leases.create();
    const client = base.withLease(lease.id);
    const snapshots = client.snapshots();

    const mounts = await snapshots.prepare("active-1");
    assertEquals(await snapshots.mounts("active-1"), mounts);
    assertEquals((await snapshots.stat("active-1"))?.kind, "active");
    await snapshots.commit("committed-1", "active-1", { "example.com/k": "v" });
    const committed = await snapshots.stat("committed-1");
    await snapshots.prepare("active-2", "committed-1");
    const child = await snapshots.stat("active-2");
    await snapshots.remove("active-2");
    await snapshots.remove("committed-1");

    assertEquals(snapshots.name, "overlayfs");
    assertEquals(mounts.length, 1);
    assertEquals(committed?.kind, "committed");
    assertEquals(committed?.labels, { "example.com/k": "v" });
    assertEquals(child?.parent, "committed-1");
    assertEquals(await snapshots.stat("active-1"), undefined);
    assertEquals(await snapshots.stat("committed-1"), undefined);
    await assertRejects(() => snapshots.prepare("active-3", "no-such-parent"), NotFoundError);
  },
});

Deno.test({
  name: "namespaces lists the namespaces written into",
  ignore,
  async fn() {
    await using containerd = await startContainerd();
    using client = createContainerdClient({ address: containerd.address, namespace: "written" });
    await client.images.create({ name: "example.com/app:1", target: manifestOf(digestOf("x")) });

    const names = (await client.namespaces.list()).map((namespace) => namespace.name);

    assert(names.includes("written"), `namespaces: ${names.join(", ")}`);
    assert(!names.includes("never-used"));
  },
});

Deno.test("createContainerdClient() names a missing socket", async () => {
  const address = `/tmp/tsbuild-missing-${randomBytes(4).toString("hex")}/containerd.sock`;
  using client = createContainerdClient({ address, namespace: "test" });

  const error = await assertRejects(() => client.version(), RemoteError);

  assertEquals(
    error.message,
    `Failed to get the containerd version: containerd socket "${address}" does not exist (start containerd, or set --containerd-address or CONTAINERD_ADDRESS)`,
  );
  assertEquals(error.data.reason, "socket-missing");
  assertEquals(error.data.address, address);
  assert(error.cause instanceof Error, "the Connect error must be the cause");
});

Deno.test("createContainerdClient() reports a path nobody listens on", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tsbuild-containerd-client-test-" });
  try {
    // A socket file left by a containerd that is gone refuses connections as this file does.
    const address = join(dir, "stale.sock");
    await Deno.writeTextFile(address, "");
    using client = createContainerdClient({ address, namespace: "test" });

    const error = await assertRejects(() => client.version(), RemoteError);

    assertStringIncludes(
      error.message,
      `nothing accepts connections on containerd socket "${address}"`,
    );
    assertEquals(error.data.reason, "unreachable");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("createContainerdClient() reads CONTAINERD_ADDRESS and defaults", () => {
  const saved = Deno.env.get("CONTAINERD_ADDRESS");
  try {
    Deno.env.set("CONTAINERD_ADDRESS", "/tmp/from-env.sock");
    using fromEnv = createContainerdClient();
    using explicit = createContainerdClient({ address: "/tmp/explicit.sock", namespace: "x" });
    Deno.env.delete("CONTAINERD_ADDRESS");
    using fallback = createContainerdClient();

    assertEquals(fromEnv.address, "/tmp/from-env.sock");
    assertEquals(fromEnv.namespace, "buildkit");
    assertEquals(explicit.address, "/tmp/explicit.sock");
    assertEquals(fallback.address, "/run/containerd/containerd.sock");
  } finally {
    if (saved === undefined) Deno.env.delete("CONTAINERD_ADDRESS");
    else Deno.env.set("CONTAINERD_ADDRESS", saved);
  }
});

Deno.test({
  name: "a client's signal cancels its calls",
  ignore,
  async fn() {
    await using containerd = await startContainerd();
    const controller = new AbortController();
    using client = createContainerdClient({
      address: containerd.address,
      namespace: "test",
      signal: controller.signal,
    });
    controller.abort();

    const error = await assertRejects(() => client.images.list(), CancelledError);

    assertEquals(error.message, "Failed to list images: the build was cancelled");
    assertEquals((await client.withSignal(undefined).images.list()).length, 0);
  },
});

Deno.test({
  name: "a namespace containerd rejects is invalid input",
  ignore,
  async fn() {
    await using containerd = await startContainerd();
    using client = createContainerdClient({ address: containerd.address, namespace: "bad name!" });

    const error = await assertRejects(() => client.images.list(), InvalidInputError);

    assertStringIncludes(error.message, "Failed to list images: containerd rejected it: ");
    assertStringIncludes(error.message, "bad name!");
  },
});
