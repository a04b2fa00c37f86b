/**
 * Registries that stop responding. No real registry can be made to stall on cue, so these are
 * raw TCP servers on loopback that read requests and respond partly or not at all.
 *
 * @module
 */

import { RemoteError } from "../../../core/errors.ts";
import { createRegistryClient } from "../../../core/registry/client.ts";
import { assert, assertRejects, assertThrows } from "../../_assert.ts";
import { sharedRegistry } from "../../_fixtures/shared_registry.ts";

const encoder = new TextEncoder();

/**
 * Starts a server that writes `reply`'s bytes to each connection and then keeps it open, or,
 * with `then`, runs `then` on the connection after the reply.
 */
function startStallingServer(
  reply: (request: string) => string,
  then?: (connection: Deno.Conn) => Promise<void>,
) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const connections: Deno.Conn[] = [];
  const serving = (async () => {
    for await (const connection of listener) {
      connections.push(connection);
      (async () => {
        const buffer = new Uint8Array(65536);
        const read = await connection.read(buffer).catch(() => null);
        if (read === null) return;
        const bytes = reply(new TextDecoder().decode(buffer.subarray(0, read)));
        if (bytes) await connection.write(encoder.encode(bytes)).catch(() => {});
        await then?.(connection).catch(() => {});
      })();
    }
  })();
  return {
    host: `127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    async [Symbol.asyncDispose]() {
      listener.close();
      for (const connection of connections) {
        try {
          connection.close();
        } catch {
          // Closed by the client already.
        }
      }
      await serving.catch(() => {});
    },
  };
}

Deno.test("resolve() fails with the registry's name when it never responds", async () => {
  await using server = startStallingServer(() => "");
  const client = createRegistryClient({ idleTimeoutMs: 150 });

  const error = await assertRejects(() => client.resolve(`${server.host}/x:1`), RemoteError);

  assert(
    error.message.includes(
      `registry "${server.host}" did not respond to GET /v2/x/manifests/1 within 0.15 s`,
    ),
    error.message,
  );
});

Deno.test("fetchBlob() fails when the registry stops sending a blob", async () => {
  const digest = `sha256:${"a".repeat(64)}` as const;
  await using server = startStallingServer(() =>
    "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 1000\r\n\r\n" +
    "partial"
  );
  const client = createRegistryClient({ idleTimeoutMs: 150 });
  const layer = { mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest, size: 1000 };

  const error = await assertRejects(async () => {
    const stream = await client.fetchBlob(`${server.host}/x:1`, layer);
    for await (const _chunk of stream) {
      // Reads until the stall.
    }
  }, RemoteError);

  assert(
    error.message.includes(`registry "${server.host}" sent nothing for 0.15 s`),
    error.message,
  );
});

Deno.test("resolve() fails with the token server's name when it never responds", async () => {
  await using tokens = startStallingServer(() => "");
  await using registry = startStallingServer(() =>
    "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n" +
    `WWW-Authenticate: Bearer realm="http://${tokens.host}/token"\r\n\r\n`
  );
  const client = createRegistryClient({ idleTimeoutMs: 150 });

  const error = await assertRejects(() => client.resolve(`${registry.host}/x:1`), RemoteError);

  assert(
    error.message.includes(
      `token server "http://${tokens.host}/token" did not respond within 0.15 s`,
    ),
    error.message,
  );
});

const digest = `sha256:${"a".repeat(64)}` as const;
const layer = { mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest, size: 100_000 };
const BLOB_HEADERS =
  "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 100000\r\n\r\n";

async function readAll(stream: ReadableStream<Uint8Array>): Promise<void> {
  for await (const _chunk of stream) {
    // Reads to the end or the error.
  }
}

Deno.test("fetchBlob() ends a body that trickles below the minimum rate", async () => {
  let stop = false;
  await using server = startStallingServer(() => BLOB_HEADERS, async (connection) => {
    while (!stop) {
      await connection.write(encoder.encode("x"));
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });
  const client = createRegistryClient({ idleTimeoutMs: 150 });

  try {
    const error = await assertRejects(
      async () => readAll(await client.fetchBlob(`${server.host}/x:1`, layer)),
      RemoteError,
    );

    assert(error.message.includes(`registry "${server.host}" sent only`), error.message);
  } finally {
    stop = true;
  }
});

Deno.test("fetchBlob() names the registry when it closes the connection mid-body", async () => {
  await using server = startStallingServer(() => BLOB_HEADERS + "partial", (connection) => {
    connection.close();
    return Promise.resolve();
  });
  const client = createRegistryClient({ idleTimeoutMs: 5_000 });

  const error = await assertRejects(
    async () => readAll(await client.fetchBlob(`${server.host}/x:1`, layer)),
    RemoteError,
  );

  assert(
    error.message.includes(`registry "${server.host}" stopped sending its response`),
    error.message,
  );
});

Deno.test("resolve() ends when the limit passes just as the headers arrive", async () => {
  const { busyboxRef } = await sharedRegistry();
  // Headers come back at once, but reach the client only after the 150 ms limit.
  const lateFetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const response = await fetch(input, init);
    await new Promise((resolve) => setTimeout(resolve, 300));
    return response;
  }) as typeof fetch;
  const client = createRegistryClient({ idleTimeoutMs: 150, fetch: lateFetch });

  const error = await assertRejects(() => client.resolve(busyboxRef), RemoteError);

  assert(error.message.includes("did not respond to GET"), error.message);
  assert(error.message.includes("(attempt 3 of 3)"), error.message);
});

Deno.test("createRegistryClient() rejects an idle limit setTimeout cannot keep", () => {
  for (const idleTimeoutMs of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 31, 1.5]) {
    assertThrows(
      () => createRegistryClient({ idleTimeoutMs }),
      RangeError,
      "Invalid idleTimeoutMs",
    );
  }
});
