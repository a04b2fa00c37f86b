/**
 * An ExporterContext for exporter tests, built from real parts: a BlobStore on a temporary root
 * holding an image assembled by the test, and a plain directory standing for the result's
 * filesystem, copied with `cp -a` and archived with GNU tar.
 *
 * @module
 */

import type { Digest } from "../../../core/digest.ts";
import type {
  BuildImageOptions,
  ExporterContext,
  ImageArtifact,
  VertexProgress,
} from "../../../core/plugin/types.ts";
import { BlobStore } from "../../../core/store/blobs.ts";
import { run, storeTestImage, type TestFile } from "../../core/oci/_test_image.ts";

/** Options for {@link createTestContext}. */
export interface TestContextOptions {
  /** Layer contents of the image, bottom-most first. */
  layers?: TestFile[][];
  /**
   * Makes `openBlob` of the layer at this index (of either image) fail after the first chunk,
   * as an interrupted read does.
   */
  failLayer?: number;
  /** Makes `writeFilesystem` and `filesystemTar` fail after writing part of their output. */
  failFilesystem?: boolean;
}

/** A test context with what the test needs to inspect. */
export interface TestContext extends AsyncDisposable {
  context: ExporterContext;
  /** A scratch directory removed on dispose. */
  dir: string;
  /** The directory standing for the result's merged filesystem. */
  rootfs: string;
  /** The options of each buildImage call, in order. */
  buildImageCalls: BuildImageOptions[];
  /** The images buildImage returns for OCI and for Docker media types. */
  ociImage: ImageArtifact;
  dockerImage: ImageArtifact;
  /** Status lines reported through progress, as "step: message current/total". */
  statuses: string[];
  /** Aborts `context.signal`. */
  abort(reason: unknown): void;
}

/** Creates a context over a fresh store and a small filesystem under a temporary directory. */
export async function createTestContext(options: TestContextOptions = {}): Promise<TestContext> {
  const dir = await Deno.makeTempDir({ prefix: "tsbuild-exporter-test-" });
  const blobs = new BlobStore(`${dir}/store`);
  const ociImage = await storeTestImage(blobs, { layers: options.layers });
  const dockerImage = await storeTestImage(blobs, {
    layers: options.layers,
    dockerMediaTypes: true,
  });
  const rootfs = `${dir}/rootfs`;
  await makeRootfs(rootfs);
  const buildImageCalls: BuildImageOptions[] = [];
  const statuses: string[] = [];
  const controller = new AbortController();
  const failingDigests = new Set<Digest>();
  if (options.failLayer !== undefined) {
    failingDigests.add(ociImage.layers[options.failLayer].digest);
    failingDigests.add(dockerImage.layers[options.failLayer].digest);
  }

  const context: ExporterContext = {
    logger: { debug() {}, info() {}, warn() {} },
    progress: {
      step: (name, fn) => fn(recordingProgress(name, statuses)),
      emit() {},
    },
    signal: controller.signal,
    platform: { os: "linux", architecture: "amd64" },
    content: {
      openBlob: async (digest) => {
        const stream = await blobs.open(digest);
        return failingDigests.has(digest) ? failAfterFirstChunk(stream) : stream;
      },
      readBlob: (digest) => blobs.read(digest),
      hasBlob: (digest) => blobs.has(digest),
      writeBlob: (stream, expected) => blobs.writeStream(stream, expected),
      createSnapshot: () => Promise.reject(new Error("createSnapshot is not used by exporters")),
      hasSnapshot: () => Promise.reject(new Error("hasSnapshot is not used by exporters")),
      dataDir: () => Promise.reject(new Error("dataDir is not used by exporters")),
    },
    registry: unusedPart<ExporterContext["registry"]>("registry"),
    locals: {},
    layers: unusedPart<ExporterContext["layers"]>("layers"),
    buildImage: (buildOptions = {}) => {
      buildImageCalls.push(buildOptions);
      return Promise.resolve(buildOptions.dockerMediaTypes ? dockerImage : ociImage);
    },
    writeFilesystem: async (target) => {
      await run("cp", ["-a", rootfs, target]);
      if (options.failFilesystem) throw new Error("writeFilesystem failed on purpose");
    },
    filesystemTar: () => {
      const tar = tarDirectory(rootfs);
      return options.failFilesystem ? failAfterFirstChunk(tar) : tar;
    },
  };

  return {
    context,
    dir,
    rootfs,
    buildImageCalls,
    ociImage,
    dockerImage,
    statuses,
    abort: (reason) => controller.abort(reason),
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}

async function makeRootfs(rootfs: string): Promise<void> {
  await Deno.mkdir(`${rootfs}/etc`, { recursive: true });
  await Deno.mkdir(`${rootfs}/bin`, { mode: 0o750 });
  await Deno.chmod(`${rootfs}/bin`, 0o750);
  await Deno.writeTextFile(`${rootfs}/etc/hello.txt`, "hello\n");
  await Deno.writeTextFile(`${rootfs}/bin/tool`, "#!/bin/sh\necho tool\n", { mode: 0o755 });
  await Deno.symlink("hello.txt", `${rootfs}/etc/link`);
}

// GNU tar writes the archive to standard output, which is streamed as filesystemTar does; the
// process is waited for so that no test leaks it.
function tarDirectory(dir: string): ReadableStream<Uint8Array> {
  const child = new Deno.Command("tar", {
    args: ["-C", dir, "-cf", "-", "."],
    stdout: "piped",
    stderr: "null",
  })
    .spawn();
  const reader = child.stdout.getReader();
  return new ReadableStream({
    async pull(controller) {
      const { value, done } = await reader.read();
      if (!done) {
        controller.enqueue(value);
        return;
      }
      const status = await child.status;
      if (status.success) controller.close();
      else controller.error(new Error(`tar exited with status ${status.code}`));
    },
    async cancel(reason) {
      await reader.cancel(reason);
      await child.status;
    },
  });
}

function failAfterFirstChunk(stream: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
  const reader = stream.getReader();
  let sent = false;
  return new ReadableStream({
    async pull(controller) {
      if (sent) {
        await reader.cancel();
        controller.error(new Error("read failed on purpose"));
        return;
      }
      const { value, done } = await reader.read();
      if (done) controller.error(new Error("read failed on purpose"));
      else controller.enqueue(value);
      sent = true;
    },
    cancel: (reason) => reader.cancel(reason),
  });
}

// The built-in exporters do not use these parts of the context; any use fails the test loudly.
function unusedPart<T extends object>(name: string): T {
  return new Proxy({} as T, {
    get: (_target, property) => {
      throw new Error(`context.${name}.${String(property)} is not used by exporters`);
    },
  });
}

function recordingProgress(step: string, statuses: string[]): VertexProgress {
  return {
    status: (message, current, total) => statuses.push(`${step}: ${message} ${current}/${total}`),
    log() {},
    warn() {},
  };
}
