/**
 * A private dockerd for the benchmark, with its own containerd, data root, exec root and
 * unix socket inside one temporary folder, and no network setup on the host.
 *
 * @module
 */

import { join } from "../../core/deps.ts";
import {
  isRunning,
  removeTree,
  runCommand,
  signalQuietly,
  sleep,
  spawnDaemon,
  spawnWatchdog,
  stopProcess,
  tail,
} from "./processes.ts";
import { once } from "./tool.ts";

/** Debian's docker.io daemon. */
export const DOCKERD_BINARY = "/usr/sbin/dockerd";
/** Debian's containerd, which dockerd from docker.io drives. */
export const CONTAINERD_BINARY = "/usr/bin/containerd";
/**
 * Debian's docker.io client (20.10), which still builds with BuildKit through
 * DOCKER_BUILDKIT=1; a newer client elsewhere on PATH requires the buildx plugin.
 */
export const DOCKER_CLIENT = "/usr/bin/docker";

const CONTAINERD_TIMEOUT_MS = 15_000;
const DOCKERD_TIMEOUT_MS = 60_000;

/** A dockerd started by `startDockerd()`. */
export interface RunningDockerd {
  /** Path of the API socket, for `docker -H unix://PATH`. */
  socket: string;
  dockerdPid: number;
  containerdPid: number;
  /** Server version that `docker version` reports. */
  version: string;
  /** Stops dockerd, then containerd, by pid, and removes the folder; a second call does nothing. */
  stop(): Promise<void>;
}

/**
 * Starts containerd and dockerd with all their state under `dir` and resolves once the
 * docker API responds.
 *
 * Without `--containerd`, dockerd 20.10 uses a system containerd whenever
 * /run/containerd/containerd.sock exists, so the bench always starts its own.
 *
 * @throws {Error} when either daemon exits or does not respond in time; the message contains
 * the end of its log. Whatever was started is stopped first.
 */
export async function startDockerd(dir: string): Promise<RunningDockerd> {
  const containerdSocket = join(dir, "containerd.sock");
  const socket = join(dir, "docker.sock");
  const containerdLog = join(dir, "containerd.log");
  const dockerdLog = join(dir, "dockerd.log");
  await Deno.writeTextFile(join(dir, "containerd.toml"), containerdConfig(dir, containerdSocket));
  // An empty config file keeps a host /etc/docker/daemon.json out of the measurement.
  await Deno.writeTextFile(join(dir, "daemon.json"), "{}\n");

  const containerdPid = spawnDaemon(
    CONTAINERD_BINARY,
    ["--config", join(dir, "containerd.toml")],
    containerdLog,
  );
  const watchdogPids = [spawnWatchdog([containerdPid])];
  let dockerdPid = 0;
  const stop = once(async () => {
    for (const pid of watchdogPids) signalQuietly(pid, "SIGTERM");
    if (dockerdPid) await stopProcess(dockerdPid, 30_000);
    await stopProcess(containerdPid, 15_000);
    await removeTree(dir);
  });

  try {
    await waitForSocket(containerdSocket, containerdPid, containerdLog);
    dockerdPid = spawnDaemon(DOCKERD_BINARY, dockerdArgs(dir, containerdSocket), dockerdLog);
    watchdogPids.push(spawnWatchdog([dockerdPid]));
    const version = await waitForApi(socket, dockerdPid, dockerdLog);
    return { socket, dockerdPid, containerdPid, version, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

function containerdConfig(dir: string, socket: string): string {
  return `version = 2
root = "${join(dir, "containerd", "root")}"
state = "${join(dir, "containerd", "state")}"
disabled_plugins = ["io.containerd.grpc.v1.cri"]

[grpc]
  address = "${socket}"

[ttrpc]
  address = "${socket}.ttrpc"

[debug]
  address = ""

[metrics]
  address = ""
`;
}

// Flags checked against `dockerd --help` of Debian's docker.io 20.10.24. The network flags
// leave the host's bridges, iptables rules and ip_forward setting alone; builds run with
// --network=none, so no container needs a network.
function dockerdArgs(dir: string, containerdSocket: string): string[] {
  return [
    "--config-file",
    join(dir, "daemon.json"),
    "--containerd",
    containerdSocket,
    "--data-root",
    join(dir, "data"),
    "--exec-root",
    join(dir, "exec"),
    "--pidfile",
    join(dir, "dockerd.pid"),
    "-H",
    `unix://${join(dir, "docker.sock")}`,
    "--bridge=none",
    "--iptables=false",
    "--ip6tables=false",
    "--ip-forward=false",
    "--ip-masq=false",
    "--userland-proxy=false",
  ];
}

async function waitForSocket(path: string, pid: number, logPath: string): Promise<void> {
  const deadline = Date.now() + CONTAINERD_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (await exists(path)) return;
    if (!isRunning(pid)) {
      throw new Error(`Failed to start containerd: it exited: ${await logTail(logPath)}`);
    }
    await sleep(50);
  }
  throw new Error(
    `Failed to start containerd: no socket at "${path}" after ${CONTAINERD_TIMEOUT_MS} ms: ${await logTail(
      logPath,
    )}`,
  );
}

async function waitForApi(socket: string, pid: number, logPath: string): Promise<string> {
  const deadline = Date.now() + DOCKERD_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const result = await runCommand(
      DOCKER_CLIENT,
      ["-H", `unix://${socket}`, "version", "--format", "{{.Server.Version}}"],
      { allowFailure: true },
    );
    if (result.code === 0) return result.stdout.trim();
    if (!isRunning(pid)) {
      throw new Error(`Failed to start dockerd: it exited: ${await logTail(logPath)}`);
    }
    await sleep(200);
  }
  throw new Error(
    `Failed to start dockerd: the API did not respond within ${DOCKERD_TIMEOUT_MS} ms: ${await logTail(
      logPath,
    )}`,
  );
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

async function logTail(path: string): Promise<string> {
  return tail(await Deno.readTextFile(path).catch(() => ""));
}
