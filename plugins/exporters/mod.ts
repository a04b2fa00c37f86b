/**
 * tsbuild's built-in exporters as one plugin: `oci`, `docker`, `local`, `tar` and `registry`, selected with
 * `--output type=NAME,...`.
 *
 * @example Listing the exporters
 * ```ts
 * import builtinExporters from "./mod.ts";
 *
 * const names = builtinExporters.exporters?.map((exporter) => exporter.name);
 * // ["oci", "docker", "local", "tar", "registry"]
 * ```
 *
 * @module
 */

import type { Plugin } from "../../core/plugin/types.ts";
import { dockerExporter } from "./docker.ts";
import { localExporter } from "./local.ts";
import { ociExporter } from "./oci.ts";
import { registryExporter } from "./registry.ts";
import { tarExporter } from "./tar.ts";

/** The built-in exporters plugin. */
const builtinExporters: Plugin = {
  // The plugin API version this plugin was written for (PLUGIN_API_VERSION), written as a
  // literal because plugins import only types from core.
  apiVersion: 1,
  name: "builtin-exporters",
  exporters: [ociExporter, dockerExporter, localExporter, tarExporter, registryExporter],
};

export default builtinExporters;
