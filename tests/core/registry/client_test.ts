import { join } from "../../../core/deps.ts";
import { type Digest, digestHex, digestOf, digestStream } from "../../../core/digest.ts";
import { DigestMismatchError, NotFoundError, RemoteError } from "../../../core/errors.ts";
import {
  DOCKER_CONFIG,
  DOCKER_LAYER_GZIP,
  DOCKER_MANIFEST,
  DOCKER_MANIFEST_LIST,
  OCI_CONFIG,
  OCI_INDEX,
  OCI_LAYER_GZIP,
  OCI_MANIFEST,
} from "../../../core/oci/media_types.ts";
import { formatPlatform, hostPlatform, parsePlatform } from "../../../core/oci/platform.ts";
import { parseReference } from "../../../core/oci/reference.ts";
import { createRegistryClient } from "../../../core/registry/client.ts";
import type { Descriptor } from "../../../core/registry/types.ts";
import { assert, assertEquals, assertRejects } from "../../_assert.ts";
import { buildBusyboxImage, type BusyboxImage } from "../../_fixtures/busybox_image.ts";
import { closedLoopbackPort, startLoopbackServer } from "../../_fixtures/loopback_server.ts";
import { sharedRegistry } from "../../_fixtures/shared_registry.ts";

const encoder = new TextEncoder();

