/**
 * One whole build: a frontend turns input into a definition, the solver runs
 * it against the store, and exporters write the result.
 *
 * @module
 */

import type { Digest } from "./digest.ts";
import { InvalidInputError, NotFoundError } from "./errors.ts";
import { loadGraph } from "./graph/definition.ts";
import type { Executor } from "./exec/executor.ts";
import { createExporterContext } from "./image/exporter_context.ts";
import { createPluginContext } from "./plugin/context.ts";
import { createFrontendContext } from "./plugin/frontend_context.ts";
import type { PluginRegistry } from "./plugin/registry.ts";
import type {
  BuildResult,
  ExportResult,
  ImageConfig,
  Platform,
  PlatformDefinition,
} from "./plugin/types.ts";
import type { ProgressSink } from "./progress/events.ts";
import type { RegistryClient } from "./registry/client.ts";
import { Solver, type SolverStats } from "./solver/solver.ts";
import type { SecretProvider } from "./solver/secrets.ts";
import type { SshAgentProvider } from "./solver/ssh_agents.ts";
import { openStore } from "./store/store.ts";
import { loadRemoteLocals } from "./remote_locals.ts";
import type { ContainerdClient } from "./containerd/client.ts";
import type { OutputSpec } from "./cli/output_spec.ts";

/** Everything one build needs, already resolved from flags and environment. */
export interface BuildOptions {
  root: string;
  /** Frontend name, e.g. "dockerfile" or "definition". */
  frontend: string;
  frontendOptions: Record<string, string>;
  locals: Record<string, string>;
  /**
   * Locals that a source fetches before the frontend runs, by name: the
   * identifier of the source, e.g. `git://https://host/repo.git#main`. Each
   * replaces the local of the same name.
   */
  remoteLocals?: Record<string, string>;
  outputs: OutputSpec[];
  names: string[];
  platform: Platform;
  plugins: PluginRegistry;
  executor: Executor;
  registry: RegistryClient;
  sink: ProgressSink;
  signal: AbortSignal;
  noCache?: boolean;
  debug?: boolean;
  secrets?: SecretProvider;
  /** The SSH agents `RUN --mount=type=ssh` may forward (`--ssh`). */
  ssh?: SshAgentProvider;
  stdin?: ReadableStream<Uint8Array>;
  /** Clamp image timestamps to this many seconds since the epoch (SOURCE_DATE_EPOCH). */
  sourceDateEpoch?: number;
  /** The containerd client plugins get as `context.containerd`. */
  containerd?: ContainerdClient;
  /** Look FROM images up in containerd's image store before the registry. */
  preferContainerdImages?: boolean;
}

/** The report of a finished build. */
export interface BuildReport {
  exports: Array<{ type: string; result: ExportResult }>;
  attributes: Record<string, string>;
  stats: SolverStats;
  /** Cache key of the result's top op. */
  resultKey?: Digest;
}

/** Runs a build end to end. */
export async function build(options: BuildOptions): Promise<BuildReport> {
  const frontend = options.plugins.frontend(options.frontend);
  if (!frontend) {
    const known = options.plugins.names().frontends.join(", ");
    throw new InvalidInputError(`Unknown frontend "${options.frontend}" (known: ${known})`);
  }
  const exporters = options.outputs.map((output) => {
    const found = options.plugins.exporter(output.type);
    if (!found) {
      const known = options.plugins.names().exporters.join(", ");
      throw new NotFoundError(`Unknown output type "${output.type}" (known: ${known})`);
    }
    return { output, exporter: found };
  });

  await using store = await openStore(options.root);
  const base = {
    store,
    registry: options.registry,
    sink: options.sink,
    signal: options.signal,
    platform: options.platform,
    debug: options.debug,
    containerd: options.containerd,
  };
  for (const { output, exporter } of exporters) {
    await exporter.exporter.onCheck?.(
      { attrs: output.attrs, names: options.names },
      createPluginContext(base, exporter.origin.plugin),
    );
  }
  const locals = {
    ...options.locals,
    ...await loadRemoteLocals(options.remoteLocals ?? {}, {
      ...base,
      plugins: options.plugins,
      executor: options.executor,
      noCache: options.noCache,
      secrets: options.secrets,
    }),
  };
  const shared = { ...base, locals };

  const frontendContext = createFrontendContext(
    { ...shared, locals, preferContainerdImages: options.preferContainerdImages },
    frontend.origin.plugin,
  );
  const { definition, platforms } = await frontend.frontend.onBuild(
    { options: options.frontendOptions, locals, stdin: options.stdin },
    frontendContext,
  );
  const graph = loadGraph(definition);

  const solver = new Solver({
    ...shared,
    plugins: options.plugins,
    executor: options.executor,
    noCache: options.noCache,
    secrets: options.secrets,
    ssh: options.ssh,
  });
  const solved = await solver.solve(graph);
  const attributes = { ...graph.attributes };
  // The context as the build saw it (after .dockerignore), so CI can compare contexts by digest.
  const contextDigest = solver.stats.pins.get("local://context");
  if (contextDigest) attributes["context.digest"] = contextDigest;

  const result: BuildResult = {
    snapshot: solved?.snapshot,
    imageConfig: (graph.imageConfig ?? {}) as ImageConfig,
    platform: options.platform,
    attributes,
    sourceDateEpoch: options.sourceDateEpoch,
  };
  if (platforms && platforms.length > 1) {
    result.platform = platforms[0].platform;
    result.platforms = await solvePlatforms(platforms, solver, result);
  }
  const exports: BuildReport["exports"] = [];
  for (const { output, exporter } of exporters) {
    const context = createExporterContext({ ...shared, result }, exporter.origin.plugin);
    const exported = await exporter.exporter.onExport({
      attrs: output.attrs,
      names: options.names,
      result,
    }, context);
    exports.push({ type: output.type, result: exported });
  }
  return { exports, attributes, stats: solver.stats, resultKey: solved?.key };
}

// Solves each platform's definition with the same solver, so ops the platforms share (a stage
// FROM --platform=$BUILDPLATFORM, the build context) run once.
async function solvePlatforms(
  platforms: PlatformDefinition[],
  solver: Solver,
  first: BuildResult,
): Promise<BuildResult[]> {
  const results: BuildResult[] = [];
  for (const { platform, definition } of platforms) {
    const graph = loadGraph(definition);
    const solved = await solver.solve(graph);
    results.push({
      ...first,
      snapshot: solved?.snapshot,
      imageConfig: (graph.imageConfig ?? {}) as ImageConfig,
      platform,
    });
  }
  return results;
}
