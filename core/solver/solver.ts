/**
 * The solver: runs a build graph bottom-up, each op at most once per build,
 * independent ops in parallel, reusing cached results by cache key.
 *
 * @module
 */

import type { Digest } from "../digest.ts";
import { CancelledError, NotFoundError, TsbuildError } from "../errors.ts";
import type { Graph, GraphVertex } from "../graph/definition.ts";
import type { Executor } from "../exec/executor.ts";
import { createPluginContext } from "../plugin/context.ts";
import type { PluginRegistry } from "../plugin/registry.ts";
import type { Platform } from "../plugin/types.ts";
import type { ProgressSink } from "../progress/events.ts";
import type { Store } from "../store/store.ts";
import type { RegistryClient } from "../registry/client.ts";
import type { ContainerdClient } from "../containerd/client.ts";
import { opCacheKey, sourceCacheKey } from "./cache_key.ts";
import { runExecOp } from "./exec_op.ts";
import { runFileOp } from "./file_op.ts";
import type { SecretProvider } from "./secrets.ts";
import type { SshAgentProvider } from "./ssh_agents.ts";
import { runMergeOp } from "./merge_op.ts";
import { Semaphore } from "./_semaphore.ts";
import { describeVertex } from "./_describe.ts";

/** Options for {@link Solver}. */
export interface SolverOptions {
  store: Store;
  plugins: PluginRegistry;
  registry: RegistryClient;
  executor: Executor;
  /** Local directories by name, for local sources. */
  locals?: Record<string, string>;
  /** The containerd client, for sources that read containerd's image store. */
  containerd?: ContainerdClient;
  sink: ProgressSink;
  signal: AbortSignal;
  /** The platform ops without their own platform are built for. */
  platform: Platform;
  /** Ignore cached results (they are still written). */
  noCache?: boolean;
  debug?: boolean;
  secrets?: SecretProvider;
  /** The SSH agents `RUN --mount=type=ssh` may forward. */
  ssh?: SshAgentProvider;
  /** How many exec ops may run at once. @default the number of CPUs, at least 2 */
  maxParallelExecs?: number;
}

/** The solved result of one op. */
export interface VertexResult {
  key: Digest;
  /** Top snapshot of the result, or undefined for an empty filesystem. */
  snapshot?: string;
  /** For sources that support it: a digest of just the selected paths. */
  selectionDigest?: (patterns: string[]) => Promise<Digest>;
}

/** Counts of cache lookups and runs per op digest, to prove deduplication and cache hits. */
export interface SolverStats {
  runs: Map<Digest, number>;
  cacheHits: Map<Digest, number>;
  /** The pin each source identifier resolved to, e.g. "local://context" to its content digest. */
  pins: Map<string, string>;
}

/** Solves build graphs against one store. */
export class Solver {
  readonly stats: SolverStats = { runs: new Map(), cacheHits: new Map(), pins: new Map() };
  readonly #options: SolverOptions;
  readonly #results = new Map<Digest, Promise<VertexResult>>();
  readonly #execSlots: Semaphore;
  readonly #abort = new AbortController();
  /** Cache records being written; the steps that need a result do not wait for its record. */
  #recordWrites: Promise<void>[] = [];

