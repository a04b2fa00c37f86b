/**
 * Bundles a plugin file and the files it imports by relative path into one JavaScript module
 * text, which a worker imports from a `data:` URL.
 *
 * @module
 */

import { isAbsolute, relative, resolve } from "../deps.ts";
import { InvalidInputError } from "../errors.ts";
import { preloadTranspiler, transpileModule } from "./_bundle_transpile.ts";

/** One plugin as a single module. */
export interface PluginBundle {
  /**
   * The module text. Its export `moduleExports` is the entry file's exports object, so the
   * worker can tell a missing default export from `export default undefined`.
   */
  code: string;
  /** Absolute paths of the bundled files, entry first. */
  files: string[];
  /** The line ranges of `code` that contain each file, for mapping stack traces back. */
  lines: BundleLines[];
}

/** The lines of a bundle that hold one file; line N of the file is `firstLine + N - 1`. */
export interface BundleLines {
  /** The file as displayed in messages. */
  display: string;
  firstLine: number;
  lineCount: number;
}

interface BundledModule {
  path: string;
  display: string;
  code: string;
  /** Specifier as written → absolute path of the bundled file. */
  deps: Record<string, string>;
}

// sucrase turns every import into a require() call with a string literal.
// NOTE: a comment or string in the plugin that contains such a call is taken for an import too.
// When it names a file that does not exist, loading fails with "which does not exist".
const REQUIRE_PATTERN = /\brequire\((['"])([^'"\n]+)\1\)/g;

/**
 * Reads `path`, transpiles it and every file it imports by relative or absolute path, and
 * returns them as one module. Imports of `node:` built-ins stay imports; type-only imports are
 * erased; any other import is an error, since the module must load with nothing to resolve.
 *
 * @param path Absolute path of the plugin file.
 * @param display The plugin file as the user named it, used in messages.
 * @throws {InvalidInputError} when a file is missing, does not parse, or imports something that
 * cannot be bundled; the message names the plugin, the file and the line.
 */
export async function bundlePlugin(path: string, display: string): Promise<PluginBundle> {
  void preloadTranspiler();
  const modules = new Map<string, BundledModule>();
  const externals = new Set<string>();
  const importers = new Map<string, string>();
  const queue = [path];
  // The bundler reads files with tsbuild's permissions, not the plugin's, so a plugin may only
  // bundle files in its own directory tree. Symlinks are resolved before the check.
  const pluginDir = await realDirectory(path, display);

  while (queue.length > 0) {
    const file = queue.shift()!;
    if (modules.has(file)) continue;
    const displayed = file === path ? display : displayPath(file);
    if (file !== path) {
      await checkInside(file, pluginDir, display, importers.get(file) ?? displayed);
    }
    const text = await readModule(file, displayed, display, importers);
    const code = await transpileModule(text, { plugin: display, display: displayed, path: file });
    const module: BundledModule = { path: file, display: displayed, code, deps: {} };
    modules.set(file, module);

    for (const match of code.matchAll(REQUIRE_PATTERN)) {
      const specifier = match[2];
      if (specifier.startsWith("node:")) {
        externals.add(specifier);
        continue;
      }
      const line = code.slice(0, match.index).split("\n").length;
      const target = resolveLocal(specifier, file);
      if (target === undefined) throw unbundlable(display, `${displayed}:${line}`, specifier);
      module.deps[specifier] = target;
      if (!importers.has(target)) importers.set(target, `${displayed}:${line}`);
      queue.push(target);
    }
  }
  return assemble(path, [...modules.values()], [...externals]);
}

async function readModule(
  file: string,
  displayed: string,
  plugin: string,
  importers: Map<string, string>,
): Promise<string> {
  try {
    return await Deno.readTextFile(file);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) {
      throw new InvalidInputError(
        `Failed to load plugin from "${plugin}": cannot read "${displayed}"`,
        {
          cause: error,
        },
      );
    }
    const importer = importers.get(file);
    const problem = importer
      ? `${importer} imports "${displayed}", which does not exist (imports name the file with its extension)`
      : `file not found`;
    throw new InvalidInputError(`Failed to load plugin from "${plugin}": ${problem}`, {
      cause: error,
    });
  }
}

async function realDirectory(path: string, display: string): Promise<string> {
  try {
    const real = await Deno.realPath(path);
    return real.slice(0, real.lastIndexOf("/"));
  } catch (error) {
    throw new InvalidInputError(`Failed to load plugin from "${display}": file not found`, {
      cause: error,
    });
  }
}

async function checkInside(
  file: string,
  pluginDir: string,
  plugin: string,
  importer: string,
): Promise<void> {
  let real: string;
  try {
    real = await Deno.realPath(file);
  } catch {
    return; // A missing file is reported by readModule with the importing line.
  }
  if (real === pluginDir || real.startsWith(`${pluginDir}/`)) return;
  // tsbuild's own modules are the usual case: a plugin takes only their types.
  const hint = file.endsWith("/mod.ts")
    ? "; import tsbuild's API with import type, and write values such as apiVersion: 1 as literals"
    : "";
  throw new InvalidInputError(
    `Failed to load plugin from "${plugin}": ${importer} imports "${file}", which is outside the plugin's directory "${pluginDir}"${hint}`,
  );
}

function resolveLocal(specifier: string, importer: string): string | undefined {
  if (specifier.startsWith("file:")) return new URL(specifier).pathname;
  if (isAbsolute(specifier)) return specifier;
  if (specifier.startsWith("./") || specifier.startsWith("../")) {
    return resolve(importer, "..", specifier);
  }
  return undefined;
}

function unbundlable(plugin: string, where: string, specifier: string): InvalidInputError {
  return new InvalidInputError(
    `Failed to load plugin from "${plugin}": ${where} imports "${specifier}", which a plugin ` +
      `cannot load: plugins bundle only the files they import by relative path and node: ` +
      `built-ins, and import tsbuild's API with "import type"`,
  );
}

function displayPath(file: string): string {
  const fromHere = relative(Deno.cwd(), file);
  return fromHere.startsWith("..") ? file : `./${fromHere}`;
}

// Wraps each module in a function called with CommonJS-style exports and require, which is what
// sucrase's output expects. Each module's code starts on a line of its own, so stack traces map
// back to the file by line arithmetic.
function assemble(entry: string, modules: BundledModule[], externals: string[]): PluginBundle {
  const header = [
    ...externals.map((specifier, i) =>
      `import * as __tsbuildExternal${i} from ${JSON.stringify(specifier)};`
    ),
    `const __tsbuildExternals = new Map([${
      externals.map((specifier, i) =>
        `[${JSON.stringify(specifier)}, { __esModule: true, ...__tsbuildExternal${i} }]`
      ).join(", ")
    }]);`,
    ...LOADER.split("\n"),
  ];
  const parts = [...header];
  const lines: BundleLines[] = [];
  for (const module of modules) {
    parts.push(
      `__tsbuildModules.set(${JSON.stringify(module.path)}, { deps: ${
        JSON.stringify(module.deps)
      }, factory: function (exports, require, module) {`,
    );
    const codeLines = module.code.split("\n");
    lines.push({
      display: module.display,
      firstLine: parts.length + 1,
      lineCount: codeLines.length,
    });
    parts.push(...codeLines, "}});");
  }
  parts.push(`export const moduleExports = __tsbuildLoad(${JSON.stringify(entry)});`);
  return { code: parts.join("\n") + "\n", files: modules.map((module) => module.path), lines };
}

const LOADER = `const __tsbuildModules = new Map();
const __tsbuildInstances = new Map();
function __tsbuildLoad(key) {
  const loaded = __tsbuildInstances.get(key);
  if (loaded) return loaded.exports;
  const entry = __tsbuildModules.get(key);
  const module = { exports: {} };
  __tsbuildInstances.set(key, module);
  const require = (specifier) => {
    const external = __tsbuildExternals.get(specifier);
    if (external) return external;
    const target = entry.deps[specifier];
    if (target === undefined) throw new Error("Cannot find module " + JSON.stringify(specifier) + " imported by " + key);
    return __tsbuildLoad(target);
  };
  entry.factory.call(module.exports, module.exports, require, module);
  return module.exports;
}`;

/**
 * Rewrites the bundle's `data:` URL locations in `stack` (lines like
 * `at onExport (data:text/javascript;base64,AbC......xYz:57:13)`) to the plugin file and line
 * they came from.
 */
export function mapBundleStack(stack: string, lines: BundleLines[]): string {
  return stack.replace(/data:text\/javascript[^\s):]*:(\d+):(\d+)/g, (whole, line, column) => {
    const bundleLine = Number(line);
    const range = lines.find((candidate) =>
      bundleLine >= candidate.firstLine && bundleLine < candidate.firstLine + candidate.lineCount
    );
    if (!range) return whole;
    return `${range.display}:${bundleLine - range.firstLine + 1}:${column}`;
  });
}

/** Returns the bundle as a `data:` URL whose stack frames {@link mapBundleStack} recognises. */
export function bundleUrl(bundle: PluginBundle): string {
  return `data:text/javascript;base64,${encodeBase64(bundle.code)}`;
}

/** Encodes text as UTF-8 and then base64, as `data:` URLs carry it. */
export function encodeBase64(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}
