/**
 * The RPC between tsbuild and a plugin worker: calls with replies, one-way notes, and streams and
 * callbacks passed by id, over `postMessage`. Both sides use {@link createRpcEndpoint}.
 *
 * @module
 */

/** The channel of an endpoint: a Worker on the host side, the worker's global scope inside. */
export interface RpcPort {
  postMessage(message: unknown): void;
  addEventListener(type: "message", listener: (event: MessageEvent) => void): void;
  removeEventListener(type: "message", listener: (event: MessageEvent) => void): void;
}

// deno-lint-ignore no-explicit-any
type AnyFunction = (...args: any[]) => unknown;

/** Handlers for the other side's calls and notes, by method name. */
export type RpcHandlers = Record<string, AnyFunction>;

/** An error as it crosses: the fields tsbuild errors carry, and the cause chain. */
export interface RpcError {
  name: string;
  message: string;
  stack?: string;
  code?: string;
  data?: Record<string, unknown>;
  cause?: RpcError;
}

/** One side of the connection. */
export interface RpcEndpoint {
  /** Calls `method` on the other side and resolves with its result. */
  call(method: string, ...args: unknown[]): Promise<unknown>;
  /** Sends a note the other side handles without replying. */
  notify(method: string, ...args: unknown[]): void;
  /** Lets the other side read `stream` by the returned id (see `importStream`). */
  exportStream(stream: ReadableStream<Uint8Array>): number;
  /** Returns a stream that reads, chunk by chunk on demand, the other side's stream `id`. */
  importStream(id: number): ReadableStream<Uint8Array>;
  /** Lets the other side call `fn` by the returned id (see `importFunction`). */
  exportFunction(fn: AnyFunction): number;
  /** Returns a function that calls the other side's function `id`. */
  importFunction(id: number): (...args: unknown[]) => Promise<unknown>;
  /** Rejects every call still waiting with `error` and stops listening. */
  close(error: Error): void;
}

/**
 * Creates an endpoint on `port` that serves `handlers`.
 *
 * NOTE: the worker receives this function's source text, not an import, because a worker made
 * from a `data:` URL can load nothing else of tsbuild. The body must therefore use no name from
 * outside it.
 */
export function createRpcEndpoint(port: RpcPort, handlers: RpcHandlers): RpcEndpoint {
  let nextId = 1;
  let closedWith: Error | undefined;
  const pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  const streams = new Map<number, ReadableStreamDefaultReader<Uint8Array>>();
  const functions = new Map<number, AnyFunction>();

  const toRpcError = (error: unknown, depth = 0): RpcError => {
    if (!(error instanceof Error)) return { name: "Error", message: String(error) };
    const tagged = error as Error & { code?: unknown; data?: unknown };
    let data: Record<string, unknown> | undefined;
    try {
      data = tagged.data === undefined ? undefined : structuredClone(tagged.data) as typeof data;
    } catch {
      data = undefined;
    }
    return {
      name: error.name,
      message: error.message,
      stack: error.stack,
      code: typeof tagged.code === "string" ? tagged.code : undefined,
      data,
      cause: error.cause !== undefined && depth < 8
        ? toRpcError(error.cause, depth + 1)
        : undefined,
    };
  };
  const fromRpcError = (rpc: RpcError): Error => {
    const error = new Error(rpc.message, rpc.cause ? { cause: fromRpcError(rpc.cause) } : {});
    error.name = rpc.name;
    if (rpc.stack) error.stack = rpc.stack;
    if (rpc.code) Object.assign(error, { code: rpc.code });
    if (rpc.data) Object.assign(error, { data: rpc.data });
    return error;
  };
  const send = (message: Record<string, unknown>) => {
    if (closedWith) throw closedWith;
    port.postMessage(message);
  };

  const builtins: RpcHandlers = {
    "$stream.pull": async (id: number) => {
      const reader = streams.get(id);
      if (!reader) throw new Error(`Stream ${id} is closed or unknown`);
      const { done, value } = await reader.read();
      if (done) streams.delete(id);
      return done ? { done: true } : { done: false, value };
    },
    "$stream.cancel": async (id: number, reason: string) => {
      const reader = streams.get(id);
      streams.delete(id);
      await reader?.cancel(reason);
    },
    "$function.call": (id: number, args: unknown[]) => {
      const fn = functions.get(id);
      if (!fn) throw new Error(`Function ${id} is unknown`);
      return fn(...args);
    },
  };

  const answer = async (message: { id: number; method: string; args: unknown[] }) => {
    let reply: Record<string, unknown>;
    try {
      const handler = builtins[message.method] ?? handlers[message.method];
      if (!handler) throw new Error(`Unknown RPC method "${message.method}"`);
      reply = { type: "result", id: message.id, value: await handler(...message.args) };
    } catch (error) {
      reply = { type: "error", id: message.id, error: toRpcError(error) };
    }
    try {
      send(reply);
    } catch (error) {
      // A result that cannot be cloned (a function, a class instance with private state).
      if (closedWith) return;
      const problem = new Error(
        `Failed to return the result of "${message.method}": ${(error as Error).message}`,
      );
      send({ type: "error", id: message.id, error: toRpcError(problem) });
    }
  };

  const onMessage = (event: MessageEvent) => {
    const message = event.data;
    if (message === null || typeof message !== "object") return;
    switch (message.type) {
      case "call":
        void answer(message);
        return;
      case "note":
        try {
          handlers[message.method]?.(...message.args);
        } catch {
          // A note has no one to report to; its handler must not throw.
        }
        return;
      case "result":
      case "error": {
        const waiting = pending.get(message.id);
        pending.delete(message.id);
        if (!waiting) return;
        if (message.type === "result") waiting.resolve(message.value);
        else waiting.reject(fromRpcError(message.error));
        return;
      }
    }
  };
  port.addEventListener("message", onMessage);

  const call = (method: string, ...args: unknown[]): Promise<unknown> => {
    if (closedWith) return Promise.reject(closedWith);
    const id = nextId++;
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject });
      try {
        send({ type: "call", id, method, args });
      } catch (error) {
        pending.delete(id);
        reject(error);
      }
    });
  };

  return {
    call,
    notify(method, ...args) {
      if (!closedWith) port.postMessage({ type: "note", method, args });
    },
    exportStream(stream) {
      const id = nextId++;
      streams.set(id, stream.getReader());
      return id;
    },
    importStream(id) {
      return new ReadableStream<Uint8Array>({
        async pull(controller) {
          const chunk = await call("$stream.pull", id) as { done: boolean; value?: Uint8Array };
          if (chunk.done) controller.close();
          else controller.enqueue(chunk.value!);
        },
        async cancel(reason) {
          await call("$stream.cancel", id, String(reason)).catch(() => {});
        },
      }, { highWaterMark: 0 });
    },
    exportFunction(fn) {
      const id = nextId++;
      functions.set(id, fn);
      return id;
    },
    importFunction(id) {
      return (...args: unknown[]) => call("$function.call", id, args);
    },
    close(error) {
      if (closedWith) return;
      closedWith = error;
      port.removeEventListener("message", onMessage);
      for (const waiting of pending.values()) waiting.reject(error);
      pending.clear();
      for (const reader of streams.values()) reader.cancel(error.message).catch(() => {});
      streams.clear();
      functions.clear();
    },
  };
}
