/**
 * Process helpers for the benchmark: running and timing commands, watching and stopping
 * processes by pid, and removing a temporary folder that may still hold mounts.
 *
 * @module
 */

/** Output and exit code of a finished command. */
export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
  /** Wall-clock time from spawn to exit, in seconds. */
  seconds: number;
}

/** Options for `runCommand()`. */
export interface RunCommandOptions {
  /** Variables added to the bench's own environment. */
  env?: Record<string, string>;
  cwd?: string;
  /** Whether a non-zero exit is returned instead of thrown. @default false */
  allowFailure?: boolean;
  /** Whether the command is part of cleanup, which still runs after `stopCommands()`. */
  cleanup?: boolean;
}

const decoder = new TextDecoder();

// Child processes that are running now, so that a signal handler can stop them.
const runningChildren = new Set<Deno.ChildProcess>();
// Set by stopCommands(): the bench is shutting down and starts only cleanup commands.
let stopping = false;

/** Raised by `runCommand()` for a command that is not part of cleanup once the bench stops. */
export class BenchStoppingError extends Error {
  constructor(binary: string) {
    super(`Not running "${binary}": the bench is stopping`);
    this.name = "BenchStoppingError";
  }
}

/**
 * Runs `binary` with `args` to completion and measures its wall-clock time.
 *
 * @throws {Error} when it exits with a non-zero code, unless `allowFailure` is set; the
 * message contains the last lines of its stderr.
 * @throws {BenchStoppingError} after `stopCommands()`, unless `cleanup` is set.
 */
