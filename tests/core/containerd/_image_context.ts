/**
 * A runnable test image and an ExporterContext that offers it, for tests of the `image`
 * exporter and for the containerd export benchmark. The image has the busybox fixture's layer,
 * a layer with the test's files and a config with the test's Cmd, all in a real BlobStore. The
 * same image can be written as an OCI archive for `ctr images import`.
 *
 * @module
 */

import { Buffer, gzipSync, join } from "../../../core/deps.ts";
import { tarStream } from "../../_fixtures/tar_stream.ts";
import { type Digest, digestOf } from "../../../core/digest.ts";
import * as mediaTypes from "../../../core/oci/media_types.ts";
import { writeImageLayoutArchive } from "../../../core/oci/image_layout.ts";
import { hostPlatform } from "../../../core/oci/platform.ts";
import type {
  BuildImageOptions,
  ContainerdClient,
  Descriptor,
  ExporterContext,
  ImageArtifact,
  ImageConfig,
} from "../../../core/plugin/types.ts";
import { BlobStore } from "../../../core/store/blobs.ts";
import { buildBusyboxImage } from "../../_fixtures/busybox_image.ts";

/** Options of {@link createImageContext}. */
export interface ImageContextOptions {
  /** The client the context offers as `context.containerd`. */
  containerd?: ContainerdClient;
  /** Files of the image's second layer, by path; text or bytes. */
  files?: Record<string, string | Uint8Array>;
  /** The config's Cmd. @default ["sh"] */
  cmd?: string[];
  /** gzip level of the second layer; 1 keeps large random files quick to set up. @default 6 */
  gzipLevel?: number;
  /** Receives each status line as it is reported, e.g. to stop containerd mid-export. */
  onStatus?: (line: string) => void;
}

/** The context and what a test inspects. */
export interface ImageContext extends AsyncDisposable {
  context: ExporterContext;
  image: ImageArtifact;
  /** The diff IDs of the image's layers, bottom-most first. */
  diffIds: Digest[];
  /** A scratch directory removed on dispose. */
  dir: string;
  /** Status lines reported through progress, as "step: message current/total". */
  statuses: string[];
  /** Names of the progress steps, in order. */
  steps: string[];
  /** Writes the image as an OCI archive `ctr images import` reads, tagged `tag`. */
  writeArchive(path: string, name: string): Promise<void>;
}