  constructor(options: SolverOptions) {
    this.#options = options;
    this.#execSlots = new Semaphore(
      options.maxParallelExecs ?? Math.max(2, navigator.hardwareConcurrency ?? 2),
    );
    const onAbort = () => this.#abort.abort(options.signal.reason);
    if (options.signal.aborted) onAbort();
    else options.signal.addEventListener("abort", onAbort, { once: true });
  }

  /** Solves `graph`'s output and returns its result; an empty graph gives an empty filesystem. */
  async solve(graph: Graph): Promise<VertexResult | undefined> {
    if (!graph.output) return undefined;
    try {
      const result = await this.#solveVertex(graph, graph.output);
      await Promise.all(this.#takeRecordWrites());
      return result;
    } catch (error) {
      await Promise.allSettled(this.#takeRecordWrites());
      if (this.#options.signal.aborted) {
        throw new CancelledError("Build cancelled", { cause: error });
      }
      throw error;
    }
  }

  #solveVertex(graph: Graph, digest: Digest): Promise<VertexResult> {
    let result = this.#results.get(digest);
    if (!result) {
      result = this.#computeVertex(graph, graph.vertices.get(digest)!);
      // The first failure stops the rest of the build rather than letting it run on.
      result.catch((error) => this.#abort.abort(error));
      this.#results.set(digest, result);
    }
    return result;
  }

  async #computeVertex(graph: Graph, vertex: GraphVertex): Promise<VertexResult> {
    const inputs = await Promise.all(
      vertex.op.inputs.map((input) => this.#solveVertex(graph, input.digest as Digest)),
    );
    this.#throwIfAborted();
    const name = describeVertex(vertex);
    const progressVertex = { id: vertex.digest, name };
    const platform = this.#platformOf(vertex);

    if (vertex.op.op.case === "source") {
      return this.#computeSource(vertex, progressVertex, platform);
    }
    const key = opCacheKey(vertex.op, await this.#inputKeys(vertex, inputs));
    const cached = await this.#lookup(key, vertex, progressVertex);
    if (cached) return cached;
    return this.#run(vertex, progressVertex, key, async () => {
      if (vertex.op.op.case === "exec") {
        await this.#execSlots.acquire();
        try {
          return await runExecOp(
            vertex.op.op.value,
            inputs,
            this.#runContext(progressVertex, platform),
          );
        } finally {
          this.#execSlots.release();
        }
      }
      if (vertex.op.op.case === "file") {
        return await runFileOp(
          vertex.op.op.value,
          inputs,
          this.#runContext(progressVertex, platform),
        );
      }
      if (vertex.op.op.case === "merge") {
        return await runMergeOp(inputs, this.#runContext(progressVertex, platform));
      }
      throw new TsbuildError(
        "INVALID_INPUT",
        `Invalid definition: op "${vertex.digest}" has no operation`,
      );
    });
  }

  async #computeSource(
    vertex: GraphVertex,
    progressVertex: { id: string; name: string },
    platform: Platform,
  ): Promise<VertexResult> {
    const source = vertex.op.op.value as { identifier: string; attrs: Record<string, string> };
    const separator = source.identifier.indexOf("://");
    const scheme = separator > 0 ? source.identifier.slice(0, separator) : "";
    const found = this.#options.plugins.source(scheme);
    if (!found) {
      const known = this.#options.plugins.names().sources.join(", ");
      throw new NotFoundError(
        `Failed to resolve source "${source.identifier}": no source plugin serves scheme "${scheme}" (known: ${known})`,
      );
    }
    const context = createPluginContext(
      { ...this.#options, platform, signal: this.#abort.signal },
      found.origin.plugin,
    );
    const args = {
      identifier: source.identifier,
      scheme,
      path: source.identifier.slice(separator + 3),
      attrs: source.attrs,
      platform,
    };

    const resolved = await found.source.onResolve(args, context);
    this.stats.pins.set(source.identifier, resolved.pin);
    const key = sourceCacheKey(
      scheme,
      resolved.pin,
      resolved.cacheAttrs ?? source.attrs,
      platformString(platform),
    );
    const cached = await this.#lookup(key, vertex, progressVertex);
    if (cached) return { ...cached, selectionDigest: resolved.selectionDigest };
    const result = await this.#run(vertex, progressVertex, key, async () => {
      const loaded = await found.source.onLoad({ ...args, pin: resolved.pin }, context);
      return loaded.snapshot;
    });
    return { ...result, selectionDigest: resolved.selectionDigest };
  }

  async #inputKeys(vertex: GraphVertex, inputs: VertexResult[]): Promise<string[]> {
    // A file op that only copies from an input that can digest a selection is
    // keyed by the selected paths, so unrelated changes in that input keep it cached.
    const op = vertex.op.op;
    if (op.case !== "file") return inputs.map((input) => input.key);
    const selections = new Map<number, string[]>();
    const baseInput = vertex.op.inputs.length > 0 ? op.value.baseInput : -1;
    const readWhole = new Set<number>([baseInput]);
    for (const action of op.value.actions) {
      if (action.action.case !== "copy") continue;
      const copy = action.action.value;
      const patterns = selections.get(copy.input) ?? [];
      patterns.push(copy.src);
      selections.set(copy.input, patterns);
    }
    return await Promise.all(inputs.map(async (input, index) => {
      const patterns = selections.get(index);
      if (readWhole.has(index) || !patterns || !input.selectionDigest) return input.key;
      return `selection:${await input.selectionDigest(patterns)}`;
    }));
  }

  async #lookup(key: Digest, vertex: GraphVertex, progressVertex: { id: string; name: string }) {
    if (this.#options.noCache || vertex.metadata?.ignoreCache) return undefined;
    const record = await this.#options.store.cache.get(key);
    if (!record) return undefined;
    // A pruned snapshot leaves its record behind only if prune was interrupted; treat it as a miss.
    if (record.snapshot && !(await this.#options.store.snapshots.get(record.snapshot))) {
      return undefined;
    }
    this.stats.cacheHits.set(vertex.digest, (this.stats.cacheHits.get(vertex.digest) ?? 0) + 1);
    this.#options.sink.emit({ type: "vertex.cached", vertex: progressVertex, time: Date.now() });
    return { key, snapshot: record.snapshot };
  }

  async #run(
    vertex: GraphVertex,
    progressVertex: { id: string; name: string },
    key: Digest,
    work: () => Promise<string | undefined>,
  ): Promise<VertexResult> {
    const sink = this.#options.sink;
    sink.emit({ type: "vertex.started", vertex: progressVertex, time: Date.now() });
    this.stats.runs.set(vertex.digest, (this.stats.runs.get(vertex.digest) ?? 0) + 1);
    let snapshot: string | undefined;
    try {
      snapshot = await work();
      this.#throwIfAborted();
    } catch (error) {
      const message = this.#abort.signal.aborted && !(error instanceof TsbuildError)
        ? "cancelled"
        : String((error as Error)?.message ?? error);
      sink.emit({
        type: "vertex.completed",
        vertex: progressVertex,
        time: Date.now(),
        error: message,
      });
      throw withStep(error, progressVertex.name, vertex.metadata?.location);
    }
    const written = this.#options.store.cache.put({
      key,
      snapshot,
      createdAt: new Date().toISOString(),
      description: progressVertex.name,
    });
    // Handled here so that a failure waits, without being reported as unhandled, until solve().
    written.catch(() => {});
    this.#recordWrites.push(written);
    sink.emit({ type: "vertex.completed", vertex: progressVertex, time: Date.now() });
    return { key, snapshot };
  }

  #takeRecordWrites(): Promise<void>[] {
    const writes = this.#recordWrites;
    this.#recordWrites = [];
    return writes;
  }

  #runContext(progressVertex: { id: string; name: string }, platform: Platform) {
    return {
      store: this.#options.store,
      executor: this.#options.executor,
      sink: this.#options.sink,
      vertex: progressVertex,
      signal: this.#abort.signal,
      platform,
      secrets: this.#options.secrets,
      ssh: this.#options.ssh,
    };
  }

  #platformOf(vertex: GraphVertex): Platform {
    const platform = vertex.op.platform;
    if (!platform?.os) return this.#options.platform;
    return {
      os: platform.os,
      architecture: platform.architecture,
      ...(platform.variant ? { variant: platform.variant } : {}),
    };
  }

  #throwIfAborted(): void {
    if (this.#options.signal.aborted) throw new CancelledError();
    if (this.#abort.signal.aborted) throw this.#abort.signal.reason ?? new CancelledError();
  }
}

function platformString(platform: Platform): string {
  return [platform.os, platform.architecture, platform.variant].filter(Boolean).join("/");
}

// Names the failing step and its source line in the error, once, keeping its class and cause.
function withStep(error: unknown, step: string, location: string | undefined): unknown {
  if (!(error instanceof Error) || error instanceof CancelledError) return error;
  if (error instanceof TsbuildError && error.data.step !== undefined) return error;
  const where = location ? `${location}: ` : "";
  const shortStep = step.length > 200 ? `${step.slice(0, 200)}…` : step;
  error.message = `${where}${shortStep}: ${error.message}`;
  if (error instanceof TsbuildError) Object.assign(error.data, { step, location });
  return error;
}
