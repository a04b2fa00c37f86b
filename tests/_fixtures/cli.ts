/**
 * Test fixture that runs the tsbuild command line as a subprocess, as a user would.
 *
 * @module
 */

import { TSBUILD_DENO_FLAGS } from "../../tools/deno_flags.ts";

/** What a finished tsbuild process returned. */
export interface CliResult {
  /** Exit status; 128 + the signal number when a signal ended the process. */
  code: number;
  /** The signal that ended the process, or null when it exited by itself. */
  signal: Deno.Signal | null;
  stdout: string;
  stderr: string;
}

/** Options for {@link runCli} and {@link spawnCli}. */
export interface CliOptions {
  /** Environment variables added to the test process's environment. */
  env?: Record<string, string>;
  /** Working directory of the process. @default the test process's working directory */
  cwd?: string;
}

/** A tsbuild process started by {@link spawnCli}. */
export interface CliProcess {
  pid: number;
  /** Sends `signal` to the process. */
  kill(signal: Deno.Signal): void;
  /**
   * Resolves once standard error contains a match of `pattern`, or rejects after `timeoutMs` or
   * when the process exits first, quoting what it printed.
   */
  waitForStderr(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** Resolves when the process has exited and both output streams are read. */
  result: Promise<CliResult>;
}

const CLI_PATH = new URL("../../cli.ts", import.meta.url).pathname;
const CONFIG_PATH = new URL("../../deno.json", import.meta.url).pathname;

/**
 * Runs `tsbuild ARGS...` (`deno run FLAGS cli.ts ARGS...`, with the `tsbuild` task's flags) and
 * returns its exit status and output.
 *
 * @example
 * ```ts ignore
 * const { code, stderr } = await runCli(["build", "--root", root, "--progress", "plain", dir]);
 * ```
 */
export function runCli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  return spawnCli(args, options).result;
}

/** Starts `tsbuild ARGS...` and returns a handle to signal it and wait for its output. */
export function spawnCli(args: string[], options: CliOptions = {}): CliProcess {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...TSBUILD_DENO_FLAGS,
      "--config",
      CONFIG_PATH,
      CLI_PATH,
      ...args,
    ],
    cwd: options.cwd,
    env: { NO_COLOR: "1", ...options.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();

  const stdout = collectText(child.stdout);
  const stderr = collectText(child.stderr, () => notifyWaiters());
  const waiters = new Set<() => void>();
  const notifyWaiters = () => waiters.forEach((waiter) => waiter());
  const result = (async (): Promise<CliResult> => {
    const status = await child.status;
    const [out, err] = await Promise.all([stdout.done, stderr.done]);
    notifyWaiters();
    return { code: status.code, signal: status.signal, stdout: out, stderr: err };
  })();

  return {
    pid: child.pid,
    kill: (signal) => child.kill(signal),
    waitForStderr: (pattern, timeoutMs = 60_000) =>
      waitForText(() => stderr.text(), pattern, timeoutMs, waiters, result),
    result,
  };
}

interface TextCollector {
  /** The text read so far. */
  text(): string;
  /** Resolves with the whole text at the end of the stream. */
  done: Promise<string>;
}

function collectText(stream: ReadableStream<Uint8Array>, onChunk?: () => void): TextCollector {
  let text = "";
  const decoder = new TextDecoder();
  const done = (async () => {
    for await (const chunk of stream) {
      text += decoder.decode(chunk, { stream: true });
      onChunk?.();
    }
    text += decoder.decode();
    return text;
  })();
  return { text: () => text, done };
}

function waitForText(
  text: () => string,
  pattern: RegExp,
  timeoutMs: number,
  waiters: Set<() => void>,
  result: Promise<CliResult>,
): Promise<void> {
  return new Promise((resolve, reject) => {
    let exited = false;
    const finish = (error?: Error) => {
      clearTimeout(timer);
      waiters.delete(check);
      if (error) reject(error);
      else resolve();
    };
    const check = () => {
      if (pattern.test(text())) finish();
      else if (exited) finish(new Error(`tsbuild exited before printing ${pattern}:\n${text()}`));
    };
    const timer = setTimeout(
      () =>
        finish(new Error(`tsbuild did not print ${pattern} within ${timeoutMs} ms:\n${text()}`)),
      timeoutMs,
    );
    waiters.add(check);
    result.then(() => {
      exited = true;
      check();
    }, () => {});
    check();
  });
}