async function withBusyboxLayout<T>(run: (image: BusyboxImage) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "tsbuild-client-test-" });
  try {
    return await run(await buildBusyboxImage(dir));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function readLayoutBlob(image: BusyboxImage, digest: Digest): Promise<Uint8Array> {
  return Deno.readFile(join(image.dir, "blobs", "sha256", digestHex(digest)));
}

function streamOf(bytes: Uint8Array): () => ReadableStream<Uint8Array> {
  return () => ReadableStream.from([bytes]);
}

function encodeJson(value: unknown): Uint8Array<ArrayBuffer> {
  return encoder.encode(JSON.stringify(value));
}

function describe(mediaType: string, bytes: Uint8Array): Descriptor {
  return { mediaType, digest: digestOf(bytes), size: bytes.byteLength };
}

/** Pushes the busybox layer and a config for `architecture`, then the manifest by digest. */
async function pushPlatformManifest(
  repository: string,
  image: BusyboxImage,
  architecture: string,
  docker = false,
): Promise<{ descriptor: Descriptor; bytes: Uint8Array }> {
  const client = createRegistryClient();
  const layerBytes = await readLayoutBlob(image, image.layerDigest);
  const layer = describe(docker ? DOCKER_LAYER_GZIP : OCI_LAYER_GZIP, layerBytes);
  await client.pushBlob(repository, layer, streamOf(layerBytes));

  const configBytes = encodeJson({
    architecture,
    os: "linux",
    config: { Cmd: ["sh"] },
    rootfs: { type: "layers", diff_ids: [image.diffId] },
  });
  const config = describe(docker ? DOCKER_CONFIG : OCI_CONFIG, configBytes);
  await client.pushBlob(repository, config, streamOf(configBytes));

  const mediaType = docker ? DOCKER_MANIFEST : OCI_MANIFEST;
  const bytes = encodeJson({ schemaVersion: 2, mediaType, config, layers: [layer] });
  const digest = await client.pushManifest(`${repository}@${digestOf(bytes)}`, bytes, mediaType);
  assertEquals(digest, digestOf(bytes));
  return { descriptor: describe(mediaType, bytes), bytes };
}

Deno.test("resolve() resolves a tag", async () => {
  const { busyboxRef, busyboxDigest } = await sharedRegistry();
  const image = await createRegistryClient().resolve(busyboxRef);

  assertEquals(image.reference, parseReference(busyboxRef));
  assertEquals(image.digest, busyboxDigest);
  assertEquals(digestOf(image.manifestBytes), busyboxDigest);
  assertEquals(image.mediaType, OCI_MANIFEST);
  assertEquals(image.indexDigest, undefined);
  assertEquals(image.configDigest, image.manifest.config.digest);
  assertEquals(digestOf(image.configBytes), image.configDigest);
  assertEquals(image.config.config?.Cmd, ["sh"]);
  assertEquals(image.manifest.layers.length, 1);
  assertEquals(image.config.rootfs.diff_ids.length, 1);
  assertEquals(image.platform, hostPlatform());
});

Deno.test("resolve() pins a digest reference", async () => {
  const { host, busyboxDigest } = await sharedRegistry();
  const client = createRegistryClient();

  const byDigest = await client.resolve(`${host}/busybox@${busyboxDigest}`);
  assertEquals(byDigest.digest, busyboxDigest);
  // With both a tag and a digest the digest wins, as with Docker; "nope" does not exist.
  const both = await client.resolve(`${host}/busybox:nope@${busyboxDigest}`);
  assertEquals(both.digest, busyboxDigest);
});

/** Returns a fetch that records the path of every request it passes on. */
function recordingFetch(paths: string[]): typeof fetch {
  return ((input: RequestInfo | URL, init?: RequestInit) => {
    paths.push(new URL(input instanceof Request ? input.url : input).pathname);
    return fetch(input, init);
  }) as typeof fetch;
}

Deno.test("resolve() asks the registry once for content pinned by digest", async () => {
  const { host, busyboxRef, busyboxDigest } = await sharedRegistry();
  const paths: string[] = [];
  const client = createRegistryClient({ fetch: recordingFetch(paths) });

  const byTag = await client.resolve(busyboxRef);
  const requestsByTag = paths.length;
  const first = await client.resolve(`${host}/busybox@${busyboxDigest}`);
  const second = await client.resolve(`${host}/busybox@${busyboxDigest}`);

  assertEquals(requestsByTag, 2);
  assertEquals(paths.length, 2, "the manifest and config came from the client's memory");
  assertEquals(first.digest, busyboxDigest);
  assertEquals(second.configBytes, byTag.configBytes);
  assertEquals(digestOf(second.manifestBytes), busyboxDigest);
});

Deno.test("resolve() asks again for a tag, which can move", async () => {
  const { busyboxRef } = await sharedRegistry();
  const paths: string[] = [];
  const client = createRegistryClient({ fetch: recordingFetch(paths) });

  await client.resolve(busyboxRef);
  await client.resolve(busyboxRef);

  const manifestRequests = paths.filter((path) => path.includes("/manifests/"));
  assertEquals(manifestRequests.length, 2);
});

Deno.test("resolve() keeps what it remembers apart per repository", async () => {
  const { host, busyboxDigest } = await sharedRegistry();
  const client = createRegistryClient();
  await client.resolve(`${host}/busybox@${busyboxDigest}`);

  await assertRejects(
    () => client.resolve(`${host}/not-pushed@${busyboxDigest}`),
    NotFoundError,
  );
});

Deno.test("resolve() picks the platform from an index", async () => {
  const { host } = await sharedRegistry();
  const repository = `${host}/multi-platform`;
  const client = createRegistryClient();

  await withBusyboxLayout(async (image) => {
    const native = await pushPlatformManifest(repository, image, hostPlatform().architecture);
    const riscv = await pushPlatformManifest(repository, image, "riscv64");
    const indexBytes = encodeJson({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [
        { ...native.descriptor, platform: hostPlatform() },
        { ...riscv.descriptor, platform: { os: "linux", architecture: "riscv64" } },
        { ...riscv.descriptor, platform: { os: "unknown", architecture: "unknown" } },
      ],
    });
    const indexDigest = await client.pushManifest(`${repository}:1`, indexBytes, OCI_INDEX);

    const chosen = await client.resolve(`${repository}:1`, parsePlatform("linux/riscv64"));
    assertEquals(chosen.digest, riscv.descriptor.digest);
    assertEquals(chosen.indexDigest, indexDigest);
    assertEquals(chosen.indexMediaType, OCI_INDEX);
    assertEquals(chosen.config.architecture, "riscv64");
    assertEquals(chosen.platform, { os: "linux", architecture: "riscv64" });

    const host = await client.resolve(`${repository}:1`);
    assertEquals(host.digest, native.descriptor.digest);
    const pinned = await client.resolve(
      `${repository}@${indexDigest}`,
      parsePlatform("linux/riscv64"),
    );
    assertEquals(pinned.digest, riscv.descriptor.digest);
  });
});

Deno.test("resolve() lists platforms when none matches", async () => {
  const { host } = await sharedRegistry();
  const repository = `${host}/no-match`;
  const client = createRegistryClient();

  await withBusyboxLayout(async (image) => {
    const native = await pushPlatformManifest(repository, image, hostPlatform().architecture);
    const riscv = await pushPlatformManifest(repository, image, "riscv64");
    const indexBytes = encodeJson({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [
        { ...native.descriptor, platform: hostPlatform() },
        { ...riscv.descriptor, platform: { os: "linux", architecture: "riscv64" } },
        { ...riscv.descriptor, platform: { os: "unknown", architecture: "unknown" } },
      ],
    });
    await client.pushManifest(`${repository}:1`, indexBytes, OCI_INDEX);

    const error = await assertRejects(
      () => client.resolve(`${repository}:1`, parsePlatform("linux/s390x")),
      NotFoundError,
    );
    assertEquals(
      error.message,
      `Failed to resolve "${repository}:1": no manifest for platform "linux/s390x" (available: "${
        formatPlatform(hostPlatform())
      }", "linux/riscv64")`,
    );
  });
});

Deno.test("resolve() reads a Docker manifest list", async () => {
  const { host } = await sharedRegistry();
  const repository = `${host}/docker-list`;
  const client = createRegistryClient();

  await withBusyboxLayout(async (image) => {
    const native = await pushPlatformManifest(repository, image, hostPlatform().architecture, true);
    const listBytes = encodeJson({
      schemaVersion: 2,
      mediaType: DOCKER_MANIFEST_LIST,
      manifests: [{ ...native.descriptor, platform: hostPlatform() }],
    });
    const listDigest = await client.pushManifest(
      `${repository}:1`,
      listBytes,
      DOCKER_MANIFEST_LIST,
    );

    const resolved = await client.resolve(`${repository}:1`);
    assertEquals(resolved.digest, native.descriptor.digest);
    assertEquals(resolved.mediaType, DOCKER_MANIFEST);
    assertEquals(resolved.indexDigest, listDigest);
    assertEquals(resolved.indexMediaType, DOCKER_MANIFEST_LIST);
    assertEquals(resolved.manifest.config.mediaType, DOCKER_CONFIG);
  });
});

Deno.test("resolve() rejects an unknown tag", async () => {
  const { host } = await sharedRegistry();
  const error = await assertRejects(
    () => createRegistryClient().resolve(`${host}/busybox:nope`),
    NotFoundError,
  );
  assertEquals(
    error.message,
    `Failed to resolve "${host}/busybox:nope": manifest not found (MANIFEST_UNKNOWN: manifest unknown)`,
  );
  assertEquals(error.data.status, 404);
});

Deno.test("resolve() reports an unreachable registry", async () => {
  const host = `127.0.0.1:${closedLoopbackPort()}`;
  const error = await assertRejects(
    () => createRegistryClient().resolve(`${host}/busybox:1`),
    RemoteError,
  );
  assertEquals(
    error.message,
    `Failed to resolve "${host}/busybox:1": registry "${host}" is unreachable at "http://${host}": connection refused (os error 111)`,
  );
  assertEquals(error.data.registry, host);
  assert(error.cause instanceof TypeError);
});

Deno.test("resolve() retries a GET after a 503", async () => {
  const manifest = encodeJson({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] });
  let requests = 0;
  await using server = startLoopbackServer(() => {
    requests++;
    if (requests === 1) return new Response("busy", { status: 503 });
    return new Response(manifest, { headers: { "Content-Type": OCI_INDEX } });
  });

  const fetched = await createRegistryClient().fetchManifest(`${server.host}/app:1`);
  assertEquals(fetched.digest, digestOf(manifest));
  assertEquals(fetched.mediaType, OCI_INDEX);
  assertEquals(requests, 2);
});

