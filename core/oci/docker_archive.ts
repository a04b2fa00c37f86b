/**
 * Docker image archives, the tarballs `docker load` reads: an OCI layout plus the
 * "manifest.json" and "repositories" files of `docker save`, as Docker 25 and later write them.
 *
 * @module
 */

import { digestHex } from "../digest.ts";
import type { ImageArtifact } from "../plugin/types.ts";
import {
  blobPath,
  encodeJson,
  imageLayoutEntries,
  type LayoutEntry,
  type LayoutWriteOptions,
  type OpenBlob,
  parseImageNames,
  writeLayoutArchive,
} from "./image_layout.ts";
import { DEFAULT_REGISTRY, type ImageReference } from "./reference.ts";

/** One image of a Docker archive's "manifest.json". */
export interface DockerArchiveManifest {
  /** Path of the config blob inside the archive. */
  Config: string;
  /** Names as `docker load` tags the image, e.g. "busybox:latest". */
  RepoTags: string[];
  /** Paths of the layer blobs inside the archive, bottom-most first. */
  Layers: string[];
}

/**
 * The legacy "repositories" file: repository name, then tag, then the top layer's ID. `docker
 * load` reads it only from archives without "manifest.json".
 */
export type DockerRepositories = Record<string, Record<string, string>>;

/**
 * Formats a reference the way Docker shows it: without "docker.io/" and without "library/" for
 * official images, and with its tag ("busybox" becomes "busybox:latest").
 */
export function familiarName(reference: ImageReference): string {
  return `${familiarRepository(reference)}:${reference.tag}`;
}

/** Creates the "manifest.json" of an archive holding `image` tagged `names`. */
export function createDockerManifest(
  image: ImageArtifact,
  names: ImageReference[],
): DockerArchiveManifest[] {
  return [{
    Config: blobPath(image.config.digest),
    RepoTags: names.map(familiarName),
    Layers: image.layers.map((layer) => blobPath(layer.digest)),
  }];
}

/**
 * Creates the "repositories" file of an archive holding `image` tagged `names`, or undefined
 * when there is nothing to list: no name or no layer.
 */
export function createDockerRepositories(
  image: ImageArtifact,
  names: ImageReference[],
): DockerRepositories | undefined {
  const topLayer = image.layers.at(-1);
  if (topLayer === undefined || names.length === 0) return undefined;

  // NOTE: Docker writes the top layer's legacy v1 ID here; tsbuild has none and writes the
  // top layer's digest instead, which is harmless because `docker load` ignores this file when
  // "manifest.json" is present.
  const repositories: DockerRepositories = {};
  for (const name of names) {
    const repository = familiarRepository(name);
    repositories[repository] = {
      ...repositories[repository],
      [name.tag!]: digestHex(topLayer.digest),
    };
  }
  return repositories;
}

/**
 * Lists the entries of a Docker archive holding `image` tagged `names`: those of an OCI layout,
 * then "manifest.json" and, when there is a name and a layer, "repositories".
 */
export function dockerArchiveEntries(image: ImageArtifact, names: ImageReference[]): LayoutEntry[] {
  const entries = imageLayoutEntries(image, names);
  entries.push({
    kind: "file",
    path: "manifest.json",
    data: encodeJson(createDockerManifest(image, names)),
  });
  const repositories = createDockerRepositories(image, names);
  if (repositories !== undefined) {
    entries.push({ kind: "file", path: "repositories", data: encodeJson(repositories) });
  }
  return entries;
}

/**
 * Writes a Docker archive holding `image` tagged `names` to `writable`, streaming layers from
 * `openBlob`, and closes it. On failure `writable` is aborted.
 *
 * @throws {InvalidInputError} for a name that does not parse or carries a digest.
 * @throws {DigestMismatchError} when a blob's content does not match its descriptor.
 */
export async function writeDockerArchive(
  writable: WritableStream<Uint8Array>,
  image: ImageArtifact,
  openBlob: OpenBlob,
  options: LayoutWriteOptions & { names?: string[] } = {},
): Promise<void> {
  const entries = dockerArchiveEntries(image, parseImageNames(options.names ?? []));
  await writeLayoutArchive(writable, entries, openBlob, options);
}

function familiarRepository(reference: ImageReference): string {
  if (reference.registry !== DEFAULT_REGISTRY) {
    return `${reference.registry}/${reference.repository}`;
  }
  return reference.repository.startsWith("library/") && reference.repository.split("/").length === 2
    ? reference.repository.slice("library/".length)
    : reference.repository;
}
