/**
 * The executor that runs RUN step processes as containerd containers and tasks, on the same
 * root file systems the runc executor builds from tsbuild's snapshot directories.
 *
 * @module
 */

import type { ContainerdClient } from "../containerd/client.ts";
import { DEFAULT_RUNTIME } from "../containerd/containers.ts";
import { createTaskIo } from "../containerd/task_io.ts";
import type { ContainerdMount } from "../containerd/types.ts";
import { randomBytes } from "../deps.ts";
import { ContainerStartError, RemoteError, TsbuildError } from "../errors.ts";
import {
  cancelledError,
  createProcessSpec,
  runChecked,
  throwIfCancelled,
} from "./_process_spec.ts";
import type { ExecRequest, ExecResult, Executor } from "./executor.ts";
import { recordMountStubs } from "./mount_stubs.ts";
import { prepareRootfs, type SnapshotterSetting } from "./rootfs.ts";
import type { RuntimeSpec } from "./spec.ts";

/** The spec's root path, relative to the bundle, where the shim mounts the task's rootfs. */
const BUNDLE_ROOTFS = "rootfs";

/** SIGKILL, which ends a cancelled step's processes. */
const SIGKILL = 9;

/** Options of {@linkcode createContainerdExecutor}. */
export interface ContainerdExecutorOptions {
  /** The client whose namespace the containers are created in. */
  client: ContainerdClient;
  /**
   * The runtime containerd starts the task with.
   * @default "io.containerd.runc.v2", the runc shim every containerd 1.6 on Linux has
   */
  runtime?: string;
  /**
   * Strategy for building each run's root file system, as for the runc executor.
   * @default the value of TSBUILD_SNAPSHOTTER at each run, or "auto", which uses overlay when
   * the kernel allows it because it copies nothing
   */
  snapshotter?: SnapshotterSetting;
}

/**
 * Creates an executor that runs each request as a containerd container with a unique id. The
 * root file system is prepared on the host as for runc: an overlay of the snapshot diff
 * directories, or a copy. The task gets it as a bind mount, so what the process writes lands
 * in the request's upper directory. Output comes back through FIFOs as it is written,
 * and the exit code from the task's Wait.
 *
 * A run rejects with {@linkcode ContainerStartError} when containerd cannot create or start
 * the process (its message attached), with RemoteError when containerd is unreachable, and
 * with {@linkcode CancelledError} when the request's signal is aborted, after killing the
 * task. The task, the container record, the FIFOs and any mount are removed in every case.
 */
export function createContainerdExecutor(options: ContainerdExecutorOptions): Executor {
  // Clean-up must still reach containerd after a cancellation, so no call carries a signal;
  // a cancelled run ends by killing its task instead.
  const resolved: ResolvedOptions = {
    client: options.client.withSignal(undefined),
    runtime: options.runtime ?? DEFAULT_RUNTIME,
    snapshotter: options.snapshotter,
  };
  return {
    name: "containerd",
    run: (request) => runChecked(request, () => runRequest(resolved, request)),
  };
}

interface ResolvedOptions {
  client: ContainerdClient;
  runtime: string;
  snapshotter: SnapshotterSetting | undefined;
}

async function runRequest(options: ResolvedOptions, request: ExecRequest): Promise<ExecResult> {
  await using rootfs = await prepareRootfs(request.lowerDirs, request.upperDir, {
    snapshotter: options.snapshotter,
    signal: request.signal,
  });
  const scratch = await Deno.makeTempDir({ prefix: "tsbuild-containerd-" });
  try {
    const spec = createSpec(scratch, rootfs.path, request);
    const stubs = recordMountStubs(rootfs.path, spec.mounts.map((mount) => mount.destination));
    throwIfCancelled(request);
    const rootfsMount = { type: "bind", source: rootfs.path, options: ["rbind", "rw"] };
    const exitCode = await runTask(options, { scratch, spec, rootfs: [rootfsMount] }, request);
    stubs.remove();
    await rootfs.commit();
    return { exitCode };
  } finally {
    await Deno.remove(scratch, { recursive: true });
  }
}

