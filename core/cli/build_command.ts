/**
 * `tsbuild build`: flags in buildx's and buildctl's spellings, turned into
 * one {@link build} call with progress rendering and exit codes.
 *
 * @module
 */

import { build } from "../build.ts";
import { basename, dirname, resolve } from "../deps.ts";
import { CancelledError, InvalidInputError } from "../errors.ts";
import { createRuncExecutor, DEFAULT_RUNC_PATH, reapAbandonedContainers } from "../exec/runc.ts";
import type { Executor } from "../exec/executor.ts";
import type { ContainerdClient } from "../containerd/client.ts";
import { hostPlatform, parsePlatform } from "../oci/platform.ts";
import { createRegistryClient } from "../registry/client.ts";
import { defaultStoreRoot } from "../store/store.ts";
import {
  flagEnabled,
  type FlagSpec,
  flagValue,
  flagValues,
  parseArgs,
  type ParsedArgs,
} from "./args.ts";
import { type OutputSpec, parseExporterFlags, parseOutputSpec } from "./output_spec.ts";
import { createRenderer } from "./renderer.ts";
import type { PluginRegistry } from "../plugin/registry.ts";
import { parseSecretFlags } from "./secret_flags.ts";
import { parseSshFlags } from "./ssh_flags.ts";
import { gitContextIdentifier, isGitContext } from "./git_context.ts";
import { writeMetadataFile } from "./metadata_file.ts";
import type { LoadedPlugins } from "../plugin/loader.ts";
import type { PluginFlags } from "../plugin/config_file.ts";

/** Flags of `tsbuild build`. */
export const BUILD_FLAGS: FlagSpec[] = [
  {
    name: "file",
    short: "f",
    placeholder: "PATH",
    description: "Dockerfile to build (default: CONTEXT/Dockerfile)",
  },
  {
    name: "tag",
    short: "t",
    multiple: true,
    placeholder: "NAME",
    description: "Image name and optional tag, e.g. app:1",
  },
  {
    name: "build-arg",
    multiple: true,
    placeholder: "NAME=VALUE",
    description: "Set a build-time variable",
  },
  { name: "target", placeholder: "STAGE", description: "Build this stage instead of the last one" },
  {
    name: "output",
    short: "o",
    multiple: true,
    placeholder: "SPEC",
    description:
      "Export the result: type=oci|docker|local|tar,dest=PATH[,key=value], type=image,name=NAME[,unpack=true] (containerd), type=registry[,name=NAME], or a directory",
  },
  {
    name: "push",
    boolean: true,
    description:
      "Push the image to its registry under the -t names (same as --output type=registry)",
  },
  {
    name: "exporter",
    placeholder: "NAME",
    description: "Exporter, in the spelling older buildctl releases used (with --exporter-opt)",
  },
  {
    name: "exporter-opt",
    multiple: true,
    placeholder: "KEY=VALUE",
    description: "Option for --exporter",
  },
  {
    name: "progress",
    placeholder: "MODE",
    description: "Progress output: auto, tty, plain or quiet (default: auto)",
  },
  {
    name: "quiet",
    short: "q",
    boolean: true,
    description: "Print only the image digest, on stdout, and no progress",
  },
  { name: "no-cache", boolean: true, description: "Run every step, ignoring cached results" },
  {
    name: "root",
    placeholder: "DIR",
    description: "Store directory (env TSBUILD_ROOT; default ~/.cache/tsbuild)",
  },
  {
    name: "platform",
    placeholder: "OS/ARCH",
    description:
      "Target platform, e.g. linux/amd64, or several comma-separated for an image index (default: the host's)",
  },
  {
    name: "local",
    multiple: true,
    placeholder: "NAME=DIR",
    description: "Local directory for the build, e.g. context=.",
  },
  {
    name: "frontend",
    placeholder: "NAME",
    description: "Frontend: dockerfile or definition (default: dockerfile)",
  },
  {
    name: "opt",
    multiple: true,
    placeholder: "KEY=VALUE",
    description: "Frontend option, in buildctl's spelling",
  },
  {
    name: "insecure-registry",
    multiple: true,
    placeholder: "HOST",
    description: "Reach this registry over plain HTTP",
  },
  {
    name: "secret",
    multiple: true,
    placeholder: "id=ID,src=PATH|env=VAR",
    description: "Secret for RUN --mount=type=secret",
  },
  {
    name: "ssh",
    multiple: true,
    placeholder: "ID[=SOCKET]",
    description: "SSH agent socket for RUN --mount=type=ssh, e.g. default=$SSH_AUTH_SOCK",
  },
  {
    name: "metadata-file",
    placeholder: "PATH",
    description: "Write build results (digests) as JSON to this file",
  },
  {
    name: "plugin",
    multiple: true,
    placeholder: "PATH",
    description: "Load a plugin file (TypeScript or JavaScript), run in a sandbox",
  },
  {
    name: "plugin-allow",
    multiple: true,
    placeholder: "KIND=VALUE,...",
    description:
      "Grant plugins read, write, net, run or env access they declare, e.g. read=/etc,net=127.0.0.1:8080",
  },
  {
    name: "config",
    placeholder: "PATH",
    description: "Project config file with a plugin list (default: ./tsbuild.json when present)",
  },
  {
    name: "executor",
    placeholder: "NAME",
    description: "Run RUN steps with runc or containerd (default: runc)",
  },
  {
    name: "containerd-address",
    placeholder: "PATH",
    description:
      "containerd socket for type=image outputs, base images and --executor containerd (env CONTAINERD_ADDRESS; default /run/containerd/containerd.sock)",
  },
  {
    name: "containerd-namespace",
    placeholder: "NAME",
    description: "containerd namespace for images and containers (default: buildkit)",
  },
  {
    name: "pull",
    boolean: true,
    description: "Resolve base images in their registry, even when containerd has them",
  },
  { name: "debug", boolean: true, description: "Print debug logs and stack traces" },
  { name: "help", short: "h", boolean: true, description: "Show this help" },
];