Deno.test("resolve() stops after three 503s", async () => {
  let requests = 0;
  await using server = startLoopbackServer(() => {
    requests++;
    const errors = [{ code: "UNAVAILABLE", message: "try later" }];
    return Response.json({ errors }, { status: 503 });
  });

  const error = await assertRejects(
    () => createRegistryClient().resolve(`${server.host}/app:1`),
    RemoteError,
  );
  assertEquals(
    error.message,
    `Failed to resolve "${server.host}/app:1": registry "${server.host}" returned 503 Service Unavailable (UNAVAILABLE: try later)`,
  );
  assertEquals(requests, 3);
});

Deno.test("fetchManifest() rejects a wrong digest", async () => {
  // The real registry always serves what hashes to the digest, so a mock serves other bytes.
  const expected = encodeJson({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] });
  const served = encodeJson({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [], x: 1 });
  await using server = startLoopbackServer(() =>
    new Response(served, { headers: { "Content-Type": OCI_INDEX } })
  );

  const reference = `${server.host}/app@${digestOf(expected)}`;
  const error = await assertRejects(
    () => createRegistryClient().fetchManifest(reference),
    DigestMismatchError,
  );
  assertEquals(
    error.message,
    `Failed to fetch manifest "${reference}": manifest content hashes to "${
      digestOf(served)
    }", expected "${digestOf(expected)}"`,
  );
});

