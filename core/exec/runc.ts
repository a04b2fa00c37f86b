/**
 * The executor that runs RUN step processes with runc.
 *
 * @module
 */

import { processExists } from "../fs/process_exists.ts";
import { join, randomBytes } from "../deps.ts";
import { ContainerStartError, NotFoundError } from "../errors.ts";
import {
  cancelledError,
  createProcessSpec,
  DEFAULT_HOSTNAME,
  runChecked,
  throwIfCancelled,
} from "./_process_spec.ts";
import {
  deleteContainer,
  killContainer,
  readRuncErrors,
  runcCommand,
  type RuncLocation,
} from "./_runc_cli.ts";
import type { ExecRequest, ExecResult, Executor } from "./executor.ts";
import { recordMountStubs } from "./mount_stubs.ts";
import { prepareRootfs, type Rootfs, type SnapshotterSetting } from "./rootfs.ts";

/** Path of runc as Debian's runc package installs it. */
export const DEFAULT_RUNC_PATH = "/usr/sbin/runc";

/** Hostname of a container whose request sets none. */
export { DEFAULT_HOSTNAME };

/** How much of runc's standard error a {@linkcode ContainerStartError} keeps. */
const STDERR_TAIL_BYTES = 8192;

/** Options of {@linkcode createRuncExecutor}. */
export interface RuncExecutorOptions {
  /** @default "/usr/sbin/runc", where Debian's runc package installs it */
  runcPath?: string;
  /** Directory for runc's container state (`runc --root`); created when missing. */
  stateRoot: string;
  /**
   * Strategy for building each run's root file system.
   * @default the value of TSBUILD_SNAPSHOTTER at each run, or "auto", which uses overlay when
   * the kernel allows it because it copies nothing
   */
  snapshotter?: SnapshotterSetting;
  /**
   * Directory for run bundles. Bundle names start with this process's pid, so
   * the store's cleanup of abandoned temporary directories also removes the
   * bundles of a killed tsbuild.
   * @default the system's temporary directory
   */
  bundleRoot?: string;
}

/**
 * Creates an executor that runs each request as a runc container with a
 * unique id, streaming its output to the request's callbacks.
 *
 * A run rejects with {@linkcode NotFoundError} when runc is missing, with
 * {@linkcode ContainerStartError} (runc's message and output attached) when
 * runc cannot start the process, and with {@linkcode CancelledError} when the
 * request's signal is aborted, after killing the container. The container
 * state, the bundle and any mount are removed in every case.
 */
export function createRuncExecutor(options: RuncExecutorOptions): Executor {
  const resolved: ResolvedOptions = {
    runcPath: options.runcPath ?? DEFAULT_RUNC_PATH,
    stateRoot: options.stateRoot,
    snapshotter: options.snapshotter,
    bundleRoot: options.bundleRoot,
  };
  let reaped: Promise<void> | undefined;
  return {
    name: "runc",
    run: async (request) => {
      reaped ??= reapAbandonedContainers(resolved);
      await reaped;
      return await runChecked(request, () => runRequest(resolved, request));
    },
  };
}

interface ResolvedOptions extends RuncLocation {
  snapshotter: SnapshotterSetting | undefined;
  bundleRoot: string | undefined;
}

/**
 * Kills and deletes containers whose tsbuild process was killed. Container ids
 * carry the pid of the tsbuild that started them, and such a container keeps
 * running until something deletes it. Costs one directory listing when there
 * is nothing to reap.
 */
