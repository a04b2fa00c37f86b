/**
 * The host side of a sandboxed plugin's context: carries out the calls a hook makes from its
 * worker against the real context, checking every path and registry it names against what the
 * plugin was granted.
 *
 * @module
 */

import { isAbsolute, join, normalize } from "../deps.ts";
import { InvalidInputError } from "../errors.ts";
import type { Digest } from "../digest.ts";
import type { ProgressEvent } from "../progress/events.ts";
import type { RpcEndpoint } from "./worker_rpc.ts";
import type { ExporterContext, FrontendContext, PluginContext, VertexProgress } from "./types.ts";

/** One hook call's real context and what the sandbox needs to serve it. */
export interface HostScope {
  context: PluginContext;
  kind: "source" | "exporter" | "frontend";
  endpoint: RpcEndpoint;
  /** Rejects with a PluginPermissionError unless the plugin may write below `path`. */
  checkWrite(path: string, through: string): Promise<void>;
  /** Rejects with a PluginPermissionError unless the plugin may read below `path`. */
  checkRead(path: string, through: string): Promise<void>;
  /** Throws a PluginPermissionError unless the plugin may reach the registry of `reference`. */
  checkRegistry(reference: unknown, through: string): void;
  /** The plugin's own directory in the store, which its worker may read and write. */
  dataDir: string;
  /** The directory inside `dataDir` where snapshot fills are staged before they move. */
  stagingDir: string;
  /** Steps the hook started with `progress.step` and has not ended. */
  steps: Map<number, OpenStep>;
}

/** A progress step the worker started. */
export interface OpenStep {
  progress: VertexProgress;
  /** Ends the step, failed when `error` is given. */
  finish(error?: string): void;
  settled: Promise<unknown>;
}

type HostMethod = (scope: HostScope, ...args: never[]) => unknown;

let nextStepId = 1;

/** The calls a worker's context makes, by method name, each with its checks. */
export const HOST_METHODS: Record<string, HostMethod> = {
  "content.openBlob": async (scope, digest: string) =>
    scope.endpoint.exportStream(await scope.context.content.openBlob(checkDigest(digest))),
  "content.readBlob": (scope, digest: string) =>
    scope.context.content.readBlob(checkDigest(digest)),
  "content.hasBlob": (scope, digest: string) => scope.context.content.hasBlob(checkDigest(digest)),
  "content.writeBlob": (scope, streamId: number, expected?: { digest?: string; size?: number }) => {
    if (expected?.digest !== undefined) checkDigest(expected.digest);
    return scope.context.content.writeBlob(
      scope.endpoint.importStream(streamId),
      expected as never,
    );
  },
  "content.createSnapshot": async (scope, options: SnapshotOptions, fillId: number) =>
    scope.context.content.createSnapshot(
      await checkSnapshotOptions(scope, options),
      (diffDir) => fillThroughStaging(scope, fillId, diffDir),
    ),
  "content.hasSnapshot": (scope, id: string) =>
    scope.context.content.hasSnapshot(checkSnapshotId(id, "id")),
  "content.dataDir": (scope, name: string) => pluginDataDir(scope, name),

  "progress.stepStart": (scope, name: string) => startStep(scope, name),
  "progress.stepEnd": async (scope, stepId: number, error?: string) => {
    const step = scope.steps.get(stepId);
    scope.steps.delete(stepId);
    step?.finish(error);
    await step?.settled.catch(() => {});
  },

  "registry.resolve": (scope, reference: string, platform: never) => {
    scope.checkRegistry(reference, "context.registry.resolve");
    return scope.context.registry.resolve(reference, platform);
  },
  "registry.fetchManifest": (scope, reference: string) => {
    scope.checkRegistry(reference, "context.registry.fetchManifest");
    return scope.context.registry.fetchManifest(reference);
  },
  "registry.fetchBlob": async (scope, reference: string, descriptor: never) => {
    scope.checkRegistry(reference, "context.registry.fetchBlob");
    return scope.endpoint.exportStream(
      await scope.context.registry.fetchBlob(reference, descriptor),
    );
  },
  "registry.pushBlob": (scope, reference: string, descriptor: never, openId: number) => {
    scope.checkRegistry(reference, "context.registry.pushBlob");
    const open = scope.endpoint.importFunction(openId);
    return scope.context.registry.pushBlob(
      reference,
      descriptor,
      () => lazyStream(scope, () => open()),
    );
  },
  "registry.pushManifest": (scope, reference: string, bytes: Uint8Array, mediaType: string) => {
    scope.checkRegistry(reference, "context.registry.pushManifest");
    return scope.context.registry.pushManifest(reference, bytes, mediaType);
  },

  "layers.unpack": async (
    scope,
    streamId: number,
    diffDir: string,
    options: { lowerDirs?: string[] } | undefined,
  ) => {
    await scope.checkWrite(diffDir, "context.layers.unpack");
    for (const lower of options?.lowerDirs ?? []) {
      await scope.checkRead(lower, "context.layers.unpack");
    }
    return scope.context.layers.unpack(scope.endpoint.importStream(streamId), diffDir, options);
  },

  "exporter.buildImage": (scope, options: never) => exporterOf(scope).buildImage(options),
  "exporter.writeFilesystem": async (scope, dir: string) => {
    await scope.checkWrite(dir, "context.writeFilesystem");
    return exporterOf(scope).writeFilesystem(dir);
  },
  "exporter.filesystemTar": (scope, options: never) =>
    scope.endpoint.exportStream(exporterOf(scope).filesystemTar(options)),

  "frontend.resolveImage": (scope, reference: string, options: never) => {
    scope.checkRegistry(reference, "context.resolveImage");
    return frontendOf(scope).resolveImage(reference, options);
  },
  "frontend.readLocalFile": (scope, local: string, path: string) =>
    frontendOf(scope).readLocalFile(local, path),
};

