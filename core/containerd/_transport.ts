/**
 * The gRPC transport to containerd: HTTP/2 over its unix socket.
 *
 * @module
 */

import type { Transport } from "@connectrpc/connect";
import type { Http2SessionManager } from "@connectrpc/connect-node";
import { connect } from "node:net";

// HTTP/2 needs an authority; containerd ignores it, because the socket path decides where the
// connection goes.
const BASE_URL = "http://localhost";

/** containerd's own limit on received messages is 16 MiB; responses stay far below it. */
const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

/** A transport and the HTTP/2 connection it uses, which `close` ends. */
export interface ContainerdTransport {
  readonly transport: Transport;
  /** Closes the HTTP/2 session; later calls open a new one. */
  close(): void;
}

/**
 * Creates a transport to the containerd socket at `address`. The connection is opened on the
 * first call and reopened after it breaks, for example when containerd restarts.
 */
export function createContainerdTransport(address: string): ContainerdTransport {
  // connect-node and node:http2 take about 35 ms to load, so builds that never talk to
  // containerd do not load them.
  let loaded: Promise<{ transport: Transport; sessionManager: Http2SessionManager }> | undefined;
  const load = () =>
    loaded ??= import("@connectrpc/connect-node").then(
      ({ createGrpcTransport, Http2SessionManager }) => {
        const sessionManager = new Http2SessionManager(BASE_URL, {}, {
          createConnection: () => connect(address),
        });
        const transport = createGrpcTransport({
          baseUrl: BASE_URL,
          sessionManager,
          readMaxBytes: MAX_MESSAGE_BYTES,
          writeMaxBytes: MAX_MESSAGE_BYTES,
        });
        return { transport, sessionManager };
      },
    );
  const transport: Transport = {
    unary: async (...args) => (await load()).transport.unary(...args),
    stream: async (...args) => (await load()).transport.stream(...args),
  };
  return {
    transport,
    close: () => void loaded?.then(({ sessionManager }) => sessionManager.abort()),
  };
}