/** Creates the image in a BlobStore under a temporary directory and a context offering it. */
export async function createImageContext(
  options: ImageContextOptions = {},
): Promise<ImageContext> {
  const dir = await Deno.makeTempDir({ prefix: "tsbuild-image-test-" });
  const blobs = new BlobStore(`${dir}/store`);
  const busybox = await buildBusyboxImage(await makeDir(`${dir}/busybox`));
  const busyboxLayer = await Deno.readFile(
    join(busybox.dir, "blobs", "sha256", busybox.layerDigest.slice("sha256:".length)),
  );
  const base = { mediaType: mediaTypes.OCI_LAYER_GZIP, ...await blobs.writeBytes(busyboxLayer) };
  const top = await storeLayer(blobs, options.files ?? {}, options.gzipLevel ?? 6);
  const diffIds = [busybox.diffId, top.diffId];
  const image = await storeImage(blobs, [base, top.descriptor], diffIds, options.cmd ?? ["sh"]);

  const statuses: string[] = [];
  const steps: string[] = [];
  const context: ExporterContext = {
    logger: { debug() {}, info() {}, warn() {} },
    progress: {
      step: (name, fn) => {
        steps.push(name);
        return fn({
          status: (message, current, total) => {
            const line = `${name}: ${message} ${current}/${total}`;
            statuses.push(line);
            options.onStatus?.(line);
          },
          log() {},
          warn() {},
        });
      },
      emit() {},
    },
    signal: new AbortController().signal,
    platform: hostPlatform(),
    content: {
      openBlob: (digest) => blobs.open(digest),
      readBlob: (digest) => blobs.read(digest),
      hasBlob: (digest) => blobs.has(digest),
      writeBlob: (stream, expected) => blobs.writeStream(stream, expected),
      createSnapshot: () => Promise.reject(new Error("createSnapshot is not used by exporters")),
      hasSnapshot: () => Promise.reject(new Error("hasSnapshot is not used by exporters")),
      dataDir: () => Promise.reject(new Error("dataDir is not used by exporters")),
    },
    registry: unusedPart("registry"),
    locals: {},
    layers: unusedPart("layers"),
    ...(options.containerd ? { containerd: options.containerd } : {}),
    buildImage: (_options?: BuildImageOptions) => Promise.resolve(image),
    writeFilesystem: () => Promise.reject(new Error("writeFilesystem is not used")),
    filesystemTar: () => {
      throw new Error("filesystemTar is not used");
    },
  };

  return {
    context,
    image,
    diffIds,
    dir,
    statuses,
    steps,
    writeArchive: (path, name) => writeArchive(path, image, blobs, name),
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}

async function makeDir(path: string): Promise<string> {
  await Deno.mkdir(path, { recursive: true });
  return path;
}

async function storeLayer(
  blobs: BlobStore,
  files: Record<string, string | Uint8Array>,
  level: number,
): Promise<{ descriptor: Descriptor; diffId: Digest }> {
  const tar = await makeTar(files);
  const compressed = new Uint8Array(gzipSync(tar, { level }));
  const stored = await blobs.writeBytes(compressed);
  return { descriptor: { mediaType: mediaTypes.OCI_LAYER_GZIP, ...stored }, diffId: digestOf(tar) };
}

async function makeTar(files: Record<string, string | Uint8Array>): Promise<Uint8Array> {
  const pack = tarStream.pack();
  const chunks: Uint8Array[] = [];
  const collected = (async () => {
    for await (const chunk of pack) chunks.push(chunk as Uint8Array);
  })();
  for (const [path, content] of Object.entries(files)) {
    const header = { name: path, mode: 0o755, mtime: new Date(0), uid: 0, gid: 0 };
    await new Promise<void>((resolve, reject) =>
      pack.entry(header, Buffer.from(content), (error) => error ? reject(error) : resolve())
    );
  }
  pack.finalize();
  await collected;
  return new Uint8Array(Buffer.concat(chunks));
}

async function storeImage(
  blobs: BlobStore,
  layers: Descriptor[],
  diffIds: Digest[],
  cmd: string[],
): Promise<ImageArtifact> {
  const platform = hostPlatform();
  const imageConfig: ImageConfig = {
    architecture: platform.architecture,
    os: platform.os,
    config: {
      Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
      Cmd: cmd,
    },
    rootfs: { type: "layers", diff_ids: diffIds },
    history: diffIds.map(() => ({ created_by: "tsbuild test layer" })),
  };
  const configBytes = new TextEncoder().encode(JSON.stringify(imageConfig));
  const config = { mediaType: mediaTypes.OCI_CONFIG, ...await blobs.writeBytes(configBytes) };
  const manifestBytes = new TextEncoder().encode(JSON.stringify({
    schemaVersion: 2,
    mediaType: mediaTypes.OCI_MANIFEST,
    config,
    layers,
  }));
  const manifest = {
    mediaType: mediaTypes.OCI_MANIFEST,
    ...await blobs.writeBytes(manifestBytes),
  };
  return { manifest, config, layers, manifestBytes, configBytes };
}

async function writeArchive(
  path: string,
  image: ImageArtifact,
  blobs: BlobStore,
  name: string,
): Promise<void> {
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  await writeImageLayoutArchive(file.writable, image, (digest) => blobs.open(digest), {
    names: [name],
  });
}

// The exporter does not use these parts of the context; any use fails the test loudly.
function unusedPart<T extends object>(name: string): T {
  return new Proxy({} as T, {
    get: (_target, property) => {
      throw new Error(`context.${name}.${String(property)} is not used by the image exporter`);
    },
  });
}
