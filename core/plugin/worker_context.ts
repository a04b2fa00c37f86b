/**
 * The context a hook receives inside a plugin worker: the same interface as a built-in plugin's,
 * with every call sent to tsbuild over the worker's RPC endpoint.
 *
 * @module
 */

import type { RpcEndpoint } from "./worker_rpc.ts";
import type {
  ExporterContext,
  FrontendContext,
  Platform,
  PluginContext,
  VertexProgress,
} from "./types.ts";

/** The host's description of one hook call's context. */
export interface WorkerContextInfo {
  /** The host's id for the real context behind this one. */
  id: number;
  kind: "source" | "exporter" | "frontend";
  platform: Platform;
  locals: Record<string, string>;
}

/**
 * Returns the context for one hook call inside the worker.
 *
 * NOTE: the worker receives this function's source text, not an import, so the body may use no
 * name from outside it except `createRpcEndpoint`'s endpoint passed in.
 */
export function createWorkerContext(
  endpoint: RpcEndpoint,
  info: WorkerContextInfo,
  signal: AbortSignal,
): PluginContext | ExporterContext | FrontendContext {
  const call = (method: string, ...args: unknown[]) =>
    endpoint.call("context", info.id, method, ...args);
  const note = (method: string, ...args: unknown[]) => {
    try {
      endpoint.notify("contextNote", info.id, method, ...args);
    } catch {
      // Log fields that cannot be cloned (functions, class instances) cross as JSON.
      endpoint.notify("contextNote", info.id, method, ...JSON.parse(JSON.stringify(args)));
    }
  };
  // A stream whose source the host opens on the first read, for APIs that return one at once.
  const lazyStream = (open: () => Promise<unknown>): ReadableStream<Uint8Array> => {
    let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
    return new ReadableStream<Uint8Array>({
      async pull(controller) {
        reader ??= endpoint.importStream(await open() as number).getReader();
        const { done, value } = await reader.read();
        if (done) controller.close();
        else controller.enqueue(value);
      },
      async cancel(reason) {
        await reader?.cancel(reason);
      },
    }, { highWaterMark: 0 });
  };
  const vertexProgress = (stepId: unknown): VertexProgress => ({
    status: (message, current, total, unit) =>
      note("progress.status", stepId, message, current, total, unit),
    log: (stream, data) => note("progress.log", stepId, stream, data),
    warn: (message) => note("progress.warn", stepId, message),
  });

  const context: PluginContext = {
    logger: {
      debug: (message, fields) => note("logger.debug", message, fields),
      info: (message, fields) => note("logger.info", message, fields),
      warn: (message, fields) => note("logger.warn", message, fields),
    },
    progress: {
      async step(name, fn) {
        const stepId = await call("progress.stepStart", String(name));
        try {
          const result = await fn(vertexProgress(stepId));
          await call("progress.stepEnd", stepId);
          return result;
        } catch (error) {
          await call("progress.stepEnd", stepId, String((error as Error)?.message ?? error))
            .catch(() => {});
          throw error;
        }
      },
      emit: (event) => note("progress.emit", event),
    },
    signal,
    platform: info.platform,
    locals: Object.freeze({ ...info.locals }),
    content: {
      openBlob: async (digest) =>
        endpoint.importStream(await call("content.openBlob", digest) as number),
      readBlob: (digest) => call("content.readBlob", digest) as Promise<Uint8Array>,
      hasBlob: (digest) => call("content.hasBlob", digest) as Promise<boolean>,
      writeBlob: (stream, expected) =>
        call("content.writeBlob", endpoint.exportStream(stream), expected) as ReturnType<
          PluginContext["content"]["writeBlob"]
        >,
      createSnapshot: (options, fill) =>
        call("content.createSnapshot", options, endpoint.exportFunction(fill)) as Promise<string>,
      hasSnapshot: (id) => call("content.hasSnapshot", id) as Promise<boolean>,
      dataDir: (name) => call("content.dataDir", name) as Promise<string>,
    },
    registry: {
      resolve: (reference, platform) => call("registry.resolve", reference, platform),
      fetchManifest: (reference) => call("registry.fetchManifest", reference),
      fetchBlob: async (reference, descriptor) =>
        endpoint.importStream(await call("registry.fetchBlob", reference, descriptor) as number),
      pushBlob: (reference, descriptor, open) =>
        call(
          "registry.pushBlob",
          reference,
          descriptor,
          endpoint.exportFunction(() => endpoint.exportStream(open())),
        ),
      pushManifest: (reference, bytes, mediaType) =>
        call("registry.pushManifest", reference, bytes, mediaType),
    } as PluginContext["registry"],
    layers: {
      unpack: (stream, diffDir, options) =>
        call("layers.unpack", endpoint.exportStream(stream), diffDir, options) as ReturnType<
          PluginContext["layers"]["unpack"]
        >,
    },
  };

  if (info.kind === "exporter") {
    const exporter: ExporterContext = {
      ...context,
      buildImage: (options) =>
        call("exporter.buildImage", options) as ReturnType<ExporterContext["buildImage"]>,
      writeFilesystem: (dir) => call("exporter.writeFilesystem", dir) as Promise<void>,
      filesystemTar: (options) => lazyStream(() => call("exporter.filesystemTar", options)),
    };
    return exporter;
  }
  if (info.kind === "frontend") {
    const frontend: FrontendContext = {
      ...context,
      resolveImage: (reference, options) =>
        call("frontend.resolveImage", reference, options) as ReturnType<
          FrontendContext["resolveImage"]
        >,
      readLocalFile: (local, path) =>
        call("frontend.readLocalFile", local, path) as Promise<Uint8Array | undefined>,
    };
    return frontend;
  }
  return context;
}
