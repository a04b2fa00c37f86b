/**
 * The parts of running a RUN step that do not depend on the runtime: request
 * checks and the OCI runtime spec for a prepared root filesystem.
 *
 * @module
 */

import { CancelledError, InvalidInputError } from "../errors.ts";
import { mkdirInRoot } from "./_root_path.ts";
import type { ExecRequest, ExecResult } from "./executor.ts";
import { writeNetworkFiles } from "./network_files.ts";
import { createRuntimeSpec, DEFAULT_MAX_OPEN_FILES, type RuntimeSpec } from "./spec.ts";
import { resolveUser } from "./user.ts";

/** The hostname a container gets when the request names none. */
export const DEFAULT_HOSTNAME = "tsbuild";

/** Rejects what a runtime would reject later with a less clear message. */
export function checkExecRequest(request: ExecRequest): void {
  if (request.args.length === 0) {
    throw new InvalidInputError("Invalid process: the argument list is empty");
  }
  if (!request.cwd.startsWith("/")) {
    throw new InvalidInputError(
      `Invalid working directory "${request.cwd}": expected an absolute path`,
    );
  }
  for (const mount of request.mounts ?? []) {
    if (!mount.dest.startsWith("/")) {
      throw new InvalidInputError(
        `Invalid mount destination "${mount.dest}": expected an absolute path`,
      );
    }
  }
}

/**
 * Returns the runtime spec for `request` on the root filesystem at `rootfs`:
 * resolves the user there, creates the working directory, and writes the
 * network files into `filesDir`. `specRoot` is the root path as the runtime
 * addresses it. The calls are synchronous, as those of `_root_path.ts` are.
 */
export function createProcessSpec(
  rootfs: string,
  specRoot: string,
  filesDir: string,
  request: ExecRequest,
): RuntimeSpec {
  const user = resolveUser(rootfs, request.user);
  // Docker creates a missing working directory owned by root, whatever the user.
  mkdirInRoot(rootfs, request.cwd, 0, 0);

  const hostname = request.hostname ?? DEFAULT_HOSTNAME;
  const networkFiles = request.network === "host"
    ? writeNetworkFiles(filesDir, hostname)
    : undefined;
  return createRuntimeSpec({
    rootPath: specRoot,
    args: request.args,
    env: request.env,
    cwd: request.cwd,
    user,
    hostname,
    network: request.network,
    networkFiles,
    mounts: request.mounts,
    maxOpenFiles: hardOpenFilesLimit(),
  });
}

/**
 * Returns this process's hard limit on open files, capped at the spec's
 * default. The runtime sets the limit without CAP_SYS_RESOURCE, so it must not
 * exceed the limit the runtime inherits, which is taken to be this process's.
 */
function hardOpenFilesLimit(): number {
  let limits = "";
  try {
    limits = Deno.readTextFileSync("/proc/self/limits");
  } catch {
    // No procfs: use the spec's default.
  }
  const hard = limits.match(/^Max open files\s+\S+\s+(\d+)/m)?.[1];
  return hard === undefined
    ? DEFAULT_MAX_OPEN_FILES
    : Math.min(Number(hard), DEFAULT_MAX_OPEN_FILES);
}

/**
 * Checks `request`, then runs it with `run`. A failure after the request's
 * signal was aborted becomes a CancelledError that keeps the failure as cause.
 */
export async function runChecked(
  request: ExecRequest,
  run: () => Promise<ExecResult>,
): Promise<ExecResult> {
  try {
    throwIfCancelled(request);
    checkExecRequest(request);
    return await run();
  } catch (error) {
    if (request.signal?.aborted && !(error instanceof CancelledError)) {
      throw cancelledError(request, error);
    }
    throw error;
  }
}

/** Throws a CancelledError when the request's signal was aborted. */
export function throwIfCancelled(request: ExecRequest): void {
  if (request.signal?.aborted) throw cancelledError(request);
}

/** Returns the error for a run stopped by the request's signal. */
export function cancelledError(request: ExecRequest, cause?: unknown): CancelledError {
  const command = request.args.join(" ");
  const shortened = command.length > 200 ? `${command.slice(0, 200)}…` : command;
  return new CancelledError(`Cancelled the process "${shortened}"`, {
    cause: cause ?? request.signal?.reason,
  });
}
