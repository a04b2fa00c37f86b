/**
 * Test fixture that runs a real registry (/usr/bin/docker-registry) on a free loopback port.
 *
 * @module
 */

import { join } from "../../core/deps.ts";
import { closedLoopbackPort } from "./loopback_server.ts";

/** A registry started by `startRegistry()`; stop it with `stop()` or `await using`. */
export interface RunningRegistry extends AsyncDisposable {
  /** "127.0.0.1:PORT", usable as the registry part of an image reference. */
  host: string;
  /** Process ID of the docker-registry process. */
  pid: number;
  /** File the registry writes its log to; read it when a test fails. */
  logPath: string;
  /** Stops the registry process and removes its storage; calling it again does nothing. */
  stop(): Promise<void>;
  /** Stops the registry synchronously, for `unload` handlers where nothing can be awaited. */
  stopSync(): void;
}

const REGISTRY_BINARY = "/usr/bin/docker-registry";
const STARTUP_TIMEOUT_MS = 10_000;
const MAX_PORT_ATTEMPTS = 3;

// Starts the registry in the background with its output going to a log file, and prints its
// PID. A watchdog loop kills the registry and removes its folder ($4) once the test process
// ($3) is gone, so a test run that is killed leaves no registry behind.
const LAUNCHER = `
"$0" serve "$1" >"$2" 2>&1 </dev/null &
registry=$!
echo "$registry"
(
  while kill -0 "$3" 2>/dev/null && kill -0 "$registry" 2>/dev/null; do sleep 1; done
  if kill "$registry" 2>/dev/null; then sleep 1; rm -rf "$4"; fi
) </dev/null >/dev/null 2>&1 &
`;

/**
 * Starts docker-registry with filesystem storage in a new temporary folder, listening on
 * 127.0.0.1 and a free port, and resolves once `GET /v2/` responds.
 *
 * @example
 * ```ts ignore
 * await using registry = await startRegistry();
 * const reference = `${registry.host}/busybox:1`;
 * ```
 */
export async function startRegistry(options: { port?: number } = {}): Promise<RunningRegistry> {
  const dir = await Deno.makeTempDir({ prefix: "tsbuild-registry-" });
  try {
    for (let attempt = 1;; attempt++) {
      const port = options.port ?? closedLoopbackPort();
      const registry = await launch(dir, port);
      const failure = await waitUntilReady(registry, port);
      if (failure === undefined) return registry;

      registry.stopSync();
      const portTaken = failure.includes("address already in use");
      if (!portTaken || attempt === MAX_PORT_ATTEMPTS || options.port !== undefined) {
        throw new Error(`Failed to start docker-registry on port ${port}: ${failure}`);
      }
    }
  } catch (error) {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw error;
  }
}

async function launch(dir: string, port: number): Promise<RunningRegistry> {
  const configPath = join(dir, "config.yml");
  const logPath = join(dir, "registry.log");
  await Deno.writeTextFile(configPath, registryConfig(join(dir, "storage"), port));

  const output = await new Deno.Command("sh", {
    args: ["-c", LAUNCHER, REGISTRY_BINARY, configPath, logPath, String(Deno.pid), dir],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).output();
  const pid = Number(new TextDecoder().decode(output.stdout).trim());
  if (!output.success || !Number.isInteger(pid) || pid <= 0) {
    throw new Error(`Failed to start ${REGISTRY_BINARY}: the launcher exited with ${output.code}`);
  }
  return registryHandle(dir, port, pid, logPath);
}

function registryConfig(storage: string, port: number): string {
  const secret = crypto.randomUUID();
  return `version: 0.1
log:
  level: info
  formatter: text
storage:
  filesystem:
    rootdirectory: ${storage}
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:${port}
  secret: ${secret}
`;
}

function registryHandle(dir: string, port: number, pid: number, logPath: string) {
  let stopped = false;
  const stopSync = () => {
    if (stopped) return;
    stopped = true;
    killQuietly(pid, "SIGKILL");
    Deno.removeSync(dir, { recursive: true });
  };
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    killQuietly(pid, "SIGTERM");
    if (!await exited(pid, 5_000)) killQuietly(pid, "SIGKILL");
    await Deno.remove(dir, { recursive: true });
  };
  const registry: RunningRegistry = {
    host: `127.0.0.1:${port}`,
    pid,
    logPath,
    stop,
    stopSync,
    [Symbol.asyncDispose]: stop,
  };
  return registry;
}

// Returns undefined when the registry responds, or the reason it never will.
async function waitUntilReady(
  registry: RunningRegistry,
  port: number,
): Promise<string | undefined> {
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  while (Date.now() < deadline) {
    try {
      const response = await fetch(`http://127.0.0.1:${port}/v2/`);
      await response.body?.cancel();
      if (response.status === 200) return undefined;
    } catch {
      // Not listening yet.
    }
    if (!isRunning(registry.pid)) return `the process exited: ${await logTail(registry.logPath)}`;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return `/v2/ did not answer within ${STARTUP_TIMEOUT_MS} ms: ${await logTail(registry.logPath)}`;
}

async function logTail(logPath: string): Promise<string> {
  const text = await Deno.readTextFile(logPath).catch(() => "");
  return text.trim().split("\n").slice(-5).join("\n");
}

function isRunning(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // A zombie ("Z") has exited and only waits to be reaped.
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

async function exited(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isRunning(pid)) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return false;
}

function killQuietly(pid: number, signal: Deno.Signal): void {
  try {
    Deno.kill(pid, signal);
  } catch {
    // The process has exited already.
  }
}
