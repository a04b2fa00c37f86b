import { join } from "../../../core/deps.ts";
import { digestOf } from "../../../core/digest.ts";
import { RemoteError } from "../../../core/errors.ts";
import { OCI_LAYER_GZIP } from "../../../core/oci/media_types.ts";
import { createRegistryClient } from "../../../core/registry/client.ts";
import { assert, assertEquals, assertRejects } from "../../_assert.ts";
import { type AuthProxyOptions, startAuthProxy } from "../../_fixtures/auth_proxy.ts";
import { sharedRegistry } from "../../_fixtures/shared_registry.ts";
import { startLoopbackServer } from "../../_fixtures/loopback_server.ts";

const USERNAME = "tsbuild-user";
const PASSWORD = "s3cret-Passw0rd";

/** Writes a config.json with credentials for `host` into a new folder and returns the folder. */
async function writeDockerConfig(host: string, username: string, password: string) {
  const dir = await Deno.makeTempDir({ prefix: "tsbuild-docker-config-" });
  const auths = { [host]: { auth: btoa(`${username}:${password}`) } };
  await Deno.writeTextFile(join(dir, "config.json"), JSON.stringify({ auths }));
  return dir;
}

async function startProxy(options: Partial<AuthProxyOptions> = {}) {
  const { host } = await sharedRegistry();
  return startAuthProxy({ upstream: host, username: USERNAME, password: PASSWORD, ...options });
}

function assertNoSecrets(error: RemoteError): void {
  for (const secret of [PASSWORD, "wrong-password", btoa(`${USERNAME}:${PASSWORD}`)]) {
    assert(!error.message.includes(secret), `the message shows a secret: ${error.message}`);
    assert(!JSON.stringify(error.data).includes(secret), "the error data has a secret");
  }
}

Deno.test("resolve() gets a token with credentials", async () => {
  const { busyboxDigest } = await sharedRegistry();
  await using proxy = await startProxy();
  const configDir = await writeDockerConfig(proxy.host, USERNAME, PASSWORD);
  try {
    const client = createRegistryClient({ dockerConfigPath: join(configDir, "config.json") });
    const image = await client.resolve(`${proxy.host}/busybox:1`);

    assertEquals(image.digest, busyboxDigest);
    assertEquals(proxy.tokenRequests[0], {
      service: "tsbuild-test-registry",
      scopes: ["repository:busybox:pull"],
      authenticated: true,
    });
    // One token serves the manifest and the config requests that follow.
    assertEquals(proxy.tokenRequests.length, 1);
  } finally {
    await Deno.remove(configDir, { recursive: true });
  }
});

Deno.test("resolve() finds credentials through DOCKER_CONFIG", async () => {
  const { busyboxDigest } = await sharedRegistry();
  await using proxy = await startProxy();
  const configDir = await writeDockerConfig(proxy.host, USERNAME, PASSWORD);
  const previous = Deno.env.get("DOCKER_CONFIG");
  try {
    Deno.env.set("DOCKER_CONFIG", configDir);
    const image = await createRegistryClient().resolve(`${proxy.host}/busybox:1`);
    assertEquals(image.digest, busyboxDigest);
    assertEquals(proxy.tokenRequests.map((request) => request.authenticated), [true]);
  } finally {
    if (previous === undefined) Deno.env.delete("DOCKER_CONFIG");
    else Deno.env.set("DOCKER_CONFIG", previous);
    await Deno.remove(configDir, { recursive: true });
  }
});

Deno.test("resolve() gets an anonymous token", async () => {
  const { busyboxDigest } = await sharedRegistry();
  await using proxy = await startProxy({ allowAnonymousPull: true });
  const client = createRegistryClient({ dockerConfigPath: "/nonexistent/config.json" });

  const image = await client.resolve(`${proxy.host}/busybox:1`);
  assertEquals(image.digest, busyboxDigest);
  assertEquals(proxy.tokenRequests, [{
    service: "tsbuild-test-registry",
    scopes: ["repository:busybox:pull"],
    authenticated: false,
  }]);
});

Deno.test("resolve() hides rejected token credentials", async () => {
  await using proxy = await startProxy();
  const configDir = await writeDockerConfig(proxy.host, USERNAME, "wrong-password");
  try {
    const client = createRegistryClient({ dockerConfigPath: configDir });
    const error = await assertRejects(
      () => client.resolve(`${proxy.host}/busybox:1`),
      RemoteError,
    );
    assertEquals(
      error.message,
      `Failed to resolve "${proxy.host}/busybox:1": token server "http://${proxy.host}/token" rejected the request with the configured credentials: 401 Unauthorized`,
    );
    assertNoSecrets(error);
  } finally {
    await Deno.remove(configDir, { recursive: true });
  }
});

