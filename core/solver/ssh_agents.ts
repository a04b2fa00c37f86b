/**
 * SSH agents a build may forward into RUN steps, by id.
 *
 * @module
 */

/**
 * Looks up the host's SSH agent sockets by id, as named by `--ssh ID=SOCKET`.
 * Only the socket's path is known to the build; keys never leave the agent.
 */
export interface SshAgentProvider {
  /** Returns the path of the agent socket for `id`, or undefined when no agent has that id. */
  socket(id: string): string | undefined;
}