/** Returns the runtime spec, whose root is the bundle's rootfs directory the shim mounts. */
function createSpec(scratch: string, rootPath: string, request: ExecRequest): RuntimeSpec {
  // NOTE: the shim inherits containerd's open-files limit, not tsbuild's; the spec uses
  // tsbuild's, which is right when both were started alike.
  return createProcessSpec(rootPath, BUNDLE_ROOTFS, scratch, request);
}

interface TaskSetup {
  /** Directory for the FIFOs. */
  scratch: string;
  spec: RuntimeSpec;
  rootfs: ContainerdMount[];
}

/** Creates the container and its task, runs it to its end, and removes both. */
async function runTask(
  options: ResolvedOptions,
  setup: TaskSetup,
  request: ExecRequest,
): Promise<number> {
  const { client } = options;
  const id = `tsbuild-${randomBytes(8).toString("hex")}`;
  await using io = createTaskIo(setup.scratch, { stdout: request.stdout, stderr: request.stderr });

  await client.containers.create({ id, spec: setup.spec, runtime: options.runtime });
  return await withCleanup(async () => {
    await createTask(client, id, setup, io, request);
    return await withCleanup(
      () => superviseTask(client, id, io.done, request),
      () => client.tasks.delete(id),
    );
  }, () => client.containers.delete(id));
}

/**
 * Runs `work`, then `cleanup`. A failure of `cleanup` is thrown only when `work` succeeded, so
 * it never hides the error that made the run fail.
 */
async function withCleanup<T>(work: () => Promise<T>, cleanup: () => Promise<unknown>): Promise<T> {
  let result: T;
  try {
    result = await work();
  } catch (error) {
    await cleanup().catch(() => {});
    throw error;
  }
  await cleanup();
  return result;
}

async function createTask(
  client: ContainerdClient,
  id: string,
  setup: TaskSetup,
  io: { stdout: string; stderr: string },
  request: ExecRequest,
): Promise<void> {
  try {
    await client.tasks.create({
      containerId: id,
      rootfs: setup.rootfs,
      stdout: io.stdout,
      stderr: io.stderr,
    });
  } catch (error) {
    throw startError(error, request);
  }
}

/**
 * Starts the task and waits for its exit and the end of its output, killing it when the
 * request's signal is aborted or an output callback throws.
 */
async function superviseTask(
  client: ContainerdClient,
  id: string,
  output: Promise<void>,
  request: ExecRequest,
): Promise<number> {
  let killing: Promise<void> | undefined;
  const kill = () => {
    killing ??= client.tasks.kill(id, SIGKILL, { all: true }).catch(() => {});
  };
  request.signal?.addEventListener("abort", kill, { once: true });
  const outputFailure = output.then(() => undefined, (error) => {
    kill();
    return error;
  });
  try {
    // The listener misses an abort that came while the container and task were created.
    if (request.signal?.aborted) {
      kill();
      await killing;
      await client.tasks.wait(id);
      throw cancelledError(request);
    }
    try {
      await client.tasks.start(id);
    } catch (error) {
      throw startError(error, request);
    }
    const exit = await client.tasks.wait(id);
    const failure = await outputFailure;
    await killing;
    if (request.signal?.aborted) throw cancelledError(request);
    if (failure !== undefined) throw failure;
    return exit.exitStatus;
  } finally {
    request.signal?.removeEventListener("abort", kill);
  }
}

/**
 * Returns a ContainerStartError for a failure containerd reported while creating or starting
 * the process, such as runc's "executable file not found"; a broken connection stays a
 * RemoteError.
 */
function startError(error: unknown, request: ExecRequest): Error {
  const reason = error instanceof TsbuildError ? error.data.reason : undefined;
  if (
    !(error instanceof RemoteError) || (reason !== "unknown" && reason !== "failed-precondition")
  ) {
    return error as Error;
  }
  const detail = error.message.slice(error.message.indexOf(": ") + 2);
  return new ContainerStartError(
    `Failed to start "${request.args[0]}" in the container: ${detail}`,
    { cause: error, data: { args: request.args, runtimeOutput: detail } },
  );
}
