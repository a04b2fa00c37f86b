/**
 * Loads third-party plugins named with `--plugin` or in tsbuild.json: bundles each file, learns
 * its shape in a worker without permissions, and registers a stand-in whose hooks run in the
 * plugin's sandbox.
 *
 * @module
 */

import { resolve } from "../deps.ts";
import { InvalidInputError } from "../errors.ts";
import {
  createDefinition,
  decodeDefinition,
  type Definition,
  encodeDefinition,
} from "../graph/definition.ts";
import { bundlePlugin } from "./_bundle.ts";
import type { PluginRegistry } from "./registry.ts";
import { type HookKind, PluginSandbox } from "./sandbox.ts";
import {
  checkDeclaredPermissions,
  findDeniedAccess,
  intersectPermissions,
  type ResolvedPermissions,
  toPluginPermissions,
} from "./sandbox_permissions.ts";
import { PluginHookError } from "./sandbox_errors.ts";
import type {
  ExportArgs,
  ExporterContext,
  ExporterPlugin,
  FrontendPlugin,
  Plugin,
  PluginContext,
  SourcePlugin,
} from "./types.ts";
import type {
  ExporterDescription,
  FrontendDescription,
  HookTarget,
  PluginDescription,
  SourceDescription,
} from "./worker_runtime.ts";

/** One plugin to load. */
export interface PluginSpec {
  /** The plugin file as the user wrote it; messages show it so. */
  file: string;
  /** The file's absolute path. */
  path: string;
  /** The user's grant to this plugin, which gets at most what it declares. */
  granted: ResolvedPermissions;
}

/** Plugins loaded into a registry; close them to stop their workers. */
export interface LoadedPlugins extends AsyncDisposable {
  /** The stand-ins registered, in the order of the specs. */
  plugins: Plugin[];
  /** Stops every plugin's workers. */
  close(): Promise<void>;
}

/**
 * Loads each plugin of `specs` and registers it in `registry`, in order. Files are bundled and
 * inspected in parallel.
 *
 * @example Loading one plugin
 * ```ts ignore
 * await using loaded = await loadPlugins([
 *   { file: "./list.ts", path: "/src/list.ts", granted: noPermissions() },
 * ], registry);
 * ```
 *
 * @throws {InvalidInputError} when a file is missing or does not parse, has no plugin as its
 * default export, was written for another plugin API version, or provides a name another plugin
 * already provides; the message names the file.
 */
export async function loadPlugins(
  specs: PluginSpec[],
  registry: PluginRegistry,
): Promise<LoadedPlugins> {
  const sandboxes: PluginSandbox[] = [];
  const close = async () => {
    await Promise.all(sandboxes.map((sandbox) => sandbox.close()));
  };
  try {
    const prepared = await Promise.all(specs.map(async (spec) => {
      const bundle = await bundlePlugin(spec.path, spec.file);
      const sandbox = new PluginSandbox(spec.file, bundle, spec.granted);
      sandboxes.push(sandbox);
      return { spec, sandbox, description: await inspect(sandbox) };
    }));
    const plugins = prepared.map(({ spec, sandbox, description }) => {
      const plugin = createStandIn(description, sandbox, spec);
      registry.register(plugin, spec.file);
      return plugin;
    });
    return { plugins, close, [Symbol.asyncDispose]: close };
  } catch (error) {
    await close();
    throw error;
  }
}

/** Returns the spec of a plugin file named relative to `cwd`, with what the user granted. */
export function pluginSpec(file: string, cwd: string, granted: ResolvedPermissions): PluginSpec {
  return { file, path: resolve(cwd, file), granted };
}

async function inspect(sandbox: PluginSandbox): Promise<PluginDescription> {
  try {
    return await sandbox.inspect();
  } catch (error) {
    const message = (error as Error)?.message ?? String(error);
    const access = findDeniedAccess(error);
    const where = pluginLine(error, sandbox.file);
    const problem = access
      ? `its top-level code was denied ${access.kind} access to "${access.target}": code outside ` +
        `hooks runs without permissions, so move that access into a hook`
      : (error as Error)?.name === "SyntaxError" && where === undefined
      ? invalidBundleProblem(message)
      : `evaluating the module threw: ${message}${where ? ` (at ${where})` : ""}`;
    throw new InvalidInputError(`Failed to load plugin from "${sandbox.file}": ${problem}`, {
      cause: error,
      data: { file: sandbox.file },
    });
  }
}

