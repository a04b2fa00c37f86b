/**
 * The project config file, tsbuild.json: which plugins to load and what each is granted, checked
 * when it is read, with unknown keys rejected by name.
 *
 * @example tsbuild.json
 * ```json
 * {
 *   "plugins": [
 *     "./plugins/file_list.ts",
 *     { "path": "./plugins/inline_source.ts", "allow": { "read": ["/etc/hostname"] } }
 *   ]
 * }
 * ```
 *
 * @module
 */

import { dirname, isAbsolute, resolve } from "../deps.ts";
import { InvalidInputError, NotFoundError } from "../errors.ts";
import { type LoadedPlugins, loadPlugins, type PluginSpec, pluginSpec } from "./loader.ts";
import type { PluginRegistry } from "./registry.ts";
import {
  noPermissions,
  parsePluginAllow,
  PERMISSION_KINDS,
  type PermissionKind,
  type ResolvedPermissions,
} from "./sandbox_permissions.ts";

/** The config file's name, looked for in the current directory. */
export const CONFIG_FILE_NAME = "tsbuild.json";

const CONFIG_KEYS = ["plugins"];
const PLUGIN_ENTRY_KEYS = ["path", "allow"];

/** A checked tsbuild.json. */
export interface ProjectConfig {
  /** The file it was read from. */
  path: string;
  /** Plugins in the order listed, with paths resolved against the file's directory. */
  plugins: PluginSpec[];
}

/** The plugin flags of `tsbuild build`. */
export interface PluginFlags {
  /** `--plugin` values, in order. */
  plugins: string[];
  /** `--plugin-allow` values; they grant to every plugin loaded. */
  allow: string[];
  /** `--config`; without it, tsbuild.json in `cwd` is read when it exists. */
  config?: string;
  cwd: string;
}

/**
 * Returns the plugins to load: those in the config file first, then each `--plugin`. Grants
 * from `--plugin-allow` are added to every plugin's grants from the config file.
 *
 * @throws {InvalidInputError} for an invalid flag value or config file, naming it.
 * @throws {NotFoundError} when the file named with `--config` does not exist.
 */
export async function resolvePluginSpecs(flags: PluginFlags): Promise<PluginSpec[]> {
  const shared = noPermissions();
  for (const value of flags.allow) parsePluginAllow(value, flags.cwd, shared);
  const config = await readProjectConfig(flags.config, flags.cwd);
  const specs = [
    ...(config?.plugins ?? []),
    ...flags.plugins.map((file) => pluginSpec(file, flags.cwd, noPermissions())),
  ];
  return specs.map((spec) => ({ ...spec, granted: mergePermissions(spec.granted, shared) }));
}

/**
 * Reads and checks the config file at `path`, or tsbuild.json in `cwd` when `path` is not given.
 * Returns undefined when no path is given and `cwd` has no tsbuild.json.
 *
 * @throws {NotFoundError} when `path` is given and does not exist.
 * @throws {InvalidInputError} when the file is not JSON or has an unknown or invalid key.
 */
export async function readProjectConfig(
  path: string | undefined,
  cwd: string,
): Promise<ProjectConfig | undefined> {
  const file = resolve(cwd, path ?? CONFIG_FILE_NAME);
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    if (path === undefined) return undefined;
    throw new NotFoundError(`Failed to read config file "${path}" (--config): not found`, {
      cause: error,
    });
  }
  const displayed = path ?? CONFIG_FILE_NAME;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new InvalidInputError(
      `Invalid config file "${displayed}": not JSON: ${(error as Error).message}`,
      { cause: error },
    );
  }
  return { path: file, plugins: checkConfig(json, displayed, dirname(file), cwd) };
}

function checkConfig(json: unknown, displayed: string, base: string, cwd: string): PluginSpec[] {
  const fail = (problem: string): never => {
    throw new InvalidInputError(`Invalid config file "${displayed}": ${problem}`);
  };
  const root = checkObject(json, "the top level", fail);
  checkKeys(root, CONFIG_KEYS, "the top level", fail);
  if (root.plugins === undefined) return [];
  if (!Array.isArray(root.plugins)) fail(`"plugins" must be a list`);
  return (root.plugins as unknown[]).map((entry, index) => {
    const at = `plugins[${index}]`;
    if (typeof entry === "string") return configSpec(entry, noPermissions(), base, cwd);
    const object = checkObject(entry, at, fail);
    checkKeys(object, PLUGIN_ENTRY_KEYS, at, fail);
    if (typeof object.path !== "string" || object.path === "") {
      fail(`"${at}.path" must be the plugin file's path`);
    }
    const granted = checkAllow(object.allow, `${at}.allow`, base, fail);
    return configSpec(object.path as string, granted, base, cwd);
  });
}

function checkAllow(
  allow: unknown,
  at: string,
  base: string,
  fail: (problem: string) => never,
): ResolvedPermissions {
  const granted = noPermissions();
  if (allow === undefined) return granted;
  const object = checkObject(allow, at, fail);
  checkKeys(object, PERMISSION_KINDS, at, fail);
  for (const [kind, list] of Object.entries(object)) {
    if (!Array.isArray(list) || list.some((entry) => typeof entry !== "string" || entry === "")) {
      fail(`"${at}.${kind}" must be a list of non-empty strings`);
    }
    const isPath = kind === "read" || kind === "write";
    for (const entry of list as string[]) {
      granted[kind as PermissionKind].push(isPath ? resolve(base, entry) : entry);
    }
  }
  return granted;
}

function checkObject(
  value: unknown,
  at: string,
  fail: (problem: string) => never,
): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    fail(`${at} must be an object`);
  }
  return value as Record<string, unknown>;
}

function checkKeys(
  object: Record<string, unknown>,
  allowed: readonly string[],
  at: string,
  fail: (problem: string) => never,
): void {
  for (const key of Object.keys(object)) {
    if (!allowed.includes(key)) {
      fail(`unknown key "${key}" in ${at} (allowed: ${allowed.join(", ")})`);
    }
  }
}

// Messages show a plugin as written when the config file is in the current directory, and by
// its absolute path otherwise, since a path relative to another directory would mislead.
function configSpec(
  file: string,
  granted: ResolvedPermissions,
  base: string,
  cwd: string,
): PluginSpec {
  const path = resolve(base, file);
  const displayed = base === resolve(cwd) || isAbsolute(file) ? file : path;
  return { file: displayed, path, granted };
}

function mergePermissions(a: ResolvedPermissions, b: ResolvedPermissions): ResolvedPermissions {
  const merged = noPermissions();
  for (const kind of PERMISSION_KINDS) merged[kind] = [...new Set([...a[kind], ...b[kind]])];
  return merged;
}

/**
 * Loads the plugins that `flags` and the config file name into `registry`; close the result
 * when the command ends.
 *
 * @throws {InvalidInputError} as {@link resolvePluginSpecs} and {@link loadPlugins} do.
 */
export async function loadConfiguredPlugins(
  flags: PluginFlags,
  registry: PluginRegistry,
): Promise<LoadedPlugins> {
  return await loadPlugins(await resolvePluginSpecs(flags), registry);
}
