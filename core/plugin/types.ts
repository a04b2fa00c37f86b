/**
 * The plugin interface: the types of sources, exporters and frontends, and of
 * the context each receives. Built-in plugins and third-party ones implement
 * exactly these.
 *
 * @module
 */

import type { Definition } from "../graph/definition.ts";
import type { Digest } from "../digest.ts";
import type { ProgressEvent } from "../progress/events.ts";
import type { RegistryClient } from "../registry/client.ts";
import type { ContainerdClient } from "../containerd/client.ts";

export type { ContainerdClient, RegistryClient };

/** The plugin API version this tsbuild implements. A plugin names the version it was written for. */
export const PLUGIN_API_VERSION = 1;

/** An OCI platform. */
export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

/** An OCI content descriptor. */
export interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  platform?: Platform;
  annotations?: Record<string, string>;
}

/** A module's default export: one plugin with any number of sources, exporters and frontends. */
export interface Plugin {
  /** The plugin API version the plugin was written for; must equal {@link PLUGIN_API_VERSION}. */
  apiVersion: number;
  /** A short name used in errors and progress, e.g. "my-exporter". */
  name: string;
  sources?: SourcePlugin[];
  exporters?: ExporterPlugin[];
  frontends?: FrontendPlugin[];
  /** Permissions the plugin needs from the host, granted by the user with `--plugin-allow`. */
  permissions?: PluginPermissions;
}

/** Deno permissions a plugin requests. */
export interface PluginPermissions {
  read?: string[];
  write?: string[];
  net?: string[];
  run?: string[];
  env?: string[];
}

/** Structured log output; fields carry values rather than sentences built from them. */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
}

/** Progress reporting for one step of a build, as shown by `--progress`. */
export interface VertexProgress {
  /** Shows a status line such as "pulling layer 2/3", with optional counts in `unit` (default "bytes"). */
  status(message: string, current?: number, total?: number, unit?: string): void;
  /** Appends output, e.g. a process's stdout. */
  log(stream: "stdout" | "stderr", data: Uint8Array | string): void;
  /** Reports a warning attached to this step. */
  warn(message: string): void;
}

/** Progress reporting for a plugin: steps of its own and raw events. */
export interface ProgressWriter {
  /** Runs `fn` as a step named `name`, reporting its start, end and failure. */
  step<T>(name: string, fn: (progress: VertexProgress) => Promise<T>): Promise<T>;
  /** Emits an event as it is. */
  emit(event: ProgressEvent): void;
}

/** Read access to the store's content and snapshots. */
export interface ContentReader {
  /** Opens blob `digest` for reading. */
  openBlob(digest: Digest): Promise<ReadableStream<Uint8Array>>;
  /** Reads a small blob whole. */
  readBlob(digest: Digest): Promise<Uint8Array>;
  /** Reports whether blob `digest` is in the store. */
  hasBlob(digest: Digest): Promise<boolean>;
}

/** Writing to the store: blobs and new snapshots. */
export interface ContentWriter extends ContentReader {
  /** Stores what `stream` carries, checked against `expected` when given. */
  writeBlob(
    stream: ReadableStream<Uint8Array>,
    expected?: { digest?: Digest; size?: number },
  ): Promise<{ digest: Digest; size: number }>;
  /**
   * Creates a snapshot on top of `parent` (or an empty filesystem) by calling
   * `fill` with an empty diff directory in overlay format. The snapshot is
   * discarded if `fill` throws.
   */
  createSnapshot(
    options: { parent?: string; kind: string; id?: string; layer?: LayerBlob },
    fill: (diffDir: string) => Promise<void>,
  ): Promise<string>;
  /** Reports whether snapshot `id` exists. */
  hasSnapshot(id: string): Promise<boolean>;
  /** Returns a directory for the plugin's own persistent data, created on first use. */
  dataDir(name: string): Promise<string>;
}

/** A layer blob already in the content store that a snapshot's diff came from. */
export interface LayerBlob {
  digest: Digest;
  /** Digest of the uncompressed tar. */
  diffId: Digest;
  size: number;
  mediaType: string;
}

/** The context every plugin hook receives. */
export interface PluginContext {
  readonly logger: Logger;
  readonly progress: ProgressWriter;
  readonly signal: AbortSignal;
  /** The platform being built for. */
  readonly platform: Platform;
  readonly content: ContentWriter;
  /** A registry client with the build's credentials and insecure-registry settings. */
  readonly registry: RegistryClient;
  /** Local directories passed to the build by name (`--local NAME=DIR`, the context). */
  readonly locals: Readonly<Record<string, string>>;
  /** Layer tar helpers, so plugins need not bring their own tar code. */
  readonly layers: LayerTools;
  /**
   * The build's secrets (`--secret id=ID,...`), e.g. a source's credentials.
   * Values must never enter pins, cache keys, logs or progress.
   */
  readonly secrets?: SecretReader;
  /**
   * A containerd client for `--containerd-address` and `--containerd-namespace`. It connects on
   * first use, and its calls fail with RemoteError naming the socket when containerd is not
   * running. Absent where the host offers no containerd access.
   */
  readonly containerd?: ContainerdClient;
}

