/**
 * Helpers of the Dockerfile end-to-end tests: an in-process build with
 * secrets, SSH agents and platforms, and readers for what it exported.
 *
 * @module
 */

import { build, type BuildReport } from "../../core/build.ts";
import { createRuncExecutor } from "../../core/exec/runc.ts";
import { hostPlatform, parsePlatform } from "../../core/oci/platform.ts";
import { PluginRegistry } from "../../core/plugin/registry.ts";
import { type ProgressEvent, RecordingSink } from "../../core/progress/events.ts";
import { createRegistryClient } from "../../core/registry/client.ts";
import type { OutputSpec } from "../../core/cli/output_spec.ts";
import { Buffer, createGunzip, Readable } from "../../core/deps.ts";
import { tarStream } from "../_fixtures/tar_stream.ts";
import { BUILTIN_PLUGINS } from "../../plugins/builtin.ts";

/** Options for {@link buildContext}. */
export interface DockerfileBuildOptions {
  /** Store directory. */
  root: string;
  /** Context directory, which also contains the Dockerfile. */
  context: string;
  outputs?: OutputSpec[];
  names?: string[];
  buildArgs?: Record<string, string>;
  /** Secret values by id, as `--secret` would provide them. */
  secrets?: Record<string, string>;
  /** Agent sockets by id, as `--ssh` would provide them. */
  ssh?: Record<string, string>;
  /** The `--platform` value, one platform or several comma-separated. */
  platform?: string;
  target?: string;
  noCache?: boolean;
}

/** A finished build with every progress event it emitted. */
export interface DockerfileBuild {
  report: BuildReport;
  events: ProgressEvent[];
}

/** Builds `context/Dockerfile` in this process, recording progress events. */
export async function buildContext(options: DockerfileBuildOptions): Promise<DockerfileBuild> {
  const sink = new RecordingSink();
  try {
    const report = await runBuild(options, sink);
    return { report, events: sink.events };
  } catch (error) {
    // Keep the events for tests that check what a failing build printed.
    (error as { events?: ProgressEvent[] }).events = sink.events;
    throw error;
  }
}

function runBuild(options: DockerfileBuildOptions, sink: RecordingSink): Promise<BuildReport> {
  const plugins = new PluginRegistry();
  for (const plugin of BUILTIN_PLUGINS) plugins.register(plugin);
  const frontendOptions: Record<string, string> = {};
  for (const [name, value] of Object.entries(options.buildArgs ?? {})) {
    frontendOptions[`build-arg:${name}`] = value;
  }
  if (options.platform) frontendOptions.platform = options.platform;
  if (options.target) frontendOptions.target = options.target;
  const secrets = options.secrets ?? {};
  const ssh = options.ssh ?? {};

  return build({
    root: options.root,
    frontend: "dockerfile",
    frontendOptions,
    locals: { context: options.context, dockerfile: options.context },
    outputs: options.outputs ?? [],
    names: options.names ?? [],
    platform: options.platform ? parsePlatform(options.platform.split(",")[0]) : hostPlatform(),
    plugins,
    executor: createRuncExecutor({ stateRoot: `${options.root}/runc` }),
    registry: createRegistryClient(),
    sink,
    signal: new AbortController().signal,
    noCache: options.noCache,
    secrets: {
      get: (id) =>
        Promise.resolve(
          Object.hasOwn(secrets, id) ? new TextEncoder().encode(secrets[id]) : undefined,
        ),
    },
    ssh: { socket: (id) => (Object.hasOwn(ssh, id) ? ssh[id] : undefined) },
  });
}

/** Returns the text of every log and status event and every error, as a terminal would show it. */
export function progressText(events: ProgressEvent[]): string {
  const decoder = new TextDecoder();
  return events.map((event) => {
    switch (event.type) {
      case "vertex.log":
        return decoder.decode(event.data);
      case "vertex.completed":
        return `${event.vertex.name}${event.error ? ` ERROR ${event.error}` : ""}`;
      case "warning":
        return `WARNING ${event.message}`;
      default:
        return event.vertex.name;
    }
  }).join("\n");
}