export async function reapAbandonedContainers(options: RuncLocation): Promise<void> {
  let names: string[] = [];
  try {
    names = Array.from(Deno.readDirSync(options.stateRoot), (entry) => entry.name);
  } catch {
    return;
  }
  const abandoned = names.some((name) => {
    const pid = Number(/^tsbuild-(\d+)-/.exec(name)?.[1]);
    return pid > 0 && pid !== Deno.pid && !processExists(pid);
  });
  if (!abandoned) return;

  let listed: Array<{ id: string }> = [];
  try {
    const output = await new Deno.Command(options.runcPath, {
      args: ["--root", options.stateRoot, "list", "--format", "json"],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).output();
    if (!output.success) return;
    listed = JSON.parse(new TextDecoder().decode(output.stdout) || "[]") ?? [];
  } catch {
    return;
  }
  for (const { id } of listed) {
    const pid = Number(/^tsbuild-(\d+)-/.exec(id)?.[1]);
    if (!pid || pid === Deno.pid || processExists(pid)) continue;
    await runcCommand(options, ["kill", id, "KILL"]);
    await deleteContainer(options, id);
  }
}

async function runRequest(options: ResolvedOptions, request: ExecRequest): Promise<ExecResult> {
  // The small calls that prepare a run are synchronous, as those of `_root_path.ts` are.
  checkRunc(options.runcPath);
  Deno.mkdirSync(options.stateRoot, { recursive: true, mode: 0o700 });

  await using rootfs = await prepareRootfs(request.lowerDirs, request.upperDir, {
    snapshotter: options.snapshotter,
    signal: request.signal,
  });
  if (options.bundleRoot) Deno.mkdirSync(options.bundleRoot, { recursive: true });
  const bundle = Deno.makeTempDirSync({
    dir: options.bundleRoot,
    prefix: `${Deno.pid}-runc-bundle-`,
  });
  try {
    const mountPoints = writeBundle(bundle, rootfs, request);
    const stubs = recordMountStubs(rootfs.path, mountPoints);
    throwIfCancelled(request);
    const exitCode = await runContainer(options, bundle, request);
    stubs.remove();
    await rootfs.commit();
    return { exitCode };
  } finally {
    Deno.removeSync(bundle, { recursive: true });
  }
}

/** Writes config.json and the network files into `bundle`; returns the mount destinations. */
function writeBundle(bundle: string, rootfs: Rootfs, request: ExecRequest): string[] {
  const spec = createProcessSpec(rootfs.path, rootfs.path, bundle, request);
  Deno.writeTextFileSync(join(bundle, "config.json"), JSON.stringify(spec, null, 2));
  return spec.mounts.map((mount) => mount.destination);
}

/** Runs `runc run` in the foreground and returns the process's exit code. */
async function runContainer(
  options: ResolvedOptions,
  bundle: string,
  request: ExecRequest,
): Promise<number> {
  const id = `tsbuild-${Deno.pid}-${randomBytes(6).toString("hex")}`;
  const logPath = join(bundle, "runc-log.json");
  const args = ["--log", logPath, "--log-format", "json", "run", "--bundle", bundle, id];
  const runcProcess = spawnRunc(options, args);
  const stderrTail = new OutputTail(STDERR_TAIL_BYTES);

  const outcome = await superviseContainer(options, id, runcProcess, request, stderrTail);
  const deleteFailure = await deleteContainer(options, id);

  if (outcome.failure !== undefined) throw outcome.failure;
  if (request.signal?.aborted) throw cancelledError(request);
  if (deleteFailure) throw deleteFailure;
  if (outcome.exitCode !== 0) await throwIfStartFailed(logPath, request, stderrTail);
  return outcome.exitCode!;
}

/**
 * Forwards runc's output until it exits, killing the container when the
 * request's signal is aborted or an output callback throws.
 */
async function superviseContainer(
  options: ResolvedOptions,
  id: string,
  runcProcess: Deno.ChildProcess,
  request: ExecRequest,
  stderrTail: OutputTail,
): Promise<{ exitCode?: number; failure?: unknown }> {
  let killing: Promise<void> | undefined;
  const kill = () => {
    killing ??= killContainer(options, id, runcProcess);
  };
  request.signal?.addEventListener("abort", kill, { once: true });

  let outcome: { exitCode?: number; failure?: unknown };
  try {
    const [status] = await Promise.all([
      runcProcess.status,
      forward(runcProcess.stdout, request.stdout),
      forward(runcProcess.stderr, (chunk) => {
        stderrTail.push(chunk);
        request.stderr?.(chunk);
      }),
    ]);
    outcome = { exitCode: status.code };
  } catch (error) {
    outcome = { failure: error };
    kill();
  } finally {
    request.signal?.removeEventListener("abort", kill);
  }

  await killing;
  return outcome;
}

function spawnRunc(options: ResolvedOptions, args: string[]): Deno.ChildProcess {
  try {
    return new Deno.Command(options.runcPath, {
      args: ["--root", options.stateRoot, ...args],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) throw runcNotFound(options.runcPath, error);
    throw error;
  }
}

function checkRunc(runcPath: string): void {
  try {
    const info = Deno.statSync(runcPath);
    if (info.isFile) return;
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    throw runcNotFound(runcPath, error);
  }
  throw runcNotFound(runcPath);
}

function runcNotFound(runcPath: string, cause?: unknown): NotFoundError {
  return new NotFoundError(`Failed to run the container: runc not found at "${runcPath}"`, {
    cause,
    data: { runcPath },
  });
}

/** Throws {@linkcode ContainerStartError} when runc logged an error, meaning the process never ran. */
async function throwIfStartFailed(
  logPath: string,
  request: ExecRequest,
  stderrTail: OutputTail,
): Promise<void> {
  const errors = await readRuncErrors(logPath);
  if (errors.length === 0) return;
  throw new ContainerStartError(
    `Failed to start "${request.args[0]}" in the container: ${errors.join("; ")}`,
    {
      data: { args: request.args, runtimeOutput: stderrTail.text() },
    },
  );
}

async function forward(
  stream: ReadableStream<Uint8Array>,
  callback?: (chunk: Uint8Array) => void,
): Promise<void> {
  for await (const chunk of stream) callback?.(chunk);
}

/** The last `limit` bytes of a stream of chunks. */
class OutputTail {
  #chunks: Uint8Array[] = [];
  #size = 0;

  constructor(readonly limit: number) {}

  push(chunk: Uint8Array): void {
    this.#chunks.push(chunk);
    this.#size += chunk.length;
    while (this.#chunks.length > 1 && this.#size - this.#chunks[0].length >= this.limit) {
      this.#size -= this.#chunks.shift()!.length;
    }
  }

  text(): string {
    const bytes = new Uint8Array(this.#size);
    let offset = 0;
    for (const chunk of this.#chunks) {
      bytes.set(chunk, offset);
      offset += chunk.length;
    }
    return new TextDecoder().decode(bytes.subarray(Math.max(0, this.#size - this.limit)));
  }
}
