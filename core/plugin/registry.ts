/**
 * The plugin registry: the sources, exporters and frontends a build can use,
 * built-in and third-party alike, registered through the same checks.
 *
 * @module
 */

import { InvalidInputError } from "../errors.ts";
import {
  type ExporterPlugin,
  type FrontendPlugin,
  type Plugin,
  PLUGIN_API_VERSION,
  type SourcePlugin,
} from "./types.ts";

const PLUGIN_KEYS = new Set([
  "apiVersion",
  "name",
  "sources",
  "exporters",
  "frontends",
  "permissions",
]);

/** The origin of a registered plugin, for error messages. */
export interface PluginOrigin {
  /** The plugin's file, or "built-in". */
  file: string;
  plugin: string;
}

/** Sources by scheme, exporters and frontends by name. */
export class PluginRegistry {
  readonly #sources = new Map<string, { source: SourcePlugin; origin: PluginOrigin }>();
  readonly #exporters = new Map<string, { exporter: ExporterPlugin; origin: PluginOrigin }>();
  readonly #frontends = new Map<string, { frontend: FrontendPlugin; origin: PluginOrigin }>();

  /** Checks `plugin`'s shape and registers everything it provides; `file` names it in errors. */
  register(plugin: Plugin, file = "built-in"): void {
    checkPluginShape(plugin, file);
    const origin = { file, plugin: plugin.name };
    for (const source of plugin.sources ?? []) {
      for (const scheme of source.schemes) {
        this.#claim(this.#sources, scheme, "source scheme", origin);
        this.#sources.set(scheme, { source, origin });
      }
    }
    for (const exporter of plugin.exporters ?? []) {
      this.#claim(this.#exporters, exporter.name, "exporter", origin);
      this.#exporters.set(exporter.name, { exporter, origin });
    }
    for (const frontend of plugin.frontends ?? []) {
      this.#claim(this.#frontends, frontend.name, "frontend", origin);
      this.#frontends.set(frontend.name, { frontend, origin });
    }
  }

  /** Returns the source serving `scheme` with its origin, or undefined. */
  source(scheme: string): { source: SourcePlugin; origin: PluginOrigin } | undefined {
    return this.#sources.get(scheme);
  }

  /** Returns the exporter named `name` with its origin, or undefined. */
  exporter(name: string): { exporter: ExporterPlugin; origin: PluginOrigin } | undefined {
    return this.#exporters.get(name);
  }

  /** Returns the frontend named `name` with its origin, or undefined. */
  frontend(name: string): { frontend: FrontendPlugin; origin: PluginOrigin } | undefined {
    return this.#frontends.get(name);
  }

  /** Lists registered names, for help text and errors. */
  names(): { sources: string[]; exporters: string[]; frontends: string[] } {
    return {
      sources: [...this.#sources.keys()].sort(),
      exporters: [...this.#exporters.keys()].sort(),
      frontends: [...this.#frontends.keys()].sort(),
    };
  }

  #claim(
    map: Map<string, { origin: PluginOrigin }>,
    name: string,
    kind: string,
    origin: PluginOrigin,
  ): void {
    const existing = map.get(name);
    if (existing) {
      throw new InvalidInputError(
        `Failed to load plugin "${origin.plugin}" from "${origin.file}": ${kind} "${name}" is already provided by ` +
          `plugin "${existing.origin.plugin}" (${existing.origin.file})`,
      );
    }
  }
}

function checkPluginShape(plugin: Plugin, file: string): void {
  const fail = (problem: string) => {
    throw new InvalidInputError(`Failed to load plugin from "${file}": ${problem}`);
  };
  if (typeof plugin !== "object" || plugin === null) fail("the default export is not an object");
  for (const key of Object.keys(plugin)) {
    if (!PLUGIN_KEYS.has(key)) {
      fail(`unknown key "${key}" in the default export (allowed: ${[...PLUGIN_KEYS].join(", ")})`);
    }
  }
  if (typeof plugin.name !== "string" || plugin.name === "") {
    fail(`"name" must be a non-empty string`);
  }
  if (plugin.apiVersion !== PLUGIN_API_VERSION) {
    fail(
      `plugin "${plugin.name}" was written for plugin API version ${
        JSON.stringify(plugin.apiVersion)
      }, but this tsbuild implements version ${PLUGIN_API_VERSION}`,
    );
  }
  for (const source of plugin.sources ?? []) {
    if (
      !Array.isArray(source.schemes) || typeof source.onResolve !== "function" ||
      typeof source.onLoad !== "function"
    ) {
      fail(`a source of plugin "${plugin.name}" needs "schemes", "onResolve" and "onLoad"`);
    }
  }
  for (const exporter of plugin.exporters ?? []) {
    if (typeof exporter.name !== "string" || typeof exporter.onExport !== "function") {
      fail(`an exporter of plugin "${plugin.name}" needs "name" and "onExport"`);
    }
  }
  for (const frontend of plugin.frontends ?? []) {
    if (typeof frontend.name !== "string" || typeof frontend.onBuild !== "function") {
      fail(`a frontend of plugin "${plugin.name}" needs "name" and "onBuild"`);
    }
  }
}
