/**
 * Builds a small real image for exporter tests: gzip layers made with tar-stream, a config and a
 * manifest, all stored in a real BlobStore.
 *
 * @module
 */

import { Buffer, gzipSync } from "../../../core/deps.ts";
import { tarStream } from "../../_fixtures/tar_stream.ts";
import { type Digest, digestOf } from "../../../core/digest.ts";
import * as mediaTypes from "../../../core/oci/media_types.ts";
import type { Descriptor, ImageArtifact, ImageConfig } from "../../../core/plugin/types.ts";
import type { BlobStore } from "../../../core/store/blobs.ts";

/** A file of a test layer. */
export interface TestFile {
  path: string;
  /** File content; a directory when undefined. */
  content?: string;
}

/** The files of the two layers of the default test image. */
export const TEST_LAYERS: TestFile[][] = [
  [{ path: "etc/" }, { path: "etc/hello.txt", content: "hello\n" }],
  [{ path: "bin/" }, { path: "bin/tool", content: "#!/bin/sh\necho tool\n".repeat(500) }],
];

/** Returns the bytes of an uncompressed tar holding `files`, written by tar-stream. */
export async function makeTar(files: TestFile[]): Promise<Uint8Array> {
  const pack = tarStream.pack();
  for (const file of files) {
    if (file.content === undefined) {
      pack.entry({ name: file.path, type: "directory", mode: 0o755, mtime: new Date(0) });
    } else {
      pack.entry({ name: file.path, mode: 0o644, mtime: new Date(0) }, file.content);
    }
  }
  pack.finalize();
  const chunks: Uint8Array[] = [];
  for await (const chunk of pack) chunks.push(chunk as Uint8Array);
  return new Uint8Array(Buffer.concat(chunks));
}

/** Options for {@link storeTestImage}. */
export interface TestImageOptions {
  /** Layer contents, bottom-most first. @default TEST_LAYERS */
  layers?: TestFile[][];
  /** Use Docker's media types, as `buildImage({ dockerMediaTypes: true })` does. */
  dockerMediaTypes?: boolean;
}

/** Stores gzip layers, a config and a manifest in `blobs` and returns them as an ImageArtifact. */
export async function storeTestImage(
  blobs: BlobStore,
  options: TestImageOptions = {},
): Promise<ImageArtifact> {
  const docker = options.dockerMediaTypes ?? false;
  const layers: Descriptor[] = [];
  const diffIds: Digest[] = [];
  for (const files of options.layers ?? TEST_LAYERS) {
    const tar = await makeTar(files);
    diffIds.push(digestOf(tar));
    const compressed = new Uint8Array(gzipSync(tar));
    const stored = await blobs.writeBytes(compressed);
    layers.push({
      mediaType: docker ? mediaTypes.DOCKER_LAYER_GZIP : mediaTypes.OCI_LAYER_GZIP,
      ...stored,
    });
  }

  const imageConfig: ImageConfig = {
    architecture: "amd64",
    os: "linux",
    config: { Env: ["PATH=/bin"], Cmd: ["/bin/tool"] },
    rootfs: { type: "layers", diff_ids: diffIds },
    history: diffIds.map(() => ({ created_by: "test layer" })),
  };
  const configBytes = new TextEncoder().encode(JSON.stringify(imageConfig));
  const config: Descriptor = {
    mediaType: docker ? mediaTypes.DOCKER_CONFIG : mediaTypes.OCI_CONFIG,
    ...(await blobs.writeBytes(configBytes)),
  };

  const manifestMediaType = docker ? mediaTypes.DOCKER_MANIFEST : mediaTypes.OCI_MANIFEST;
  const manifestBytes = new TextEncoder().encode(
    JSON.stringify({ schemaVersion: 2, mediaType: manifestMediaType, config, layers }),
  );
  const manifest: Descriptor = {
    mediaType: manifestMediaType,
    ...(await blobs.writeBytes(manifestBytes)),
  };
  return { manifest, config, layers, manifestBytes, configBytes };
}

/** Runs a command and returns its standard output, failing with its standard error on a non-zero exit. */
export async function run(command: string, args: string[]): Promise<string> {
  const output = await new Deno.Command(command, { args, stdout: "piped", stderr: "piped" })
    .output();
  const decoder = new TextDecoder();
  if (!output.success) {
    throw new Error(
      `${command} ${args.join(" ")} failed with ${output.code}: ${decoder.decode(output.stderr)}`,
    );
  }
  return decoder.decode(output.stdout);
}

/** Returns the sorted names in `dir`. */
export async function listDir(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  return names.sort();
}