export async function runCommand(
  binary: string,
  args: string[],
  options: RunCommandOptions = {},
): Promise<CommandResult> {
  if (stopping && !options.cleanup) throw new BenchStoppingError(binary);

  const started = performance.now();
  const child = new Deno.Command(binary, {
    args,
    env: options.env,
    cwd: options.cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  runningChildren.add(child);
  let output: Deno.CommandOutput;
  try {
    output = await child.output();
  } finally {
    runningChildren.delete(child);
  }
  const seconds = (performance.now() - started) / 1000;

  const result = {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
    seconds,
  };
  if (!output.success && !options.allowFailure) {
    const commandLine = [binary, ...args].join(" ");
    throw new Error(
      `Command failed: ${commandLine}: exit code ${output.code}: ${tail(result.stderr)}`,
    );
  }
  return result;
}

/**
 * Sends SIGTERM to every command that `runCommand()` is still waiting for, and makes it
 * reject new commands other than cleanup ones, so that a build loop still running while the
 * bench shuts down cannot recreate what cleanup removes.
 */
export function stopCommands(): void {
  stopping = true;
  for (const child of runningChildren) {
    try {
      child.kill("SIGTERM");
    } catch {
      // The child exited between the check and the signal.
    }
  }
}

/**
 * Starts `binary` as a daemon in a new session, so that a Ctrl-C meant for the bench does
 * not reach it, with stdout and stderr appended to `logPath`. The returned pid is the
 * daemon's own, because the shell in between replaces itself with `exec`.
 *
 * @throws {BenchStoppingError} after `stopCommands()`.
 */
export function spawnDaemon(binary: string, args: string[], logPath: string): number {
  if (stopping) throw new BenchStoppingError(binary);
  const child = new Deno.Command("/bin/sh", {
    args: ["-c", 'exec "$@" >>"$BENCH_DAEMON_LOG" 2>&1', "sh", binary, ...args],
    env: { BENCH_DAEMON_LOG: logPath },
    stdin: "null",
    stdout: "null",
    stderr: "null",
    detached: true,
  }).spawn();
  // Deno reaps the process when it exits; nothing else waits on its status.
  child.status.catch(() => {});
  child.unref();
  return child.pid;
}

// Kills the watched pids with SIGTERM once the bench ($1) is gone, and exits by itself once
// none of them runs any more. The bench kills this watchdog by its pid when it stops the
// daemons itself, so a pid reused after that is never signalled.
const WATCHDOG = `
bench=$1; shift
alive() { for pid in "$@"; do kill -0 "$pid" 2>/dev/null && return 0; done; return 1; }
while kill -0 "$bench" 2>/dev/null && alive "$@"; do sleep 1; done
kill -0 "$bench" 2>/dev/null || kill -TERM "$@" 2>/dev/null
exit 0
`;

/**
 * Starts a shell that stops `pids` with SIGTERM if the bench process dies without cleaning
 * up (for example from SIGKILL), and returns the watchdog's pid.
 */
export function spawnWatchdog(pids: number[]): number {
  const child = new Deno.Command("/bin/sh", {
    args: ["-c", WATCHDOG, "sh", String(Deno.pid), ...pids.map(String)],
    stdin: "null",
    stdout: "null",
    stderr: "null",
    detached: true,
  }).spawn();
  child.status.catch(() => {});
  child.unref();
  return child.pid;
}

/** Returns whether `stopCommands()` has been called. */
export function isStopping(): boolean {
  return stopping;
}

/** Returns whether `pid` is running; a zombie counts as exited. */
export function isRunning(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

/** Sends `signal` to `pid`, ignoring a process that has exited already. */
export function signalQuietly(pid: number, signal: Deno.Signal): void {
  try {
    Deno.kill(pid, signal);
  } catch {
    // The process has exited already.
  }
}

/**
 * Stops `pid` with SIGTERM, then SIGKILL if it still runs after `timeoutMs`, and resolves
 * once it has exited.
 */
export async function stopProcess(pid: number, timeoutMs: number): Promise<void> {
  signalQuietly(pid, "SIGTERM");
  if (await waitForExit(pid, timeoutMs)) return;
  signalQuietly(pid, "SIGKILL");
  await waitForExit(pid, 5_000);
}

/** Resolves true once `pid` has exited, or false after `timeoutMs`. */
export async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isRunning(pid)) return true;
    await sleep(50);
  }
  return !isRunning(pid);
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Unmounts whatever is mounted at or below `dir`, deepest first, then removes `dir`.
 *
 * @throws {Error} when a mount cannot be removed, so that `rm -r` never walks into a file
 * system that is not the bench's own.
 */
export async function removeTree(dir: string): Promise<void> {
  for (const mountPoint of mountPointsUnder(dir)) {
    const result = await runCommand("umount", [mountPoint], { allowFailure: true, cleanup: true });
    if (result.code !== 0) {
      await runCommand("umount", ["--lazy", mountPoint], { cleanup: true });
    }
  }
  await Deno.remove(dir, { recursive: true }).catch((error) => {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  });
}

function mountPointsUnder(dir: string): string[] {
  const mountInfo = Deno.readTextFileSync("/proc/self/mountinfo");
  const mountPoints = mountInfo.split("\n").filter(Boolean).map((line) =>
    unescapeMountPath(line.split(" ")[4])
  );
  const inside = mountPoints.filter((path) => path === dir || path.startsWith(`${dir}/`));
  return [...new Set(inside)].sort((a, b) => b.length - a.length);
}

// mountinfo writes space, tab, newline and backslash in paths as octal escapes.
function unescapeMountPath(path: string): string {
  return path.replace(/\\([0-7]{3})/g, (_, octal) => String.fromCharCode(parseInt(octal, 8)));
}

/** Returns the last `lines` lines of `text`, trimmed. */
export function tail(text: string, lines = 5): string {
  return text.trim().split("\n").slice(-lines).join("\n");
}

/** Returns the first executable named `name` on PATH, or undefined. */
export function findExecutable(name: string): string | undefined {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (!dir) continue;
    const path = `${dir}/${name}`;
    if (isExecutable(path)) return path;
  }
  return undefined;
}

/** Returns whether `path` is an executable file. */
export function isExecutable(path: string): boolean {
  try {
    const info = Deno.statSync(path);
    return info.isFile && ((info.mode ?? 0) & 0o111) !== 0;
  } catch {
    return false;
  }
}