Deno.test("resolve() reports denied anonymous access", async () => {
  await using proxy = await startProxy({ allowAnonymousPull: false });
  const client = createRegistryClient({ dockerConfigPath: "/nonexistent/config.json" });

  const error = await assertRejects(() => client.resolve(`${proxy.host}/busybox:1`), RemoteError);
  assertEquals(
    error.message,
    `Failed to resolve "${proxy.host}/busybox:1": registry "${proxy.host}" denied access (UNAUTHORIZED: authentication required); check the repository name, and log in with "docker login ${proxy.host}" if it is private`,
  );
  assertEquals(error.data.status, 401);
  // One anonymous token was tried, and the request sent with it was rejected.
  assertEquals(proxy.tokenRequests.length, 1);
  assertEquals(proxy.rejectedAuthorizations.length, 2);
});

Deno.test("pushBlob() requests a push token", async () => {
  await using proxy = await startProxy();
  const configDir = await writeDockerConfig(proxy.host, USERNAME, PASSWORD);
  try {
    const client = createRegistryClient({ dockerConfigPath: configDir, uploadChunkSize: 8 });
    const bytes = new TextEncoder().encode("a blob pushed through the proxy");
    const layer = { mediaType: OCI_LAYER_GZIP, digest: digestOf(bytes), size: bytes.byteLength };

    const result = await client.pushBlob(
      `${proxy.host}/pushed:1`,
      layer,
      () => ReadableStream.from([bytes]),
    );
    assertEquals(result, { uploaded: true });
    assertEquals(proxy.tokenRequests.map((request) => request.scopes[0]), [
      "repository:pushed:pull,push",
    ]);

    const again = await client.pushBlob(
      `${proxy.host}/pushed:1`,
      layer,
      () => ReadableStream.from([bytes]),
    );
    assertEquals(again, { uploaded: false });
  } finally {
    await Deno.remove(configDir, { recursive: true });
  }
});

Deno.test("resolve() answers a Basic challenge", async () => {
  const { busyboxDigest } = await sharedRegistry();
  await using proxy = await startProxy({ scheme: "basic" });
  const configDir = await writeDockerConfig(proxy.host, USERNAME, PASSWORD);
  try {
    const client = createRegistryClient({ dockerConfigPath: configDir });
    const image = await client.resolve(`${proxy.host}/busybox:1`);
    assertEquals(image.digest, busyboxDigest);
    assertEquals(proxy.tokenRequests.length, 0);
    // Only the first request goes without credentials; the client keeps them for the host.
    assertEquals(proxy.rejectedAuthorizations, [null]);
  } finally {
    await Deno.remove(configDir, { recursive: true });
  }
});

Deno.test("resolve() hides rejected Basic credentials", async () => {
  await using proxy = await startProxy({ scheme: "basic" });
  const configDir = await writeDockerConfig(proxy.host, USERNAME, "wrong-password");
  try {
    const client = createRegistryClient({ dockerConfigPath: configDir });
    const error = await assertRejects(
      () => client.resolve(`${proxy.host}/busybox:1`),
      RemoteError,
    );
    assertEquals(
      error.message,
      `Failed to resolve "${proxy.host}/busybox:1": registry "${proxy.host}" denied access (UNAUTHORIZED: authentication required); check the repository name, and log in with "docker login ${proxy.host}" if it is private`,
    );
    assertNoSecrets(error);
    assertEquals(proxy.rejectedAuthorizations.length, 2);
  } finally {
    await Deno.remove(configDir, { recursive: true });
  }
});

// Mock registries: no real registry sends these challenges or token responses.
Deno.test("resolve() rejects a token realm that is not a web URL", async () => {
  const secret = await Deno.makeTempFile({ suffix: ".json" });
  await Deno.writeTextFile(secret, JSON.stringify({ access_token: "LOCAL-FILE-SECRET" }));
  const authorizations: string[] = [];
  await using server = startLoopbackServer((request) => {
    const authorization = request.headers.get("authorization");
    if (authorization) authorizations.push(authorization);
    return new Response(null, {
      status: 401,
      headers: { "www-authenticate": `Bearer realm="file://${secret}"` },
    });
  });
  try {
    const error = await assertRejects(
      () => createRegistryClient().resolve(`${server.host}/x:1`),
      RemoteError,
    );

    assert(error.message.includes("that is not an http or https URL"), error.message);
    assertEquals(authorizations, []);
  } finally {
    await Deno.remove(secret);
  }
});

Deno.test("resolve() stops reading an oversized token response", async () => {
  await using tokens = startLoopbackServer(() =>
    new Response(
      new ReadableStream({
        pull(controller) {
          controller.enqueue(new Uint8Array(64 * 1024).fill(0x20));
        },
      }),
    )
  );
  await using registry = startLoopbackServer(() =>
    new Response(null, {
      status: 401,
      headers: { "www-authenticate": `Bearer realm="http://${tokens.host}/token"` },
    })
  );

  const error = await assertRejects(
    () => createRegistryClient().resolve(`${registry.host}/x:1`),
    RemoteError,
  );

  assert(error.message.includes("sent a response larger than 1048576 bytes"), error.message);
});
