/**
 * `tsbuild debug`: commands that show what a build would run, such as `dump-definition`.
 *
 * @module
 */

import { CancelledError, InvalidInputError, NotFoundError } from "../errors.ts";
import type { JsonValue } from "@bufbuild/protobuf";
import { createRuncExecutor } from "../exec/runc.ts";
import { definitionToJson } from "../graph/definition.ts";
import type { FrontendResult } from "../plugin/types.ts";
import { loadRemoteLocals } from "../remote_locals.ts";
import { createFrontendContext } from "../plugin/frontend_context.ts";
import type { PluginRegistry } from "../plugin/registry.ts";
import { createRegistryClient } from "../registry/client.ts";
import { openStore } from "../store/store.ts";
import {
  flagEnabled,
  type FlagSpec,
  flagValue,
  flagValues,
  formatFlags,
  parseArgs,
} from "./args.ts";
import {
  BUILD_FLAGS,
  type CommandIo,
  loadProjectPlugins,
  pluginFlags,
  resolveBuildRequest,
  storeRoot,
} from "./build_command.ts";
import { createRenderer } from "./renderer.ts";

/** Help text of `tsbuild debug`. */
export const DEBUG_USAGE = `Usage: tsbuild debug SUBCOMMAND [flags]

Subcommands:
  dump-definition   Print the build definition as JSON: a Dockerfile's (same flags as
                    "tsbuild build") or one read from standard input`;

/** Flags of "tsbuild build" that only matter when something is built or exported. */
const BUILD_ONLY_FLAGS = new Set([
  "tag",
  "output",
  "push",
  "exporter",
  "exporter-opt",
  "quiet",
  "no-cache",
  "secret",
  "ssh",
  "metadata-file",
  "executor",
  "containerd-address",
  "containerd-namespace",
  "pull",
]);

/** The build flags dump-definition uses, as its help lists them. */
const DUMP_FLAGS: FlagSpec[] = BUILD_FLAGS.filter((flag) => !BUILD_ONLY_FLAGS.has(flag.name)).map(
  (flag) =>
    flag.name === "progress"
      ? { ...flag, description: "Progress output: auto, tty, plain or quiet (default: quiet)" }
      : flag,
);

const DUMP_USAGE = `Usage: tsbuild debug dump-definition [build flags] [CONTEXT]
       deno run build.ts | tsbuild debug dump-definition

Runs only the frontend and prints the definition it returns as JSON on standard output.
Progress goes to standard error (default --progress quiet).`;

/** Runs `tsbuild debug` with `argv` (the arguments after "debug"); returns the exit status. */
export async function runDebugCommand(
  argv: string[],
  io: CommandIo,
  plugins: PluginRegistry,
): Promise<number> {
  const [subcommand, ...rest] = argv;
  const wantsHelp = rest.includes("--help") || rest.includes("-h");
  switch (subcommand) {
    case "dump-definition":
      if (wantsHelp) {
        io.stdout(`${DUMP_USAGE}\n\nFlags:\n${formatFlags(DUMP_FLAGS)}\n`);
        return 0;
      }
      return await dumpDefinition(rest, io, plugins);
    case undefined:
    case "help":
    case "--help":
    case "-h":
      io.stdout(`${DEBUG_USAGE}\n`);
      return subcommand === undefined ? 2 : 0;
    default:
      io.stderr(`ERROR: Unknown debug subcommand "${subcommand}"\n\n${DEBUG_USAGE}\n`);
      return 2;
  }
}

async function dumpDefinition(
  argv: string[],
  io: CommandIo,
  plugins: PluginRegistry,
): Promise<number> {
  const args = parseArgs(argv, DUMP_FLAGS);
  const request = resolveBuildRequest(args);
  await using _loaded = await loadProjectPlugins(pluginFlags(args), plugins);
  const frontend = plugins.frontend(request.frontend);
  if (!frontend) {
    const known = plugins.names().frontends.join(", ");
    throw new NotFoundError(`Unknown frontend "${request.frontend}" (known: ${known})`);
  }
  if (request.outputs.length > 0) {
    throw new InvalidInputError(
      `Invalid --output for dump-definition: nothing is built or exported`,
    );
  }

  const renderer = createRenderer(flagValue(args, "progress", "quiet")!, io);
  const abort = new AbortController();
  const onSignal = () => abort.abort(new CancelledError("Cancelled"));
  Deno.addSignalListener("SIGINT", onSignal);
  try {
    const root = storeRoot(flagValue(args, "root"));
    await using store = await openStore(root);
    const base = {
      store,
      registry: createRegistryClient({
        insecureRegistries: flagValues(args, "insecure-registry"),
        signal: abort.signal,
      }),
      sink: renderer,
      signal: abort.signal,
      platform: request.platform,
      debug: flagEnabled(args, "debug"),
    };
    // A git context is fetched first, as a build does, so that its Dockerfile can be read.
    const locals = {
      ...request.locals,
      ...await loadRemoteLocals(request.remoteLocals, {
        ...base,
        plugins,
        executor: createRuncExecutor({ stateRoot: `${root}/runc`, bundleRoot: `${root}/tmp` }),
      }),
    };
    const context = createFrontendContext({ ...base, locals }, frontend.origin.plugin);
    const result = await frontend.frontend.onBuild({
      options: request.frontendOptions,
      locals,
      // Every frontend but the Dockerfile one may read standard input, plugin frontends included.
      stdin: request.frontend === "dockerfile" ? undefined : Deno.stdin.readable,
    }, context);
    renderer.close();
    io.stdout(`${JSON.stringify(resultToJson(result), null, 2)}\n`);
    return 0;
  } catch (error) {
    renderer.close();
    throw error;
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
  }
}

// One definition as JSON; a multi-platform result adds each platform's definition under
// "platforms".
function resultToJson(result: FrontendResult): JsonValue {
  const json = definitionToJson(result.definition) as Record<string, JsonValue>;
  if (!result.platforms?.length) return json;
  return {
    ...json,
    platforms: result.platforms.map(({ platform, definition }) => ({
      platform: { ...platform },
      definition: definitionToJson(definition),
    })),
  };
}
