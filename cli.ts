/**
 * The tsbuild command line: parses arguments, runs a command, and turns
 * errors into messages on stderr and exit codes.
 *
 * @module
 */

import {
  BUILD_FLAGS,
  BUILD_USAGE,
  type CommandIo,
  runBuildCommand,
} from "./core/cli/build_command.ts";
import { formatFlags } from "./core/cli/args.ts";
import { runDebugCommand } from "./core/cli/debug_command.ts";
import { runDuCommand, runPruneCommand } from "./core/cli/store_commands.ts";
import { CancelledError, TsbuildError } from "./core/errors.ts";
import { PluginRegistry } from "./core/plugin/registry.ts";
import { BUILTIN_PLUGINS } from "./plugins/builtin.ts";
import denoConfig from "./deno.json" with { type: "json" };

const USAGE =
  `tsbuild ${denoConfig.version}: build container images from Dockerfiles and build programs

Usage: tsbuild COMMAND [flags]

Commands:
  build     Build an image from a Dockerfile and a context, or a definition on stdin
  debug     Inspect a build without running it (dump-definition)
  du        Show the store's disk usage
  prune     Remove cached results and unreferenced data from the store
  version   Print the version

Run "tsbuild COMMAND --help" for a command's flags.
`;

function createPlugins(): PluginRegistry {
  const registry = new PluginRegistry();
  for (const plugin of BUILTIN_PLUGINS) registry.register(plugin);
  return registry;
}

async function main(argv: string[]): Promise<number> {
  const encoder = new TextEncoder();
  const io: CommandIo = {
    stdout: (text) => writeAll(Deno.stdout, encoder.encode(text)),
    stderr: (text) => writeAll(Deno.stderr, encoder.encode(text)),
    stderrIsTerminal: Deno.stderr.isTerminal(),
    stdinIsTerminal: Deno.stdin.isTerminal(),
  };
  const [command, ...rest] = argv;
  const wantsHelp = rest.includes("--help") || rest.includes("-h");
  switch (command) {
    case "build":
      if (wantsHelp) {
        io.stdout(`${BUILD_USAGE}\n\nFlags:\n${formatFlags(BUILD_FLAGS)}\n`);
        return 0;
      }
      return await runBuildCommand(rest, io, createPlugins());
    case "debug":
      return await runDebugCommand(rest, io, createPlugins());
    case "du":
      return await runDuCommand(rest, io);
    case "prune":
      return await runPruneCommand(rest, io);
    case "version":
    case "--version":
      if (wantsHelp) {
        io.stdout(
          "Usage: tsbuild version\n\nPrints tsbuild's version, the Deno version and the platform.\n",
        );
        return 0;
      }
      io.stdout(
        `tsbuild ${denoConfig.version} (deno ${Deno.version.deno}, ${Deno.build.os}/${Deno.build.arch})\n`,
      );
      return 0;
    case undefined:
    case "help":
    case "--help":
    case "-h":
      io.stdout(USAGE);
      return command === undefined ? 2 : 0;
    default:
      io.stderr(`ERROR: Unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}

function writeAll(file: { writeSync(bytes: Uint8Array): number }, bytes: Uint8Array): void {
  let written = 0;
  while (written < bytes.length) written += file.writeSync(bytes.subarray(written));
}

function formatError(error: unknown, debug: boolean): string {
  if (debug && error instanceof Error) {
    // A plugin's failure keeps the plugin's own stack, mapped to its files, on the cause.
    const cause = error.cause instanceof Error ? error.cause.stack : error.cause;
    return `ERROR: ${error.stack}\n${cause ? `caused by: ${String(cause)}\n` : ""}`;
  }
  if (error instanceof TsbuildError) return `ERROR: ${error.message}\n`;
  if (error instanceof Error) return `ERROR: ${error.message}\n`;
  return `ERROR: ${String(error)}\n`;
}

if (import.meta.main) {
  // `deno task` runs in the directory of deno.json, and INIT_CWD is where the user ran it.
  // Moving there makes relative paths on the command line mean what the user expects. The
  // check on the current directory keeps child processes that inherit INIT_CWD where they are.
  const initialDirectory = Deno.env.get("INIT_CWD");
  const projectDirectory = new URL(".", import.meta.url).pathname.replace(/\/$/, "");
  if (initialDirectory && Deno.cwd() === projectDirectory) Deno.chdir(initialDirectory);
  const debug = Deno.args.includes("--debug") || Deno.env.get("TSBUILD_DEBUG") === "1";
  let status: number;
  try {
    status = await main(Deno.args);
  } catch (error) {
    writeAll(Deno.stderr, new TextEncoder().encode(formatError(error, debug)));
    status = error instanceof CancelledError ? 130 : 1;
  }
  Deno.exit(status);
}
