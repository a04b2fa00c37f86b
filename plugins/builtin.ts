/**
 * The plugins tsbuild ships with, registered through the same interface as
 * third-party ones.
 *
 * @module
 */

import type { Plugin } from "../mod.ts";
import imageSource from "./sources/image.ts";
import localSource from "./sources/local.ts";
import gitSource from "./sources/git.ts";
import httpSource from "./sources/http.ts";
import dockerfileFrontend from "./frontends/dockerfile/mod.ts";
import definitionFrontend from "./frontends/definition.ts";
import exporters from "./exporters/mod.ts";
import containerdImageSource from "./sources/containerd_image.ts";
import imageExporter from "./exporters/image.ts";

/** Every built-in plugin, in registration order. */
export const BUILTIN_PLUGINS: readonly Plugin[] = [
  imageSource,
  localSource,
  gitSource,
  httpSource,
  dockerfileFrontend,
  definitionFrontend,
  exporters,
  containerdImageSource,
  imageExporter,
];