Deno.test("fetchManifest() checks Docker-Content-Digest", async () => {
  const served = encodeJson({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] });
  const claimed = digestOf("something else");
  await using server = startLoopbackServer(() =>
    new Response(served, {
      headers: { "Content-Type": OCI_INDEX, "Docker-Content-Digest": claimed },
    })
  );

  const error = await assertRejects(
    () => createRegistryClient().fetchManifest(`${server.host}/app:1`),
    DigestMismatchError,
  );
  assertEquals(
    error.message,
    `Failed to fetch manifest "${server.host}/app:1": manifest content hashes to "${
      digestOf(served)
    }", but the registry sent Docker-Content-Digest "${claimed}"`,
  );
});

Deno.test("fetchBlob() streams a verified layer", async () => {
  const { busyboxRef } = await sharedRegistry();
  const client = createRegistryClient();
  const image = await client.resolve(busyboxRef);
  const layer = image.manifest.layers[0];

  const { digest, size } = await digestStream(await client.fetchBlob(busyboxRef, layer));
  assertEquals(digest, layer.digest);
  assertEquals(size, layer.size);
});

Deno.test("fetchBlob() rejects a missing blob", async () => {
  const { busyboxRef } = await sharedRegistry();
  const missing = describe(OCI_LAYER_GZIP, encoder.encode("never pushed"));
  const error = await assertRejects(
    () => createRegistryClient().fetchBlob(busyboxRef, missing),
    NotFoundError,
  );
  assertEquals(
    error.message,
    `Failed to fetch layer "${missing.digest}" of "${busyboxRef}": blob not found (BLOB_UNKNOWN: blob unknown to registry)`,
  );
});

// The real registry verifies what it stores and serves, so corrupt blobs come from a mock.
Deno.test("fetchBlob() rejects a corrupt layer", async () => {
  const layer = describe(OCI_LAYER_GZIP, encoder.encode("original layer"));
  const corrupt = encoder.encode("corrupt  layer");
  await using server = startLoopbackServer(() => new Response(corrupt));

  const reference = `${server.host}/app:1`;
  const stream = await createRegistryClient().fetchBlob(reference, layer);
  const error = await assertRejects(() => new Response(stream).arrayBuffer(), DigestMismatchError);
  assertEquals(
    error.message,
    `Failed to fetch layer "${layer.digest}" of "${reference}": content hashes to "${
      digestOf(corrupt)
    }", expected "${layer.digest}"`,
  );
  assertEquals(error.data.digest, layer.digest);
});