/** The notes a worker's context sends, which need no reply. */
export const HOST_NOTES: Record<string, HostMethod> = {
  "logger.debug": (scope, message: string, fields: never) =>
    scope.context.logger.debug(String(message), fields),
  "logger.info": (scope, message: string, fields: never) =>
    scope.context.logger.info(String(message), fields),
  "logger.warn": (scope, message: string, fields: never) =>
    scope.context.logger.warn(String(message), fields),
  "progress.emit": (scope, event: unknown) => {
    if (isProgressEvent(event)) scope.context.progress.emit(event);
    else scope.context.logger.warn("Dropped a malformed progress event", { event: String(event) });
  },
  "progress.status": (
    scope,
    stepId: number,
    message: string,
    current?: number,
    total?: number,
    unit?: string,
  ) => scope.steps.get(stepId)?.progress.status(String(message), current, total, unit),
  "progress.log": (scope, stepId: number, stream: "stdout" | "stderr", data: Uint8Array | string) =>
    scope.steps.get(stepId)?.progress.log(stream === "stderr" ? "stderr" : "stdout", data),
  "progress.warn": (scope, stepId: number, message: string) =>
    scope.steps.get(stepId)?.progress.warn(String(message)),
};

type SnapshotOptions = Parameters<PluginContext["content"]["createSnapshot"]>[0];

// Snapshot ids and digests become paths in the store, so values from a plugin are checked before
// they reach it.
const SNAPSHOT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const DIGEST_PATTERN = /^sha256:[a-f0-9]{64}$/;

function checkSnapshotId(id: unknown, field: string): string {
  if (typeof id !== "string" || !SNAPSHOT_ID_PATTERN.test(id)) {
    throw new InvalidInputError(
      `Invalid snapshot ${field} ${JSON.stringify(id)}: expected letters, digits, ".", "_" or "-"`,
    );
  }
  return id;
}

function checkDigest(digest: unknown): Digest {
  if (typeof digest !== "string" || !DIGEST_PATTERN.test(digest)) {
    throw new InvalidInputError(
      `Invalid digest ${JSON.stringify(digest)}: expected "sha256:" and 64 hex digits`,
    );
  }
  return digest as Digest;
}

