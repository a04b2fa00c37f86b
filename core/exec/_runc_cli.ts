/**
 * The runc commands around `runc run`: kill, delete and reading runc's own log.
 *
 * @module
 */

import { join } from "../deps.ts";

/** Location of the runc binary and of its container state. */
export interface RuncLocation {
  runcPath: string;
  stateRoot: string;
}

/** How long `runc kill` is retried before runc itself is killed. */
const KILL_TIMEOUT_MS = 10_000;

/** Runs `runc --root <stateRoot> <args>` and returns whether it succeeded, with its stderr. */
export async function runcCommand(
  location: RuncLocation,
  args: string[],
): Promise<{ success: boolean; stderr: string }> {
  const output = await new Deno.Command(location.runcPath, {
    args: ["--root", location.stateRoot, ...args],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  return { success: output.success, stderr: new TextDecoder().decode(output.stderr).trim() };
}

/**
 * Sends SIGKILL to the container `id` until `runc run` exits. The first tries
 * can come before runc has created the container, so they are repeated every
 * 100 ms; after 10 seconds runc itself is killed.
 */
export async function killContainer(
  location: RuncLocation,
  id: string,
  runcProcess: Deno.ChildProcess,
): Promise<void> {
  let exited = false;
  const status = runcProcess.status.then(() => {
    exited = true;
  });
  const deadline = Date.now() + KILL_TIMEOUT_MS;
  while (!exited && Date.now() < deadline) {
    await runcCommand(location, ["kill", id, "KILL"]);
    await raceTimeout(status, 100);
  }
  if (!exited) runcProcess.kill("SIGKILL");
  await status;
}

/**
 * Deletes the container `id` with `runc delete --force` when runc still has
 * state for it; returns an error when that state cannot be removed.
 */
export async function deleteContainer(
  location: RuncLocation,
  id: string,
): Promise<Error | undefined> {
  if (!exists(join(location.stateRoot, id))) return undefined;
  const result = await runcCommand(location, ["delete", "--force", id]);
  if (result.success || !exists(join(location.stateRoot, id))) return undefined;
  return new Error(`Failed to delete container "${id}" with runc: ${result.stderr}`);
}

/** Returns the messages runc logged at level error or fatal in its JSON log file. */
export async function readRuncErrors(logPath: string): Promise<string[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(logPath);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }

  const messages: string[] = [];
  for (const line of text.split("\n")) {
    const record = parseRecord(line);
    if (record && (record.level === "error" || record.level === "fatal")) {
      messages.push(String(record.msg));
    }
  }
  return messages;
}

function parseRecord(line: string): { level?: string; msg?: unknown } | undefined {
  if (line.trim() === "") return undefined;
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}

// Synchronous: one lstat takes microseconds, less than an asynchronous call's thread-pool round trip.
function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** Waits for `promise` or `ms` milliseconds, whichever comes first, leaving no timer behind. */
async function raceTimeout(promise: Promise<void>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  try {
    await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
