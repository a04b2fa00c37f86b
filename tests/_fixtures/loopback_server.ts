/**
 * Test fixture that serves an HTTP handler on 127.0.0.1 and a free port, for mock servers.
 *
 * @module
 */

/** A server started by `startLoopbackServer()`; stop it with `stop()` or `await using`. */
export interface LoopbackServer extends AsyncDisposable {
  /** "127.0.0.1:PORT". */
  host: string;
  /** Stops accepting connections and waits for open requests to finish. */
  stop(): Promise<void>;
}

/** Starts `Deno.serve()` with `handler` on 127.0.0.1 and a port the system picks. */
export function startLoopbackServer(
  handler: (request: Request) => Response | Promise<Response>,
): LoopbackServer {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, handler);
  let stopping: Promise<void> | undefined;
  const stop = () => stopping ??= server.shutdown();
  return { host: `127.0.0.1:${server.addr.port}`, stop, [Symbol.asyncDispose]: stop };
}

/** Returns a port on 127.0.0.1 that nothing listens on, found by binding and closing it. */
export function closedLoopbackPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}
