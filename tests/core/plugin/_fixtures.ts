/**
 * Helpers of the plugin and build-program tests: a build program's output, tsbuild run with
 * bytes on standard input, and plugin files written into a directory.
 *
 * @module
 */

import type { CliResult } from "../../_fixtures/cli.ts";

const CLI_PATH = new URL("../../../cli.ts", import.meta.url).pathname;
const CONFIG_PATH = new URL("../../../deno.json", import.meta.url).pathname;

/** The repository's mod.ts as an absolute path, for plugins and programs written in temp dirs. */
export const MOD_PATH = new URL("../../../mod.ts", import.meta.url).pathname;

/** Options for {@link runCliWithInput} and {@link runProgram}. */
export interface RunOptions {
  cwd?: string;
  env?: Record<string, string>;
}

/**
 * Runs `tsbuild ARGS...` from source with `input` on standard input, as
 * `deno run build.ts | tsbuild build` would, and returns its exit status and output.
 */
export async function runCliWithInput(
  args: string[],
  input: Uint8Array,
  options: RunOptions = {},
): Promise<CliResult> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      "--unstable-worker-options",
      "--config",
      CONFIG_PATH,
      CLI_PATH,
      ...args,
    ],
    cwd: options.cwd,
    env: { NO_COLOR: "1", ...options.env },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(input);
  await writer.close();
  const output = await child.output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    signal: output.signal,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/**
 * Runs the build program at `path` with `deno run` and returns what it wrote to standard
 * output: the encoded definition.
 */
export async function runProgram(
  path: string,
  args: string[] = [],
  options: RunOptions = {},
): Promise<Uint8Array> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-env", "--allow-read", "--config", CONFIG_PATH, path, ...args],
    cwd: options.cwd,
    env: { NO_COLOR: "1", ...options.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!output.success) {
    throw new Error(
      `Build program ${path} exited with ${output.code}: ${
        new TextDecoder().decode(output.stderr)
      }`,
    );
  }
  return output.stdout;
}

/** Writes `files` (paths relative to `dir`) into `dir`, creating directories as needed. */
export async function writeTree(dir: string, files: Record<string, string>): Promise<void> {
  for (const [path, text] of Object.entries(files)) {
    const full = `${dir}/${path}`;
    await Deno.mkdir(full.slice(0, full.lastIndexOf("/")), { recursive: true });
    await Deno.writeTextFile(full, text);
  }
}

/** Returns the sha256 digest of `text` as "sha256:HEX". */
export async function sha256Of(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return `sha256:${
    [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, "0")).join("")
  }`;
}