/** Help text of `tsbuild build`. */
export const BUILD_USAGE = "Usage: tsbuild build [flags] [CONTEXT]";

/** Runs `tsbuild build` with `argv` (the arguments after "build"); returns the exit status. */
export async function runBuildCommand(
  argv: string[],
  io: CommandIo,
  plugins: PluginRegistry,
): Promise<number> {
  const args = parseArgs(argv, BUILD_FLAGS);
  const request = resolveBuildRequest(args);
  if (Deno.build.os === "linux" && Deno.uid() !== 0) {
    throw new InvalidInputError(
      "tsbuild build needs root: layers keep their files' owners, and runc and overlay mounts " +
        "need it too. Run it as root, for example with sudo",
    );
  }
  await using _loaded = await loadProjectPlugins(pluginFlags(args), plugins);
  const root = storeRoot(flagValue(args, "root"));
  const abort = new AbortController();
  const registry = createRegistryClient({
    insecureRegistries: flagValues(args, "insecure-registry"),
    signal: abort.signal,
  });
  const quiet = flagEnabled(args, "quiet");
  const renderer = createRenderer(quiet ? "quiet" : flagValue(args, "progress", "auto")!, io);

  using containerd = await connectContainerdIfUsed(args, request, abort.signal);
  // The first Ctrl-C cancels the build cleanly; a second one ends the process at once.
  const onSignal = () => {
    if (abort.signal.aborted) Deno.exit(130);
    abort.abort(new CancelledError("Build cancelled"));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  try {
    if (request.outputs.length === 0) {
      renderer.emit({
        type: "warning",
        message: "No output specified: the result stays in the build cache only (use --output)",
        time: Date.now(),
      });
    }
    const report = await build({
      root,
      ...request,
      plugins,
      executor: await createExecutor(args, root, containerd),
      containerd,
      preferContainerdImages: prefersContainerdImages(args, request.frontendOptions),
      registry,
      sink: renderer,
      signal: abort.signal,
      noCache: flagEnabled(args, "no-cache"),
      debug: flagEnabled(args, "debug"),
      secrets: parseSecretFlags(flagValues(args, "secret")),
      ssh: parseSshFlags(flagValues(args, "ssh")),
      // Every frontend but the Dockerfile one may read standard input, plugin frontends included.
      stdin: request.frontend === "dockerfile" ? undefined : Deno.stdin.readable,
      sourceDateEpoch: parseSourceDateEpoch(Deno.env.get("SOURCE_DATE_EPOCH")),
    });
    renderer.close();
    for (const { type, result } of report.exports) {
      // As with `docker build -q`, quiet mode prints the digest alone on stdout for scripts.
      if (result.digest) {
        quiet ? io.stdout(`${result.digest}\n`) : io.stderr(`exported ${type}: ${result.digest}\n`);
      }
    }
    const metadataFile = flagValue(args, "metadata-file");
    if (metadataFile) await writeMetadataFile(metadataFile, report);
    return 0;
  } catch (error) {
    renderer.close();
    throw error;
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
}

/** The output streams and terminal state a command uses. */
export interface CommandIo {
  stdout(text: string): void;
  stderr(text: string): void;
  stderrIsTerminal: boolean;
  stdinIsTerminal: boolean;
}

/** Returns the plugin flags of `args` (`--plugin`, `--plugin-allow`, `--config`). */
export function pluginFlags(args: ParsedArgs): PluginFlags {
  return {
    plugins: flagValues(args, "plugin"),
    allow: flagValues(args, "plugin-allow"),
    config: flagValue(args, "config"),
    cwd: Deno.cwd(),
  };
}

/**
 * Loads the plugins that `--plugin`, `--config` or ./tsbuild.json name, and returns undefined
 * when there are none. The plugin loader and its sandbox are imported only when one of these or
 * `--plugin-allow` is given, because importing them made every build start 1 to 2 ms later.
 */
export async function loadProjectPlugins(
  flags: PluginFlags,
  plugins: PluginRegistry,
): Promise<LoadedPlugins | undefined> {
  const configured = flags.plugins.length > 0 || flags.allow.length > 0 ||
    flags.config !== undefined || existsSync(resolve(flags.cwd, "tsbuild.json"));
  if (!configured) return undefined;
  const { loadConfiguredPlugins } = await import("../plugin/config_file.ts");
  return await loadConfiguredPlugins(flags, plugins);
}

/** A build as the flags describe it, before the store and plugins are involved. */
export interface BuildRequest {
  frontend: string;
  frontendOptions: Record<string, string>;
  locals: Record<string, string>;
  /** Locals given as git URLs: local name → source identifier, fetched before the frontend runs. */
  remoteLocals: Record<string, string>;
  outputs: OutputSpec[];
  names: string[];
  platform: ReturnType<typeof hostPlatform>;
}

/** Turns the flags and positional context of `tsbuild build` into a {@link BuildRequest}. */
export function resolveBuildRequest(args: ParsedArgs): BuildRequest {
  if (args.positionals.length > 1) {
    throw new InvalidInputError(
      `Expected at most one build context, got ${args.positionals.length}: ${
        args.positionals.join(" ")
      }`,
    );
  }
  const { locals, remoteLocals } = parseLocals(flagValues(args, "local"));
  const context = args.positionals[0];
  if (context === "-") {
    throw new InvalidInputError(
      "Reading the build context from standard input is not supported: pass a directory or a git URL",
    );
  }
  if (context?.startsWith("file://")) {
    throw new InvalidInputError(
      `file:// contexts are not supported ("${context}"): pass the directory as a path, or a git URL`,
    );
  }
  if (context !== undefined && isGitContext(context)) {
    remoteLocals.context = gitContextIdentifier(context);
    delete locals.context;
  } else if (context !== undefined) {
    locals.context = resolve(context);
    delete remoteLocals.context;
  }

  const file = flagValue(args, "file");
  if (file === "-") {
    throw new InvalidInputError(
      "Reading the Dockerfile from standard input (-f -) is not supported: pass its path",
    );
  }
  const frontendOptions = parseKeyValues(flagValues(args, "opt"), "--opt");
  if (file !== undefined && remoteLocals.context && !locals.dockerfile && !isFile(file)) {
    // As with buildx: with a git context, -f reads a local file when there is one,
    // and otherwise names a file inside the repository.
    frontendOptions.filename = file;
  } else if (file !== undefined) {
    locals.dockerfile = resolve(dirname(file));
    frontendOptions.filename = basename(file);
  } else if (locals.context && !locals.dockerfile) {
    locals.dockerfile = locals.context;
  }
  for (
    const [name, value] of Object.entries(
      parseKeyValues(flagValues(args, "build-arg"), "--build-arg", true),
    )
  ) {
    frontendOptions[`build-arg:${name}`] = value;
  }
  const target = flagValue(args, "target");
  if (target) frontendOptions.target = target;
  const platformFlag = flagValue(args, "platform");
  // Several platforms build an image index; the first is the build's default platform.
  const platforms = platformFlag?.split(",").map((part) => part.trim()).filter(Boolean) ?? [];
  const platform = platforms.length > 0 ? parsePlatform(platforms[0]) : hostPlatform();
  platforms.forEach(parsePlatform);
  if (platformFlag) frontendOptions.platform = platformFlag;

  let frontend = flagValue(args, "frontend");
  // buildctl names the Dockerfile frontend "dockerfile.v0".
  if (frontend === "dockerfile.v0") frontend = "dockerfile";
  if (!frontend) {
    // A definition piped in with no Dockerfile or context named means a build program's output.
    const piped = !Deno.stdin.isTerminal() && file === undefined && !locals.context &&
      !remoteLocals.context && !locals.dockerfile;
    frontend = piped ? "definition" : "dockerfile";
  }
  if (frontend === "dockerfile" && !locals.context && !remoteLocals.context) {
    throw new InvalidInputError(
      `Missing build context: pass a directory or git URL (tsbuild build [flags] DIR) or --local context=DIR`,
    );
  }

  const outputs = flagValues(args, "output").map(parseOutputSpec);
  // --push is short for one registry output, which may also be written out.
  if (flagEnabled(args, "push") && !outputs.some((output) => output.type === "registry")) {
    outputs.push({ type: "registry", attrs: {} });
  }
  const exporter = flagValue(args, "exporter");
  if (exporter) outputs.push(parseExporterFlags(exporter, flagValues(args, "exporter-opt")));
  const names = flagValues(args, "tag");
  checkLocalDirectories(locals);
  checkMetadataFile(flagValue(args, "metadata-file"));
  return { frontend, frontendOptions, locals, remoteLocals, outputs, names, platform };
}

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

// A value that is a git URL becomes a remote local; any other is a directory.
function parseLocals(values: string[]): Pick<BuildRequest, "locals" | "remoteLocals"> {
  const locals: Record<string, string> = {};
  const remoteLocals: Record<string, string> = {};
  for (const value of values) {
    const equals = value.indexOf("=");
    if (equals <= 0) throw new InvalidInputError(`Invalid --local "${value}": expected NAME=DIR`);
    const name = value.slice(0, equals);
    const target = value.slice(equals + 1);
    if (isGitContext(target)) remoteLocals[name] = gitContextIdentifier(target);
    else locals[name] = resolve(target);
  }
  return { locals, remoteLocals };
}

function parseKeyValues(values: string[], flag: string, allowBare = false): Record<string, string> {
  const parsed: Record<string, string> = {};
  for (const value of values) {
    const equals = value.indexOf("=");
    if (equals < 0 && allowBare) {
      // As with docker build: "--build-arg NAME" takes NAME's value from the environment.
      const fromEnv = Deno.env.get(value);
      if (fromEnv !== undefined) parsed[value] = fromEnv;
      continue;
    }
    if (equals <= 0) throw new InvalidInputError(`Invalid ${flag} "${value}": expected KEY=VALUE`);
    parsed[value.slice(0, equals)] = value.slice(equals + 1);
  }
  return parsed;
}

function parseSourceDateEpoch(value: string | undefined): number | undefined {
  if (value === undefined || value === "") return undefined;
  // JavaScript dates end at 8.64e15 ms, in the year 275760.
  if (!/^\d+$/.test(value) || Number(value) > 8.64e12) {
    throw new InvalidInputError(
      `Invalid SOURCE_DATE_EPOCH "${value}": expected whole seconds since 1970-01-01`,
    );
  }
  return Number(value);
}

/** Returns the executor `--executor` names: runc (the default) or containerd. */
async function createExecutor(
  args: ParsedArgs,
  root: string,
  containerd: ContainerdClient | undefined,
): Promise<Executor> {
  const name = flagValue(args, "executor", "runc");
  if (name === "runc") {
    await reapAbandonedContainers({ runcPath: DEFAULT_RUNC_PATH, stateRoot: `${root}/runc` });
    return createRuncExecutor({ stateRoot: `${root}/runc`, bundleRoot: `${root}/tmp` });
  }
  if (name === "containerd" && containerd) {
    const { createContainerdExecutor } = await import("../exec/containerd.ts");
    return createContainerdExecutor({ client: containerd });
  }
  throw new InvalidInputError(`Invalid --executor "${name}": expected "runc" or "containerd"`);
}

/**
 * Reports whether FROM images are looked up in containerd before the registry: when the user
 * pointed tsbuild at containerd (--containerd-address, CONTAINERD_ADDRESS or --executor
 * containerd), and neither --pull nor `--opt image-resolve-mode=pull` requests the registry.
 */
function prefersContainerdImages(
  args: ParsedArgs,
  frontendOptions: Record<string, string>,
): boolean {
  if (flagEnabled(args, "pull") || frontendOptions["image-resolve-mode"] === "pull") return false;
  return flagValue(args, "containerd-address") !== undefined ||
    (Deno.env.get("CONTAINERD_ADDRESS") ?? "") !== "" ||
    flagValue(args, "executor") === "containerd";
}

/**
 * Returns a containerd client when the build may talk to containerd: an `image` output, the
 * containerd executor, a configured address, or a third-party plugin. Loading the client costs
 * tens of milliseconds, which a build that never uses containerd does not pay.
 */
async function connectContainerdIfUsed(
  args: ParsedArgs,
  request: BuildRequest,
  signal: AbortSignal,
): Promise<(ContainerdClient & Disposable) | undefined> {
  const used = request.outputs.some((output) => output.type === "image") ||
    prefersContainerdImages(args, {}) || flagValues(args, "plugin").length > 0 ||
    existsSync("tsbuild.json") || flagValue(args, "config") !== undefined;
  if (!used) return undefined;
  const { createContainerdClient, CONTAINERD_ADDRESS_ENV, DEFAULT_CONTAINERD_ADDRESS } =
    await import("../containerd/client.ts");
  // An image export needs containerd at the end; a missing socket is reported before the build.
  const address = flagValue(args, "containerd-address") || Deno.env.get(CONTAINERD_ADDRESS_ENV) ||
    DEFAULT_CONTAINERD_ADDRESS;
  if (request.outputs.some((output) => output.type === "image") && !existsSync(address)) {
    throw new InvalidInputError(
      `Invalid output "type=image": containerd socket "${address}" does not exist (start containerd, or set --containerd-address or ${CONTAINERD_ADDRESS_ENV})`,
    );
  }
  return createContainerdClient({
    address: flagValue(args, "containerd-address"),
    namespace: flagValue(args, "containerd-namespace"),
    signal,
  });
}

function existsSync(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

function checkLocalDirectories(locals: Record<string, string>): void {
  for (const [name, dir] of Object.entries(locals)) {
    let info: Deno.FileInfo;
    try {
      info = Deno.statSync(dir);
    } catch (error) {
      const flag = name === "context"
        ? "the build context"
        : name === "dockerfile"
        ? "the Dockerfile's directory"
        : `--local ${name}`;
      throw new InvalidInputError(`Failed to read ${flag} "${dir}": no such directory`, {
        cause: error,
      });
    }
    if (!info.isDirectory) {
      throw new InvalidInputError(`Failed to read local "${name}" at "${dir}": not a directory`);
    }
  }
}

/** Returns the store root from `--root`, TSBUILD_ROOT or the default, rejecting an empty value. */
export function storeRoot(flag: string | undefined): string {
  if (flag === "") {
    throw new InvalidInputError(`Invalid --root "": expected a directory for the store`);
  }
  return resolve(flag ?? defaultStoreRoot());
}

// A metadata file that cannot be written should fail before the build, not after the export.
function checkMetadataFile(path: string | undefined): void {
  if (path === undefined) return;
  const parent = dirname(resolve(path));
  const parentInfo = statOrUndefined(parent);
  if (!parentInfo?.isDirectory) {
    throw new InvalidInputError(
      `Invalid --metadata-file "${path}": directory "${parent}" does not exist`,
    );
  }
  if (statOrUndefined(path)?.isDirectory) {
    throw new InvalidInputError(`Invalid --metadata-file "${path}": it is a directory`);
  }
}

function statOrUndefined(path: string): Deno.FileInfo | undefined {
  try {
    return Deno.statSync(path);
  } catch {
    return undefined;
  }
}
