import { Code, ConnectError } from "@connectrpc/connect";
import { AlreadyExistsError, containerdError } from "../../../core/containerd/errors.ts";
import {
  CancelledError,
  InvalidInputError,
  NotFoundError,
  RemoteError,
} from "../../../core/errors.ts";
import { assert, assertEquals } from "../../_assert.ts";

// These cases cannot be produced on demand with the real daemon (tests run as root, which no
// socket permission stops, and containerd 1.6 implements every call tsbuild makes), so the
// Connect errors are built here the way connect-node reports them.
const call = {
  operation: "Failed to list images",
  address: "/run/test/containerd.sock",
  namespace: "buildkit",
};

function transportError(systemCode: string, message: string): ConnectError {
  const cause = Object.assign(new Error(message), { code: systemCode });
  return new ConnectError(message, Code.Internal, undefined, undefined, cause);
}

function wireError(code: Code, message: string): ConnectError {
  const error = new ConnectError(message, code);
  error.isWireError = true;
  return error;
}

Deno.test("containerdError() names the socket on permission denied", () => {
  const error = containerdError(
    transportError("EACCES", "connect EACCES /run/test/containerd.sock"),
    call,
  );

  assert(error instanceof RemoteError);
  assertEquals(
    error.message,
    'Failed to list images: permission denied on containerd socket "/run/test/containerd.sock" (run as root or as a user the socket\'s group allows)',
  );
  assertEquals(error.data.reason, "permission-denied");
  assert(error.cause instanceof ConnectError);
});

Deno.test("containerdError() asks for a newer containerd on unimplemented", () => {
  const error = containerdError(
    wireError(Code.Unimplemented, "unknown service containerd.services.leases.v1.Leases"),
    call,
  );

  assert(error instanceof RemoteError);
  assertEquals(
    error.message,
    'Failed to list images: containerd at "/run/test/containerd.sock" does not implement this call (unknown service containerd.services.leases.v1.Leases); tsbuild needs containerd 1.6 or later',
  );
  assertEquals(error.data.reason, "unimplemented");
});

Deno.test("containerdError() maps status codes to tsbuild errors", () => {
  const notFound = containerdError(wireError(Code.NotFound, 'image "x": not found'), call);
  const exists = containerdError(wireError(Code.AlreadyExists, "image exists"), call);
  const invalid = containerdError(wireError(Code.InvalidArgument, "bad name"), call);
  const other = containerdError(wireError(Code.Internal, "disk full"), call);

  assert(notFound instanceof NotFoundError);
  assertEquals(
    notFound.message,
    'Failed to list images: not found in containerd namespace "buildkit"',
  );
  assert(exists instanceof AlreadyExistsError);
  assertEquals(exists.code, "ALREADY_EXISTS");
  assert(invalid instanceof InvalidInputError);
  assertEquals(invalid.message, "Failed to list images: containerd rejected it: bad name");
  assert(other instanceof RemoteError);
  assertEquals(other.message, "Failed to list images: disk full");
});

Deno.test("containerdError() reports a broken connection", () => {
  const error = containerdError(transportError("ECONNRESET", "read ECONNRESET"), call);

  assert(error instanceof RemoteError);
  assertEquals(
    error.message,
    'Failed to list images: lost the connection to containerd at "/run/test/containerd.sock" (read ECONNRESET)',
  );
  assertEquals(error.data.reason, "connection-lost");
});

Deno.test("containerdError() turns any failure after an abort into CancelledError", () => {
  const controller = new AbortController();
  controller.abort();

  const error = containerdError(transportError("ECONNRESET", "read ECONNRESET"), {
    ...call,
    signal: controller.signal,
  });

  assert(error instanceof CancelledError);
  assertEquals(error.message, "Failed to list images: the build was cancelled");
});

Deno.test("containerdError() passes tsbuild errors through, also wrapped", () => {
  const original = new NotFoundError("Failed to open blob: gone");
  const wrapped = new ConnectError("gone", Code.Unknown, undefined, undefined, original);

  assertEquals(containerdError(original, call), original);
  assertEquals(containerdError(wrapped, call), original);
});