Deno.test("fetchBlob() checks Content-Length", async () => {
  const layer = describe(OCI_LAYER_GZIP, encoder.encode("original layer"));
  await using server = startLoopbackServer(() => new Response(encoder.encode("longer than that")));

  const reference = `${server.host}/app:1`;
  const error = await assertRejects(
    () => createRegistryClient().fetchBlob(reference, layer),
    DigestMismatchError,
  );
  assertEquals(
    error.message,
    `Failed to fetch layer "${layer.digest}" of "${reference}": registry "${server.host}" announced 16 bytes, expected 14`,
  );
});

Deno.test("fetchBlob() stops an oversized stream", async () => {
  const layer = describe(OCI_LAYER_GZIP, encoder.encode("original layer"));
  // A streamed body has no Content-Length, so only the byte count can catch it.
  await using server = startLoopbackServer(() =>
    new Response(ReadableStream.from([encoder.encode("original layer"), encoder.encode("+")]))
  );

  const reference = `${server.host}/app:1`;
  const stream = await createRegistryClient().fetchBlob(reference, layer);
  const error = await assertRejects(() => new Response(stream).arrayBuffer(), DigestMismatchError);
  assertEquals(
    error.message,
    `Failed to fetch layer "${layer.digest}" of "${reference}": received more than the expected 14 bytes`,
  );
});

Deno.test("pushBlob() skips an existing blob", async () => {
  const { busyboxRef } = await sharedRegistry();
  const client = createRegistryClient();
  const layer = (await client.resolve(busyboxRef)).manifest.layers[0];

  let opened = false;
  const result = await client.pushBlob(busyboxRef, layer, () => {
    opened = true;
    return ReadableStream.from([]);
  });
  assertEquals(result, { uploaded: false });
  assertEquals(opened, false);
});

Deno.test("pushBlob() uploads a large blob in chunks", async () => {
  const { host } = await sharedRegistry();
  const methods: string[] = [];
  const countingFetch = ((input: RequestInfo | URL, init?: RequestInit) => {
    methods.push(init?.method ?? "GET");
    return fetch(input, init);
  }) as typeof fetch;
  const chunkSize = 256 * 1024;
  const client = createRegistryClient({ uploadChunkSize: chunkSize, fetch: countingFetch });

  await withBusyboxLayout(async (image) => {
    const bytes = await readLayoutBlob(image, image.layerDigest);
    const layer = describe(OCI_LAYER_GZIP, bytes);
    const result = await client.pushBlob(`${host}/chunked:1`, layer, streamOf(bytes));
    assertEquals(result, { uploaded: true });
    const patches = methods.filter((method) => method === "PATCH").length;
    assertEquals(patches, Math.ceil(bytes.byteLength / chunkSize));

    const fetched = await digestStream(await client.fetchBlob(`${host}/chunked:1`, layer));
    assertEquals(fetched, { digest: layer.digest, size: layer.size });
  });
});

for (const chunked of [false, true]) {
  Deno.test(`pushBlob() rejects mismatched content (${chunked ? "chunked" : "whole"})`, async () => {
    const { host } = await sharedRegistry();
    const client = createRegistryClient({ uploadChunkSize: chunked ? 4 : 1024 });
    const layer = describe(OCI_LAYER_GZIP, encoder.encode("expected content"));
    const other = encoder.encode("uploaded content");
    const reference = `${host}/bad-push-${chunked ? "chunked" : "whole"}:1`;

    const error = await assertRejects(
      () => client.pushBlob(reference, layer, streamOf(other)),
      DigestMismatchError,
    );
    assertEquals(
      error.message,
      `Failed to push blob "${layer.digest}" to "${reference}": content hashes to "${
        digestOf(other)
      }", expected "${layer.digest}"`,
    );
    await assertRejects(() => client.fetchBlob(reference, layer), NotFoundError);
  });
}

Deno.test("pushManifest() pushes by digest", async () => {
  const { host, busyboxDigest } = await sharedRegistry();
  const client = createRegistryClient();
  const busybox = await client.fetchManifest(`${host}/busybox@${busyboxDigest}`);

  // The blobs the manifest names are in "busybox", so the manifest goes there too.
  const digest = await client.pushManifest(
    `${host}/busybox@${busyboxDigest}`,
    busybox.bytes,
    OCI_MANIFEST,
  );
  assertEquals(digest, busyboxDigest);
  const again = await client.fetchManifest(`${host}/busybox@${digest}`);
  assertEquals(again.bytes, busybox.bytes);
});

