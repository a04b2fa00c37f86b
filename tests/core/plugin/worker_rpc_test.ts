/**
 * Tests of the RPC between tsbuild and plugin workers, over a MessageChannel: calls, errors with
 * their code and data, streams and callbacks both ways, and closing.
 *
 * @module
 */

import { assertEquals, assertRejects } from "../../_assert.ts";
import { NotFoundError } from "../../../core/errors.ts";
import { createRpcEndpoint, type RpcHandlers } from "../../../core/plugin/worker_rpc.ts";

function connect(left: RpcHandlers, right: RpcHandlers) {
  const channel = new MessageChannel();
  channel.port1.start();
  channel.port2.start();
  const a = createRpcEndpoint(channel.port1, left);
  const b = createRpcEndpoint(channel.port2, right);
  return {
    a,
    b,
    [Symbol.dispose]() {
      a.close(new Error("closed"));
      b.close(new Error("closed"));
      channel.port1.close();
      channel.port2.close();
    },
  };
}

Deno.test("createRpcEndpoint() returns results and errors with code and data", async () => {
  using pair = connect({}, {
    add: (x: number, y: number) => x + y,
    find: (name: string) => {
      throw new NotFoundError(`Failed to find "${name}"`, { data: { name } });
    },
  });

  assertEquals(await pair.a.call("add", 2, 3), 5);
  const error = await assertRejects(() => pair.a.call("find", "x"));
  assertEquals(
    [error.name, error.message, (error as Error & { code?: string }).code],
    ["NotFoundError", `Failed to find "x"`, "NOT_FOUND"],
  );
  assertEquals((error as Error & { data?: unknown }).data, { name: "x" });
  await assertRejects(() => pair.a.call("missing"), Error, `Unknown RPC method "missing"`);
});

Deno.test("createRpcEndpoint() streams chunks on demand in both directions", async () => {
  const chunks = ["alpha", "beta", "gamma"].map((text) => new TextEncoder().encode(text));
  using pair = connect({}, {
    open: () => pair.b.exportStream(ReadableStream.from(chunks)),
    measure: async (id: number) =>
      (await new Response(pair.b.importStream(id)).arrayBuffer()).byteLength,
  });

  const id = await pair.a.call("open") as number;
  assertEquals(await new Response(pair.a.importStream(id)).text(), "alphabetagamma");
  const sent = pair.a.exportStream(ReadableStream.from(chunks));
  assertEquals(await pair.a.call("measure", sent), 14);
});

Deno.test("createRpcEndpoint() calls a function passed by id", async () => {
  using pair = connect({}, {
    twice: async (id: number) => {
      const fn = pair.b.importFunction(id);
      return [await fn("a"), await fn("b")];
    },
  });
  const id = pair.a.exportFunction((letter: string) => letter.toUpperCase());
  assertEquals(await pair.a.call("twice", id), ["A", "B"]);
});

Deno.test("createRpcEndpoint() reports a result that cannot be cloned", async () => {
  using pair = connect({}, { fn: () => ({ run: () => 1 }) });
  await assertRejects(() => pair.a.call("fn"), Error, `Failed to return the result of "fn"`);
});

Deno.test("close() rejects calls still waiting", async () => {
  using pair = connect({}, { slow: () => new Promise(() => {}) });
  const pending = pair.a.call("slow");
  pair.a.close(new Error("the worker stopped"));
  await assertRejects(() => pending, Error, "the worker stopped");
});