/** Returns the warning messages of `events`. */
export function warnings(events: ProgressEvent[]): string[] {
  return events.flatMap((event) => (event.type === "warning" ? [event.message] : []));
}

/** One entry of an image's merged filesystem. */
export interface ImageEntry {
  type: string;
  mode: number;
  uid: number;
  gid: number;
  linkname?: string;
  content?: Uint8Array;
}

/** An image read back from an OCI layout directory. */
export interface ImageContents {
  index: Record<string, unknown>;
  manifest: { layers: Array<{ digest: string; mediaType: string }>; config: { digest: string } };
  config: Record<string, unknown> & {
    config: Record<string, unknown>;
    history: Array<Record<string, unknown>>;
  };
  /** The merged filesystem of all layers, keyed by path without a leading slash. */
  files: Map<string, ImageEntry>;
  /** How many layers the manifest lists. */
  layerCount: number;
}

/** Reads the image `index.json` names (the first entry, or the one for `platform`) from a layout directory. */
export async function readImage(
  layout: string,
  options: { manifestDigest?: string } = {},
): Promise<ImageContents> {
  const index = JSON.parse(await Deno.readTextFile(`${layout}/index.json`));
  const digest = options.manifestDigest ?? index.manifests[0].digest;
  const manifest = JSON.parse(await readBlobText(layout, digest));
  const config = JSON.parse(await readBlobText(layout, manifest.config.digest));
  const files = new Map<string, ImageEntry>();
  for (const layer of manifest.layers) await applyLayer(layout, layer, files);
  return { index, manifest, config, files, layerCount: manifest.layers.length };
}

/** Reads a blob of a layout directory as text. */
export async function readBlobText(layout: string, digest: string): Promise<string> {
  return await Deno.readTextFile(`${layout}/blobs/sha256/${digest.slice("sha256:".length)}`);
}

async function applyLayer(
  layout: string,
  layer: { digest: string; mediaType: string },
  files: Map<string, ImageEntry>,
): Promise<void> {
  const path = `${layout}/blobs/sha256/${layer.digest.slice("sha256:".length)}`;
  let stream: Readable = Readable.from([Buffer.from(await Deno.readFile(path))]);
  if (layer.mediaType.endsWith("gzip")) stream = stream.pipe(createGunzip());
  const extract = tarStream.extract();
  stream.pipe(extract);
  for await (const entry of extract) {
    const name = entry.header.name.replace(/^\.?\//, "").replace(/\/$/, "");
    const base = name.slice(name.lastIndexOf("/") + 1);
    const chunks: Uint8Array[] = [];
    for await (const chunk of entry) chunks.push(chunk as Uint8Array);
    if (base === ".wh..wh..opq") {
      const dir = name.slice(0, name.lastIndexOf("/") + 1);
      for (const key of [...files.keys()]) if (key.startsWith(dir)) files.delete(key);
      continue;
    }
    if (base.startsWith(".wh.")) {
      const target = name.slice(0, name.length - base.length) + base.slice(4);
      for (const key of [...files.keys()]) {
        if (key === target || key.startsWith(`${target}/`)) files.delete(key);
      }
      continue;
    }
    files.set(name, {
      type: entry.header.type ?? "file",
      mode: entry.header.mode ?? 0,
      uid: entry.header.uid ?? 0,
      gid: entry.header.gid ?? 0,
      ...(entry.header.linkname ? { linkname: entry.header.linkname } : {}),
      ...(entry.header.type === "file" ? { content: concat(chunks) } : {}),
    });
  }
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const result = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    result.set(chunk, offset);
    offset += chunk.length;
  }
  return result;
}

/** Returns the text content of `path` in `image`, failing when it is not a regular file. */
export function fileText(image: ImageContents, path: string): string {
  const entry = image.files.get(path.replace(/^\//, ""));
  if (!entry?.content) throw new Error(`"${path}" is not a regular file in the image`);
  return new TextDecoder().decode(entry.content);
}