Deno.test("pushManifest() checks the reference digest", async () => {
  const { host, busyboxDigest } = await sharedRegistry();
  const reference = `${host}/busybox@${busyboxDigest}`;
  const bytes = encodeJson({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] });

  const error = await assertRejects(
    () => createRegistryClient().pushManifest(reference, bytes, OCI_INDEX),
    DigestMismatchError,
  );
  assertEquals(
    error.message,
    `Failed to push manifest to "${reference}": the manifest hashes to "${
      digestOf(bytes)
    }", not to the reference's digest`,
  );
});

Deno.test("pushManifest() reports missing blobs", async () => {
  const { host } = await sharedRegistry();
  const config = describe(OCI_CONFIG, encoder.encode("{}"));
  const bytes = encodeJson({ schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers: [] });

  const error = await assertRejects(
    () => createRegistryClient().pushManifest(`${host}/empty:1`, bytes, OCI_MANIFEST),
    RemoteError,
  );
  assertEquals(
    error.message,
    `Failed to push manifest to "${host}/empty:1": registry "${host}" returned 400 Bad Request (MANIFEST_BLOB_UNKNOWN: blob unknown to registry)`,
  );
});

Deno.test("createRegistryClient() aborts requests with its signal", async () => {
  const { busyboxRef } = await sharedRegistry();
  const controller = new AbortController();
  controller.abort();
  const client = createRegistryClient({ signal: controller.signal });

  const error = await assertRejects(() => client.resolve(busyboxRef));
  assertEquals(error.name, "CancelledError");
  assertEquals(error.message, "Registry request cancelled");
});

/**
 * A mock registry (no real one responds this way) that takes one monolithic upload: it responds to
 * every step with 200 and a Location relative to the request, or with `location` when given.
 */
function startLenientRegistry(location?: string) {
  const requests: string[] = [];
  const server = startLoopbackServer((request) => {
    const url = new URL(request.url);
    requests.push(`${request.method} ${url.pathname}${url.search}`);
    if (request.method === "HEAD") return new Response(null, { status: 404 });
    if (request.method === "POST") {
      return new Response(null, {
        status: 200,
        headers: { location: location ?? "session-1?state=a" },
      });
    }
    return new Response(null, { status: 200 });
  });
  return { server, requests };
}

Deno.test("pushBlob() and pushManifest() take any 2xx and relative upload locations", async () => {
  const { server, requests } = startLenientRegistry();
  await using _server = server;
  const client = createRegistryClient();
  const bytes = encoder.encode("layer");
  const layer = describe(OCI_LAYER_GZIP, bytes);

  assertEquals(await client.pushBlob(`${server.host}/repo:1`, layer, streamOf(bytes)), {
    uploaded: true,
  });
  const manifest = encoder.encode("{}");
  assertEquals(
    await client.pushManifest(`${server.host}/repo:1`, manifest, OCI_MANIFEST),
    digestOf(manifest),
  );
  assertEquals(requests.slice(1), [
    "POST /v2/repo/blobs/uploads/",
    `PUT /v2/repo/blobs/uploads/session-1?state=a&digest=${encodeURIComponent(layer.digest)}`,
    "PUT /v2/repo/manifests/1",
  ]);
});

Deno.test("pushBlob() rejects an upload location that is not a web URL", async () => {
  const { server } = startLenientRegistry("file:///etc/passwd");
  await using _server = server;
  const bytes = encoder.encode("layer");

  const error = await assertRejects(
    () =>
      createRegistryClient().pushBlob(
        `${server.host}/repo:1`,
        describe(OCI_LAYER_GZIP, bytes),
        streamOf(bytes),
      ),
    RemoteError,
  );

  assert(error.message.includes('upload Location "file:///etc/passwd"'), error.message);
});
