/**
 * Parses `--ssh ID=SOCKET` (and `--ssh ID`, which takes $SSH_AUTH_SOCK) into
 * the SSH agents a build may forward to `RUN --mount=type=ssh`.
 *
 * @module
 */

import { InvalidInputError } from "../errors.ts";
import type { SshAgentProvider } from "../solver/ssh_agents.ts";

/**
 * Returns a provider for the agents named by `--ssh` values. Each socket is
 * checked now, so a wrong path fails before the build starts.
 *
 * NOTE: buildx also accepts private key files in place of a socket and runs
 * an agent for them; here only agent sockets are accepted.
 *
 * @throws {InvalidInputError} naming the flag for a missing id, an unset
 * SSH_AUTH_SOCK, several paths, or a path that is not a socket.
 */
export function parseSshFlags(
  values: string[],
  env: (name: string) => string | undefined = (name) => Deno.env.get(name),
): SshAgentProvider {
  const sockets = new Map<string, string>();
  for (const value of values) {
    const equals = value.indexOf("=");
    const id = equals < 0 ? value : value.slice(0, equals);
    if (!id) throw new InvalidInputError(`Invalid --ssh "${value}": missing the id before "="`);
    const path = equals < 0 ? env("SSH_AUTH_SOCK") : value.slice(equals + 1);
    if (!path) {
      throw new InvalidInputError(
        `Invalid --ssh "${value}": SSH_AUTH_SOCK is not set (start ssh-agent or pass ${id}=SOCKET)`,
      );
    }
    if (path.includes(",")) {
      throw new InvalidInputError(
        `Invalid --ssh "${value}": give one agent socket; key files are not supported (add the keys to an agent with ssh-add)`,
      );
    }
    checkSocket(value, path);
    sockets.set(id, path);
  }
  return { socket: (id) => sockets.get(id) };
}

function checkSocket(value: string, path: string): void {
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(path);
  } catch (error) {
    throw new InvalidInputError(`Invalid --ssh "${value}": "${path}" does not exist`, {
      cause: error,
    });
  }
  if (!info.isSocket) {
    throw new InvalidInputError(
      `Invalid --ssh "${value}": "${path}" is not an agent socket; key files are not supported (add the keys to an agent with ssh-add)`,
    );
  }
}