/** Read access to the build's secrets by id. */
export interface SecretReader {
  /** Returns the secret's bytes, or undefined when the build has no secret with that id. */
  get(id: string): Promise<Uint8Array | undefined>;
}

/** Layer tar helpers for plugins. */
export interface LayerTools {
  /**
   * Unpacks a layer tar (gzip, zstd or uncompressed) into an empty diff
   * directory, applying whiteouts and refusing entries that escape it.
   */
  unpack(
    stream: ReadableStream<Uint8Array>,
    diffDir: string,
    options?: { expectedDigest?: Digest; expectedDiffId?: Digest; lowerDirs?: string[] },
  ): Promise<{ digest: Digest; diffId: Digest; size: number }>;
}

// ---------------------------------------------------------------- sources

/** Arguments of {@link SourcePlugin.onResolve}. */
export interface SourceResolveArgs {
  /** The whole identifier, e.g. "docker-image://127.0.0.1:5000/busybox:1". */
  identifier: string;
  scheme: string;
  /** The identifier after "scheme://". */
  path: string;
  attrs: Record<string, string>;
  platform: Platform;
}

/** The result of {@link SourcePlugin.onResolve}. */
export interface SourceResolveResult {
  /**
   * The pinned identity of the content (a manifest digest, a commit hash, a
   * content hash). The cache key is computed from it, never from the identifier.
   */
  pin: string;
  /**
   * Returns a digest of the paths selected by `patterns` (paths or wildcards),
   * so file ops that read only part of the source are keyed by that part.
   * Sources that cannot tell omit it, and the whole pin is used.
   */
  selectionDigest?: (patterns: string[]) => Promise<Digest>;
  /**
   * The attributes that enter the cache key beside the pin, for a source
   * whose pin already settles some of them: a git commit hash makes the `ref`
   * attribute irrelevant, so two refs naming one commit share a cache entry.
   * Omitted means every attribute of the op.
   */
  cacheAttrs?: Record<string, string>;
}

/** Arguments of {@link SourcePlugin.onLoad}. */
export interface SourceLoadArgs extends SourceResolveArgs {
  pin: string;
}

/** The result of {@link SourcePlugin.onLoad}: the top snapshot, or undefined for an empty filesystem. */
export interface SourceLoadResult {
  snapshot?: string;
}

/**
 * A source: turns an identifier with a scheme into a snapshot.
 * Plugins combine by scheme: exactly one source serves a scheme.
 */
export interface SourcePlugin {
  /** URL schemes served, e.g. ["docker-image"]. */
  schemes: string[];
  /** Pins the identifier to an exact version, fetching as little as possible. */
  onResolve(args: SourceResolveArgs, context: PluginContext): Promise<SourceResolveResult>;
  /** Makes the snapshot for a pinned identity; called only when the cache has no result. */
  onLoad(args: SourceLoadArgs, context: PluginContext): Promise<SourceLoadResult>;
}

// ---------------------------------------------------------------- frontends

/** The base image information a frontend needs while converting. */
export interface ResolvedImage {
  /** The reference pinned to its manifest digest, e.g. "127.0.0.1:5000/busybox:1@sha256:…". */
  pinned: string;
  digest: Digest;
  /** The image's OCI config JSON. */
  config: ImageConfig;
  /**
   * The source scheme that loads `pinned`: "docker-image" for a registry, "containerd-image"
   * for containerd's image store. @default "docker-image"
   */
  source?: "docker-image" | "containerd-image";
}

/** Arguments of {@link FrontendPlugin.onBuild}. */
export interface FrontendBuildArgs {
  /** Frontend options: "filename", "target", "build-arg:NAME", "platform", "no-cache", ... */
  options: Record<string, string>;
  /** Local directories by name, e.g. { context: "/src", dockerfile: "/src" }. */
  locals: Record<string, string>;
  /** Standard input, for frontends that read a definition from it. */
  stdin?: ReadableStream<Uint8Array>;
}

/** The context a frontend receives: the build services it may call while converting. */
export interface FrontendContext extends PluginContext {
  /** Resolves an image reference to its manifest digest and config. */
  resolveImage(reference: string, options?: { platform?: Platform }): Promise<ResolvedImage>;
  /** Reads a file from a local directory passed to the build, naming it in errors. */
  readLocalFile(local: string, path: string): Promise<Uint8Array | undefined>;
}

/** The result of a frontend: the build definition. */
export interface FrontendResult {
  definition: Definition;
  /**
   * For a build for several platforms: one definition per platform, in the
   * order requested, each solved and exported as part of one image index.
   * `definition` is then the first one's.
   */
  platforms?: PlatformDefinition[];
}

/** The definition a frontend produced for one platform of a multi-platform build. */
export interface PlatformDefinition {
  platform: Platform;
  definition: Definition;
}