async function checkSnapshotOptions(
  scope: HostScope,
  options: SnapshotOptions,
): Promise<SnapshotOptions> {
  if (typeof options !== "object" || options === null || typeof options.kind !== "string") {
    throw new InvalidInputError(
      `Invalid snapshot options: expected { kind: string, parent?, id?, layer? }`,
    );
  }
  if (options.id !== undefined) checkSnapshotId(options.id, "id");
  if (options.parent !== undefined) {
    checkSnapshotId(options.parent, "parent");
    if (!await scope.context.content.hasSnapshot(options.parent)) {
      throw new InvalidInputError(`Invalid snapshot parent "${options.parent}": no such snapshot`);
    }
  }
  if (options.layer !== undefined) {
    checkDigest(options.layer.digest);
    checkDigest(options.layer.diffId);
    if (!await scope.context.content.hasBlob(options.layer.digest)) {
      throw new InvalidInputError(
        `Invalid snapshot layer "${options.layer.digest}": the blob is not in the store`,
      );
    }
  }
  return { kind: options.kind, parent: options.parent, id: options.id, layer: options.layer };
}

/** Fails every step the hook left open, so progress shows no step running forever. */
export async function closeSteps(scope: HostScope): Promise<void> {
  for (const step of scope.steps.values()) {
    step.finish("the hook returned before this step ended");
    await step.settled.catch(() => {});
  }
  scope.steps.clear();
}

async function startStep(scope: HostScope, name: string): Promise<number> {
  const id = nextStepId++;
  let finish!: (error?: string) => void;
  const done = new Promise<void>((resolve, reject) => {
    finish = (error) => (error === undefined ? resolve() : reject(new Error(error)));
  });
  const ready = Promise.withResolvers<VertexProgress>();
  const settled = scope.context.progress.step(String(name), (progress) => {
    ready.resolve(progress);
    return done;
  });
  settled.catch((error) => ready.reject(error));
  scope.steps.set(id, { progress: await ready.promise, finish, settled });
  return id;
}

// The worker writes a snapshot's files into a directory it may write, inside the plugin's data
// directory, and the host moves them into the store's diff directory when the fill succeeds.
// Both lie under the store root, so the moves are renames.
async function fillThroughStaging(
  scope: HostScope,
  fillId: number,
  diffDir: string,
): Promise<void> {
  const staging = await Deno.makeTempDir({ dir: scope.stagingDir, prefix: "fill-" });
  try {
    await scope.endpoint.importFunction(fillId)(staging);
    for await (const entry of Deno.readDir(staging)) {
      await Deno.rename(join(staging, entry.name), join(diffDir, entry.name));
    }
  } finally {
    await Deno.remove(staging, { recursive: true }).catch(() => {});
  }
}

async function pluginDataDir(scope: HostScope, name: string): Promise<string> {
  const clean = typeof name === "string" ? normalize(name) : "";
  if (clean === "" || clean === "." || isAbsolute(clean) || clean.split("/").includes("..")) {
    throw new InvalidInputError(
      `Invalid data directory name "${name}": expected a relative path that stays inside the plugin's directory`,
    );
  }
  const dir = join(scope.dataDir, clean);
  await Deno.mkdir(dir, { recursive: true });
  return dir;
}

function lazyStream(
  scope: HostScope,
  open: () => Promise<unknown>,
): ReadableStream<Uint8Array> {
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      reader ??= scope.endpoint.importStream(await open() as number).getReader();
      const { done, value } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    async cancel(reason) {
      await reader?.cancel(reason);
    },
  }, { highWaterMark: 0 });
}

function exporterOf(scope: HostScope): ExporterContext {
  if (scope.kind !== "exporter") throw new TypeError(`Only exporters can call this method`);
  return scope.context as ExporterContext;
}

function frontendOf(scope: HostScope): FrontendContext {
  if (scope.kind !== "frontend") throw new TypeError(`Only frontends can call this method`);
  return scope.context as FrontendContext;
}

const EVENT_TYPES = new Set([
  "vertex.started",
  "vertex.cached",
  "vertex.completed",
  "vertex.log",
  "vertex.status",
  "warning",
]);

function isProgressEvent(event: unknown): event is ProgressEvent {
  if (typeof event !== "object" || event === null) return false;
  const { type, time, vertex } = event as Record<string, unknown>;
  if (typeof type !== "string" || !EVENT_TYPES.has(type) || typeof time !== "number") return false;
  if (type === "warning" && vertex === undefined) return true;
  if (typeof vertex !== "object" || vertex === null) return false;
  const { id, name } = vertex as Record<string, unknown>;
  return typeof id === "string" && typeof name === "string";
}