// The bundle wraps each module in a function, so a top-level await is a syntax error there, and
// the message names the bundle's data: URL, which means nothing to the plugin's author.
function invalidBundleProblem(message: string): string {
  const cleaned = message.replace(/ at data:\S+/g, "").trim();
  const hint = /reserved word|await/i.test(cleaned)
    ? " (top-level await is not supported in plugins; move it into a hook)"
    : "";
  return `the bundled module is not valid JavaScript: ${cleaned}${hint}`;
}

// Returns "file:line" of the first stack frame in the plugin file. The column is left out
// because the transpiler puts its helpers at the start of line 1.
function pluginLine(error: unknown, file: string): string | undefined {
  const stack = (error as Error)?.stack ?? "";
  for (const line of stack.split("\n").slice(1)) {
    const match = line.match(/\(?(\S+):(\d+):\d+\)?$/);
    if (match && match[1].endsWith(file.replace(/^\.\//, ""))) return `${file}:${match[2]}`;
  }
  return undefined;
}

// Builds the object the registry checks and the solver calls: the same keys as the plugin's
// default export, so unknown keys are reported by name, and hooks that call into the sandbox.
function createStandIn(
  description: PluginDescription,
  sandbox: PluginSandbox,
  spec: PluginSpec,
): Plugin {
  const where = `Failed to load plugin from "${spec.file}"`;
  checkDescription(description, where);
  const name = description.name as string;
  const declared = checkDeclaredPermissions(description.permissions, where);
  sandbox.configure(name, declared, intersectPermissions(declared, spec.granted));

  const plugin: Record<string, unknown> = {};
  for (const key of description.keys) plugin[key] = undefined;
  Object.assign(plugin, { apiVersion: description.apiVersion, name });
  if (description.permissions !== undefined) {
    plugin.permissions = toPluginPermissions(sandbox.permissions);
  }
  if (Array.isArray(description.sources)) {
    plugin.sources = description.sources.map((entry, index) =>
      sourceStandIn(entry as SourceDescription, index, sandbox)
    );
  }
  if (Array.isArray(description.exporters)) {
    plugin.exporters = description.exporters.map((entry, index) =>
      exporterStandIn(entry as ExporterDescription, index, sandbox)
    );
  }
  if (Array.isArray(description.frontends)) {
    plugin.frontends = description.frontends.map((entry, index) =>
      frontendStandIn(entry as FrontendDescription, index, sandbox)
    );
  }
  return plugin as unknown as Plugin;
}

function checkDescription(description: PluginDescription, where: string): void {
  const fail = (problem: string): never => {
    throw new InvalidInputError(`${where}: ${problem}`);
  };
  if (!description.hasDefault) {
    fail(`the module has no default export (expected "export default { apiVersion, name, ... }")`);
  }
  if (description.defaultType !== "object") {
    fail(`the default export is ${article(description.defaultType)}, not a plugin object`);
  }
  for (const list of ["sources", "exporters", "frontends"] as const) {
    const entries = description[list];
    if (entries === "not-a-list") fail(`"${list}" must be a list`);
    if (Array.isArray(entries) && entries.includes("not-an-object")) {
      fail(`every entry of "${list}" must be an object`);
    }
  }
  if (Array.isArray(description.sources)) {
    for (const source of description.sources) {
      const schemes = (source as { schemes: unknown }).schemes;
      if (!Array.isArray(schemes) || schemes.some((scheme) => typeof scheme !== "string")) {
        fail(`"schemes" of a source must be a list of strings`);
      }
    }
  }
}

function article(type: string): string {
  if (type === "undefined" || type === "null") return type;
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

function hook(
  sandbox: PluginSandbox,
  target: HookTarget,
  label: string,
  kind: HookKind,
  check: (result: unknown) => unknown,
) {
  return async (args: object, context: PluginContext) => {
    const result = await sandbox.callHook(target, label, kind, { ...args }, context);
    try {
      return check(result);
    } catch (error) {
      throw new PluginHookError(
        `Plugin "${sandbox.name}" (${sandbox.file}) failed in ${label}: ${
          (error as Error).message
        }`,
        { cause: error, site: { plugin: sandbox.name, file: sandbox.file, hook: label } },
      );
    }
  };
}

function sourceStandIn(
  entry: SourceDescription,
  index: number,
  sandbox: PluginSandbox,
): SourcePlugin {
  const schemes = entry.schemes as string[];
  const label = (name: string) => `${name} of source "${schemes.join(", ")}"`;
  const target = (name: HookTarget["hook"]): HookTarget => ({ list: "sources", index, hook: name });
  return {
    schemes,
    onResolve: entry.onResolve
      ? hook(sandbox, target("onResolve"), label("onResolve"), "source", checkResolveResult)
      : undefined,
    onLoad: entry.onLoad
      ? hook(sandbox, target("onLoad"), label("onLoad"), "source", checkLoadResult)
      : undefined,
  } as SourcePlugin;
}

function exporterStandIn(
  entry: ExporterDescription,
  index: number,
  sandbox: PluginSandbox,
): ExporterPlugin {
  const name = entry.name as string;
  const exporterHook = (hookName: "onCheck" | "onExport", check: (result: unknown) => unknown) =>
    hook(
      sandbox,
      { list: "exporters", index, hook: hookName },
      `${hookName} of exporter "${name}"`,
      "exporter",
      check,
    );
  const onCheck = entry.onCheck ? exporterHook("onCheck", () => undefined) : undefined;
  const onExport = entry.onExport
    ? exporterHook("onExport", checkObjectResult("onExport"))
    : undefined;
  return {
    name,
    onCheck,
    // The export shows as a step of its own, as the built-in exporters' do, so a user sees it
    // run even when the plugin reports nothing.
    onExport: onExport &&
      ((args: ExportArgs, context: ExporterContext) =>
        context.progress.step(`exporting to type=${name}`, () => onExport(args, context))),
  } as ExporterPlugin;
}

function frontendStandIn(
  entry: FrontendDescription,
  index: number,
  sandbox: PluginSandbox,
): FrontendPlugin {
  const name = entry.name as string;
  return {
    name,
    onBuild: entry.onBuild
      ? hook(
        sandbox,
        { list: "frontends", index, hook: "onBuild" },
        `onBuild of frontend "${name}"`,
        "frontend",
        checkBuildResult,
      )
      : undefined,
  } as FrontendPlugin;
}

function checkResolveResult(result: unknown): unknown {
  const pin = (result as { pin?: unknown })?.pin;
  if (typeof pin !== "string" || pin === "") {
    throw new TypeError(`onResolve must return { pin: string }, got ${JSON.stringify(result)}`);
  }
  return result;
}

function checkLoadResult(result: unknown): unknown {
  if (typeof result !== "object" || result === null) {
    throw new TypeError(`onLoad must return { snapshot?: string }, got ${JSON.stringify(result)}`);
  }
  const snapshot = (result as { snapshot?: unknown }).snapshot;
  if (snapshot !== undefined && typeof snapshot !== "string") {
    throw new TypeError(`onLoad must return { snapshot?: string }, got ${JSON.stringify(result)}`);
  }
  return result;
}

function checkObjectResult(hookName: string) {
  return (result: unknown): unknown => {
    if (result === undefined) return {};
    if (typeof result !== "object" || result === null) {
      throw new TypeError(`${hookName} must return an object, got ${JSON.stringify(result)}`);
    }
    return result;
  };
}

// A definition crosses from the worker as protobuf bytes or as the message's fields. Building
// the message from the fields and encoding it checks that it is one.
function checkBuildResult(result: unknown): unknown {
  const { definition, platforms } = (result ?? {}) as { definition?: unknown; platforms?: unknown };
  if (platforms !== undefined && !Array.isArray(platforms)) {
    throw new TypeError(
      `onBuild must return "platforms" as a list, got ${JSON.stringify(platforms)}`,
    );
  }
  return {
    definition: checkDefinition(definition, "the definition the frontend returned"),
    ...(platforms
      ? {
        platforms: platforms.map((entry, index) => ({
          platform: (entry as { platform?: unknown })?.platform,
          definition: checkDefinition(
            (entry as { definition?: unknown })?.definition,
            `the definition for platforms[${index}]`,
          ),
        })),
      }
      : {}),
  };
}

function checkDefinition(definition: unknown, source: string): Definition {
  if (definition instanceof Uint8Array) return decodeDefinition(definition, source);
  if (typeof definition !== "object" || definition === null) {
    throw new TypeError(
      `onBuild must return { definition }, got ${JSON.stringify(definition)} for ${source}`,
    );
  }
  const fields = { ...definition } as Record<string, unknown>;
  delete fields.$typeName;
  const message = createDefinition(fields as Parameters<typeof createDefinition>[0]);
  return decodeDefinition(encodeDefinition(message), source);
}
