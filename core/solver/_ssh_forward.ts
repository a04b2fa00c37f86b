/**
 * Forwards an SSH agent into a RUN step: a new socket with the owner and mode
 * the mount requests, whose connections are relayed to the host's agent.
 *
 * @module
 */

/** A relay socket listening until `close` is called. */
export interface AgentRelay {
  /** Host path of the relay socket, to bind into the container. */
  path: string;
  close(): Promise<void>;
}

/** Options for {@link startAgentRelay}. */
export interface AgentRelayOptions {
  /** An existing empty directory for the relay socket. */
  dir: string;
  uid: number;
  gid: number;
  mode: number;
}

/**
 * Listens on `<dir>/agent.sock` and relays each connection to the agent at
 * `agentSocket`. The relay, not a bind of the agent's own socket, lets the
 * step's user reach the agent whatever the owner of the host socket.
 */
export async function startAgentRelay(
  agentSocket: string,
  options: AgentRelayOptions,
): Promise<AgentRelay> {
  const path = `${options.dir}/agent.sock`;
  const listener = Deno.listen({ transport: "unix", path });
  await Deno.chown(path, options.uid, options.gid);
  await Deno.chmod(path, options.mode);

  const connections = new Set<Deno.Conn>();
  const accepting = (async () => {
    for await (const connection of listener) {
      connections.add(connection);
      relay(connection, agentSocket).finally(() => connections.delete(connection));
    }
  })().catch(() => {});

  return {
    path,
    async close() {
      listener.close();
      await accepting;
      for (const connection of connections) closeQuietly(connection);
    },
  };
}

// A failed connection to the agent closes the client's side, which the client sees as the
// agent hanging up; ssh reports that itself.
async function relay(client: Deno.Conn, agentSocket: string): Promise<void> {
  let agent: Deno.Conn;
  try {
    agent = await Deno.connect({ transport: "unix", path: agentSocket });
  } catch {
    closeQuietly(client);
    return;
  }
  await Promise.allSettled([
    client.readable.pipeTo(agent.writable),
    agent.readable.pipeTo(client.writable),
  ]);
  closeQuietly(client);
  closeQuietly(agent);
}

function closeQuietly(connection: Deno.Conn): void {
  try {
    connection.close();
  } catch {
    // Already closed by the piping above.
  }
}
