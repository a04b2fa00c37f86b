/**
 * End-to-end tests of the `registry` exporter (`--push`): images pushed to a real registry on
 * loopback, read back by skopeo and by a second build that starts from them.
 *
 * @module
 */

import { assert, assertEquals, assertNotEquals, assertStringIncludes } from "../_assert.ts";
import { runCli } from "../_fixtures/cli.ts";
import { closedLoopbackPort } from "../_fixtures/loopback_server.ts";
import { sharedRegistry } from "../_fixtures/shared_registry.ts";
import { createTempDir, runTool, writeFiles } from "./_build.ts";

/** Returns the digest from the "exported registry: DIGEST" line the CLI prints on stderr. */
function pushedDigest(stderr: string): string {
  const match = /^exported registry: (sha256:[0-9a-f]{64})$/m.exec(stderr);
  assert(match, `no "exported registry" line in:\n${stderr}`);
  return match[1];
}

async function inspectRaw(reference: string): Promise<Record<string, unknown>> {
  return JSON.parse(
    await runTool("skopeo", ["inspect", "--raw", "--tls-verify=false", `docker://${reference}`]),
  );
}

/** Builds a scratch image with one file, hello.txt, passing `flags` (such as --push). */
async function buildHello(dir: string, flags: string[]) {
  await writeFiles(`${dir}/context`, {
    "Dockerfile": "FROM scratch\nCOPY hello.txt /\n",
    "hello.txt": "hello\n",
  });
  return await runCli([
    "build",
    "--root",
    `${dir}/root`,
    "--progress",
    "plain",
    ...flags,
    `${dir}/context`,
  ]);
}

Deno.test("--push sends the image, and a later build starts from it", async () => {
  await using dir = await createTempDir();
  const registry = await sharedRegistry();
  const name = `${registry.host}/e2e/pushed:1`;
  await writeFiles(`${dir.path}/first`, {
    "Dockerfile": "ARG BASE\nFROM ${BASE}\nRUN echo pushed > /marker\n",
  });
  await writeFiles(`${dir.path}/second`, {
    "Dockerfile": `FROM ${name}\nRUN test "$(cat /marker)" = pushed && echo ok > /checked\n`,
  });

  const pushed = await runCli([
    "build",
    "--root",
    `${dir.path}/root`,
    "--progress",
    "plain",
    "--build-arg",
    `BASE=${registry.busyboxRef}`,
    "-t",
    name,
    "--push",
    `${dir.path}/first`,
  ]);
  assertEquals(pushed.code, 0, pushed.stderr);
  const digest = pushedDigest(pushed.stderr);
  const inspected = JSON.parse(
    await runTool("skopeo", ["inspect", "--tls-verify=false", `docker://${name}`]),
  );
  assertEquals(inspected.Digest, digest);
  assertEquals((inspected.Layers as string[]).length, 2);

  // A new store, so the second build pulls what was pushed.
  const second = await runCli([
    "build",
    "--root",
    `${dir.path}/root2`,
    "--progress",
    "plain",
    "--output",
    `type=local,dest=${dir.path}/out`,
    `${dir.path}/second`,
  ]);
  assertEquals(second.code, 0, second.stderr);
  assertEquals(await Deno.readTextFile(`${dir.path}/out/checked`), "ok\n");
});

Deno.test("type=registry pushes a multi-platform build as an index", async () => {
  await using dir = await createTempDir();
  const registry = await sharedRegistry();
  const name = `${registry.host}/e2e/pushed-index:1`;

  const result = await buildHello(dir.path, [
    "--platform",
    "linux/amd64,linux/arm64",
    "--output",
    `type=registry,name=${name}`,
  ]);

  assertEquals(result.code, 0, result.stderr);
  const index = await inspectRaw(name);
  assertEquals(index.mediaType, "application/vnd.oci.image.index.v1+json");
  const manifests = index.manifests as { digest: string; platform: { architecture: string } }[];
  assertEquals(manifests.map((entry) => entry.platform.architecture), ["amd64", "arm64"]);
  assertNotEquals(manifests[0].digest, manifests[1].digest);
  const arm = await inspectRaw(`${registry.host}/e2e/pushed-index@${manifests[1].digest}`);
  assertEquals((arm.layers as unknown[]).length, 1);
});

Deno.test("type=registry with Docker media types gives images skopeo reads", async () => {
  await using dir = await createTempDir();
  const registry = await sharedRegistry();
  const expected: Record<string, [string, string]> = {
    // Docker's schema has an uncompressed layer type.
    uncompressed: [
      "application/vnd.docker.distribution.manifest.v2+json",
      "application/vnd.docker.image.rootfs.diff.tar",
    ],
    // It has none for zstd, so the manifest stays OCI, as in BuildKit.
    zstd: [
      "application/vnd.oci.image.manifest.v1+json",
      "application/vnd.oci.image.layer.v1.tar+zstd",
    ],
  };
  for (const [compression, [manifestType, layerType]] of Object.entries(expected)) {
    const name = `${registry.host}/e2e/docker-types-${compression}:1`;
    const result = await buildHello(dir.path, [
      "--output",
      `type=registry,name=${name},oci-mediatypes=false,compression=${compression}`,
    ]);
    assertEquals(result.code, 0, result.stderr);

    const manifest = await inspectRaw(name);
    assertEquals(manifest.mediaType, manifestType);
    assertEquals((manifest.layers as { mediaType: string }[])[0].mediaType, layerType);
    await runTool("skopeo", ["inspect", "--tls-verify=false", `docker://${name}`]);
  }
});

Deno.test("--push with the same name in -t and name= pushes it once", async () => {
  await using dir = await createTempDir();
  const registry = await sharedRegistry();
  const name = `${registry.host}/e2e/pushed-once:1`;

  const result = await buildHello(dir.path, [
    "-t",
    name,
    "--push",
    "--output",
    `type=registry,name=${name}`,
  ]);

  assertEquals(result.code, 0, result.stderr);
  assertEquals(result.stderr.match(/^#\d+ pushing 127/gm)?.length, 1, result.stderr);
});

Deno.test("--push rejects a digest as the name", async () => {
  await using dir = await createTempDir();

  const result = await buildHello(dir.path, [
    "-t",
    `127.0.0.1:5000/app@sha256:${"0".repeat(64)}`,
    "--push",
  ]);

  assertEquals(result.code, 1);
  assertStringIncludes(result.stderr, "names a digest; push under a tag");
});

Deno.test("--push without a name fails before building", async () => {
  await using dir = await createTempDir();

  const result = await buildHello(dir.path, ["--push"]);

  assertEquals(result.code, 1);
  assertStringIncludes(result.stderr, "missing image name: pass -t NAME or name=NAME");
  assert(!result.stderr.includes("COPY hello.txt"), "the build did not start");
});

Deno.test("--push to an unreachable registry names it and the cause", async () => {
  await using dir = await createTempDir();
  const port = closedLoopbackPort();

  const result = await buildHello(dir.path, ["-t", `127.0.0.1:${port}/nowhere:1`, "--push"]);

  assertEquals(result.code, 1);
  assertStringIncludes(result.stderr, `127.0.0.1:${port}`);
  assertStringIncludes(result.stderr, "connection refused");
});
