/**
 * tsbuild: build container images from Dockerfiles or TypeScript build
 * programs, with sources, exporters and frontends as plugins.
 *
 * This module is what build programs and plugin authors import. The graph
 * builder describes a build as immutable states; `marshal()` turns the final
 * state into the definition `tsbuild build` reads from stdin. Plugin authors
 * import only types from here, so a plugin needs nothing at load time.
 *
 * @example A build program piped into `tsbuild build`
 * ```ts ignore
 * import { image, local, copy, writeDefinition } from "./mod.ts";
 *
 * const base = image("127.0.0.1:5000/busybox:1");
 * const app = base
 *   .file(copy(local("context"), "app.sh", "/app/app.sh"))
 *   .run({ args: "chmod +x /app/app.sh" });
 * await writeDefinition(app, { imageConfig: { config: { Cmd: ["/app/app.sh"] } } });
 * ```
 *
 * @module
 */

export {
  copy,
  git,
  image,
  local,
  mkdir,
  mkfile,
  rm,
  scratch,
  source,
  State,
} from "./core/graph/builder.ts";
export type {
  CopyOptions,
  FileAction,
  GitOptions,
  ImageOptions,
  LocalOptions,
  MarshalOptions,
  OpInfo,
  Owner,
  PlatformSpec,
  RunMount,
  RunOptions,
} from "./core/graph/builder.ts";
export { writeDefinition } from "./core/graph/write_definition.ts";
export type { Definition } from "./core/graph/definition.ts";

export { PLUGIN_API_VERSION } from "./core/plugin/types.ts";
export { LINKS_FOLDER } from "./core/store/gc.ts";
export type {
  BuildImageOptions,
  BuildResult,
  ContentReader,
  ContentWriter,
  Descriptor,
  ExportArgs,
  ExportCheckArgs,
  ExporterContext,
  ExporterPlugin,
  ExportResult,
  FrontendBuildArgs,
  FrontendContext,
  FrontendPlugin,
  FrontendResult,
  ImageArtifact,
  ImageConfig,
  ImageHistory,
  LayerBlob,
  LayerTools,
  Logger,
  Platform,
  PlatformDefinition,
  Plugin,
  PluginContext,
  PluginPermissions,
  ProgressWriter,
  RegistryClient,
  ResolvedImage,
  SecretReader,
  SourceLoadArgs,
  SourceLoadResult,
  SourcePlugin,
  SourceResolveArgs,
  SourceResolveResult,
  VertexProgress,
} from "./core/plugin/types.ts";
export type { ProgressEvent } from "./core/progress/events.ts";
export type { ContainerdClient } from "./core/containerd/client.ts";
export type { Digest } from "./core/digest.ts";