/**
 * A frontend: turns build input (a Dockerfile, a definition on stdin) into a
 * Definition. Plugins combine by name: `--frontend NAME` selects one.
 */
export interface FrontendPlugin {
  name: string;
  onBuild(args: FrontendBuildArgs, context: FrontendContext): Promise<FrontendResult>;
}

// ---------------------------------------------------------------- exporters

/** The OCI image config, with the fields tsbuild writes. */
export interface ImageConfig {
  architecture?: string;
  os?: string;
  variant?: string;
  created?: string;
  author?: string;
  config?: {
    User?: string;
    ExposedPorts?: Record<string, Record<string, never>>;
    Env?: string[];
    Entrypoint?: string[] | null;
    Cmd?: string[] | null;
    Volumes?: Record<string, Record<string, never>>;
    WorkingDir?: string;
    Labels?: Record<string, string>;
    StopSignal?: string;
    Shell?: string[];
    Healthcheck?: Record<string, unknown>;
    OnBuild?: string[];
    ArgsEscaped?: boolean;
  };
  rootfs?: { type: "layers"; diff_ids: string[] };
  history?: ImageHistory[];
}

/** One entry of an image's history. */
export interface ImageHistory {
  created?: string;
  created_by?: string;
  comment?: string;
  empty_layer?: boolean;
}

/** A build's result as exporters see it. */
export interface BuildResult {
  /** Top snapshot of the result, or undefined for an empty filesystem. */
  snapshot?: string;
  /** The image config the frontend asked for, without rootfs (filled in by buildImage). */
  imageConfig: ImageConfig;
  platform: Platform;
  /** Build-wide attributes from the frontend, e.g. "context.digest". */
  attributes: Record<string, string>;
  /**
   * Seconds since the epoch from SOURCE_DATE_EPOCH, when set: image timestamps
   * are clamped to it so equal input gives an equal image digest.
   */
  sourceDateEpoch?: number;
  /**
   * For a build for several platforms: each platform's result, in the order
   * requested. The fields above are then the first one's.
   */
  platforms?: BuildResult[];
}

/** An image assembled in the store's content store. */
export interface ImageArtifact {
  manifest: Descriptor;
  config: Descriptor;
  layers: Descriptor[];
  /** The manifest and config bytes, as stored. */
  manifestBytes: Uint8Array;
  configBytes: Uint8Array;
}

/** Options for {@link ExporterContext.buildImage}. */
export interface BuildImageOptions {
  /** @default "gzip", which every registry and runtime reads */
  compression?: "gzip" | "zstd" | "none";
  /** Seconds since the epoch; clamps timestamps so equal input gives equal digests. */
  sourceDateEpoch?: number;
  /** Use Docker's media types instead of OCI's, as `docker load` prefers. */
  dockerMediaTypes?: boolean;
  /**
   * Which platform of a multi-platform result to assemble (see `BuildResult.platforms`).
   * @default the result's own platform
   */
  platform?: Platform;
}

/** The context an exporter receives: the build services it may call. */
export interface ExporterContext extends PluginContext {
  /** Makes the result's layers, config and manifest (reusing stored ones) and returns them. */
  buildImage(options?: BuildImageOptions): Promise<ImageArtifact>;
  /** Writes the result's merged filesystem into `dir`, which must be empty or missing. */
  writeFilesystem(dir: string): Promise<void>;
  /** Streams the result's merged filesystem as an uncompressed tar. */
  filesystemTar(options?: { sourceDateEpoch?: number }): ReadableStream<Uint8Array>;
}

/** Arguments of {@link ExporterPlugin.onCheck}: the output's options, before any build. */
export type ExportCheckArgs = Pick<ExportArgs, "attrs" | "names">;

/** Arguments of {@link ExporterPlugin.onExport}. */
export interface ExportArgs {
  /** Options from `--output type=NAME,key=value,...`, without "type". */
  attrs: Record<string, string>;
  /** Image names from `-t`. */
  names: string[];
  result: BuildResult;
}

/** The result of an export, printed and written to `--metadata-file`. */
export interface ExportResult {
  /** Digest of the exported manifest or index, when the export is an image. */
  digest?: Digest;
  configDigest?: Digest;
  /** Extra values for `--metadata-file`. */
  metadata?: Record<string, unknown>;
}

/**
 * An exporter: writes a build's result somewhere. Plugins combine by name:
 * each `--output type=NAME` selects one, and several outputs run in order.
 */
export interface ExporterPlugin {
  name: string;
  /**
   * Checks the output's options before the build starts, so a wrong `--output` or `-t` fails
   * at once rather than after the build. Optional; `onExport` must check them too. `context`
   * gives the build's services, such as its logger; nothing is built yet.
   */
  onCheck?(args: ExportCheckArgs, context: PluginContext): void | Promise<void>;
  onExport(args: ExportArgs, context: ExporterContext): Promise<ExportResult>;
}
