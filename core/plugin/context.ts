/**
 * Builds the context objects plugin hooks receive, over a real store and progress sink.
 *
 * @module
 */

import type { Digest } from "../digest.ts";
import type { ProgressSink } from "../progress/events.ts";
import type { Store } from "../store/store.ts";
import type { RegistryClient } from "../registry/client.ts";
import type { ContainerdClient } from "../containerd/client.ts";
import { unpackLayer } from "../oci/layer_unpack.ts";
import type {
  ContentWriter,
  Logger,
  Platform,
  PluginContext,
  ProgressWriter,
  SecretReader,
  VertexProgress,
} from "./types.ts";

/** Returns a ContentWriter over `store`. */
export function createContentWriter(store: Store): ContentWriter {
  return {
    openBlob: (digest: Digest) => store.blobs.open(digest),
    readBlob: (digest: Digest) => store.blobs.read(digest),
    hasBlob: (digest: Digest) => store.blobs.has(digest),
    writeBlob: (stream, expected) => store.blobs.writeStream(stream, expected),
    async createSnapshot(options, fill) {
      if (options.id && await store.snapshots.get(options.id)) return options.id;
      const active = await store.snapshots.prepare();
      try {
        await fill(active.dir);
      } catch (error) {
        await active.abort();
        throw error;
      }
      const { layer, ...commitOptions } = options;
      const layers = layer ? { [compressionOf(layer.mediaType)]: layer } : undefined;
      return (await active.commit({ ...commitOptions, layers })).id;
    },
    hasSnapshot: async (id) => (await store.snapshots.get(id)) !== undefined,
    async dataDir(name) {
      const dir = store.dataDir(name);
      await Deno.mkdir(dir, { recursive: true });
      return dir;
    },
  };
}

function compressionOf(mediaType: string): string {
  if (mediaType.endsWith("gzip")) return "gzip";
  if (mediaType.endsWith("zstd")) return "zstd";
  return "none";
}

// Shared by every writer in the process, so steps of different plugins never share an id.
let stepCounter = 0;

/** Returns a ProgressWriter that reports steps as vertices on `sink`. */
export function createProgressWriter(sink: ProgressSink): ProgressWriter {
  return {
    emit: (event) => sink.emit(event),
    async step(name, fn) {
      const vertex = { id: `step-${++stepCounter}`, name };
      sink.emit({ type: "vertex.started", vertex, time: Date.now() });
      try {
        const result = await fn(createVertexProgress(sink, vertex));
        sink.emit({ type: "vertex.completed", vertex, time: Date.now() });
        return result;
      } catch (error) {
        sink.emit({
          type: "vertex.completed",
          vertex,
          time: Date.now(),
          error: String((error as Error)?.message ?? error),
        });
        throw error;
      }
    },
  };
}

/** Returns progress reporting scoped to one vertex. */
export function createVertexProgress(
  sink: ProgressSink,
  vertex: { id: string; name: string },
): VertexProgress {
  return {
    status: (message, current, total, unit) =>
      sink.emit({ type: "vertex.status", vertex, message, current, total, unit, time: Date.now() }),
    log: (stream, data) =>
      sink.emit({
        type: "vertex.log",
        vertex,
        stream,
        data: typeof data === "string" ? new TextEncoder().encode(data) : data,
        time: Date.now(),
      }),
    warn: (message) => sink.emit({ type: "warning", vertex, message, time: Date.now() }),
  };
}

/** Returns a logger that emits warnings as progress events and drops the rest unless debugging. */
export function createLogger(sink: ProgressSink, debug: boolean, plugin?: string): Logger {
  const format = (message: string, fields?: Record<string, unknown>) => {
    const withPlugin = plugin ? { plugin, ...fields } : fields;
    return withPlugin && Object.keys(withPlugin).length
      ? `${message} ${JSON.stringify(withPlugin)}`
      : message;
  };
  const debugLine = (message: string, fields?: Record<string, unknown>) => {
    if (debug) {
      sink.emit({
        type: "warning",
        message: `debug: ${format(message, fields)}`,
        time: Date.now(),
      });
    }
  };
  return {
    debug: debugLine,
    info: debugLine,
    warn: (message, fields) =>
      sink.emit({ type: "warning", message: format(message, fields), time: Date.now() }),
  };
}

/** The parts every plugin context shares. */
export interface PluginContextOptions {
  store: Store;
  registry: RegistryClient;
  /** Local directories by name. */
  locals?: Record<string, string>;
  sink: ProgressSink;
  signal: AbortSignal;
  platform: Platform;
  debug?: boolean;
  /** The build's secrets, readable by plugins (a git source's credentials). */
  secrets?: SecretReader;
  /** The containerd client plugins reach as `context.containerd`. */
  containerd?: ContainerdClient;
}

/** Returns the PluginContext for one hook call. */
export function createPluginContext(options: PluginContextOptions, plugin?: string): PluginContext {
  return {
    logger: createLogger(options.sink, options.debug ?? false, plugin),
    progress: createProgressWriter(options.sink),
    signal: options.signal,
    platform: options.platform,
    content: createContentWriter(options.store),
    registry: options.registry,
    locals: options.locals ?? {},
    layers: {
      unpack: (stream, diffDir, unpackOptions = {}) =>
        unpackLayer(stream, diffDir, { ...unpackOptions, signal: options.signal }),
    },
    ...(options.secrets ? { secrets: options.secrets } : {}),
    ...(options.containerd ? { containerd: options.containerd } : {}),
  };
}
