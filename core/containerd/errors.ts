/**
 * The one place where errors of containerd calls become tsbuild errors, with the Connect error
 * kept as `cause`.
 *
 * @module
 */

import { Code, ConnectError } from "@connectrpc/connect";
import {
  AlreadyExistsError,
  CancelledError,
  InvalidInputError,
  NotFoundError,
  RemoteError,
  TsbuildError,
  type TsbuildErrorOptions,
} from "../errors.ts";

export { AlreadyExistsError };

/** The description of a failed call that the error message is built from. */
export interface ContainerdCall {
  /** The failed action, starting with "Failed to", e.g. `Failed to get image "…"`. */
  operation: string;
  /** The socket path the client dials. */
  address: string;
  namespace: string;
  /** The signal the call ran under; an aborted signal turns any failure into CancelledError. */
  signal?: AbortSignal;
}

/** The reason containerd could not be used, as `data.reason` of the RemoteError. */
export type ContainerdFailure =
  | "socket-missing"
  | "permission-denied"
  | "unreachable"
  | "connection-lost"
  | "unimplemented"
  | "failed-precondition"
  | "unknown";

/**
 * Converts an error thrown by a containerd call into a tsbuild error. tsbuild errors pass through
 * unchanged, so wrapping a call twice is harmless.
 *
 * - The socket is missing: RemoteError naming the path (`data.reason` "socket-missing").
 * - Permission denied on the socket: RemoteError naming the path ("permission-denied").
 * - Nothing listens, or the connection broke: RemoteError ("unreachable", "connection-lost").
 * - An unimplemented method, as from a containerd older than 1.6: RemoteError ("unimplemented").
 * - NotFound: NotFoundError. AlreadyExists: AlreadyExistsError.
 * - InvalidArgument: InvalidInputError with containerd's message, since tsbuild passes user
 *   input such as image names through.
 * - Any failure once `call.signal` is aborted: CancelledError.
 */
export function containerdError(error: unknown, call: ContainerdCall): Error {
  if (error instanceof TsbuildError) return error;
  // An error thrown while tsbuild produced a stream's requests comes back wrapped.
  if (error instanceof ConnectError && error.cause instanceof TsbuildError) return error.cause;
  if (call.signal?.aborted) {
    return new CancelledError(`${call.operation}: the build was cancelled`, { cause: error });
  }
  const connectError = ConnectError.from(error);
  const options = (reason?: ContainerdFailure): TsbuildErrorOptions => ({
    cause: error,
    data: {
      address: call.address,
      namespace: call.namespace,
      code: Code[connectError.code],
      ...(reason ? { reason } : {}),
    },
  });

  const connection = connectionFailure(connectError, call, options);
  if (connection) return connection;
  return statusError(connectError, call, options);
}

function connectionFailure(
  error: ConnectError,
  call: ContainerdCall,
  options: (reason: ContainerdFailure) => TsbuildErrorOptions,
): Error | undefined {
  const systemCode = (error.cause as { code?: unknown } | undefined)?.code;
  const address = call.address;
  switch (systemCode) {
    case "ENOENT":
      return new RemoteError(
        `${call.operation}: containerd socket "${address}" does not exist (start containerd, or set --containerd-address or CONTAINERD_ADDRESS)`,
        options("socket-missing"),
      );
    case "EACCES":
    case "EPERM":
      return new RemoteError(
        `${call.operation}: permission denied on containerd socket "${address}" (run as root or as a user the socket's group allows)`,
        options("permission-denied"),
      );
    case "ECONNREFUSED":
    case "ENOTSOCK":
      return new RemoteError(
        `${call.operation}: nothing accepts connections on containerd socket "${address}" (is containerd running?)`,
        options("unreachable"),
      );
  }
  // Without a gRPC status from containerd, the call failed in the transport: the socket closed
  // mid-call (ECONNRESET, EPIPE, or ECANCELED from Deno's HTTP/2) or the session broke.
  if (!error.isWireError && error.code !== Code.Canceled && error.code !== Code.DeadlineExceeded) {
    return connectionLost(error, call, options);
  }
  return undefined;
}

function connectionLost(
  error: ConnectError,
  call: ContainerdCall,
  options: (reason: ContainerdFailure) => TsbuildErrorOptions,
): RemoteError {
  return new RemoteError(
    `${call.operation}: lost the connection to containerd at "${call.address}" (${error.rawMessage})`,
    options("connection-lost"),
  );
}

function statusError(
  error: ConnectError,
  call: ContainerdCall,
  options: (reason?: ContainerdFailure) => TsbuildErrorOptions,
): Error {
  const detail = error.rawMessage;
  switch (error.code) {
    case Code.NotFound:
      return new NotFoundError(
        `${call.operation}: not found in containerd namespace "${call.namespace}"`,
        options(),
      );
    case Code.AlreadyExists:
      return new AlreadyExistsError(
        `${call.operation}: already exists in containerd namespace "${call.namespace}"`,
        options(),
      );
    case Code.InvalidArgument:
      return new InvalidInputError(
        `${call.operation}: containerd rejected it: ${detail}`,
        options(),
      );
    case Code.Unimplemented:
      return new RemoteError(
        `${call.operation}: containerd at "${call.address}" does not implement this call (${detail}); tsbuild needs containerd 1.6 or later`,
        options("unimplemented"),
      );
    case Code.FailedPrecondition:
      return new RemoteError(`${call.operation}: ${detail}`, options("failed-precondition"));
    case Code.Canceled:
      return new CancelledError(`${call.operation}: the call was cancelled`, options());
    default:
      return new RemoteError(`${call.operation}: ${detail}`, options("unknown"));
  }
}
