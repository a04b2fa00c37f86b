/**
 * OCI image layouts ("oci-layout", "index.json" and "blobs/sha256/"), written as a tar archive or
 * into a directory with blobs streamed from the content store.
 *
 * @module
 */

import { createHash } from "../deps.ts";
import { type Digest, digestHex, digestOf } from "../digest.ts";
import { DigestMismatchError, InvalidInputError } from "../errors.ts";
import type { Descriptor, ImageArtifact } from "../plugin/types.ts";
import { OCI_INDEX } from "./media_types.ts";
import { formatReference, type ImageReference, parseReference } from "./reference.ts";
import { createTarWriter, type TarWriter } from "./_tar_write.ts";

/** The `imageLayoutVersion` written to the "oci-layout" file. */
export const IMAGE_LAYOUT_VERSION = "1.0.0";
/** Index annotation with an image's tag, which skopeo's `oci:` and `oci-archive:` transports select by. */
export const ANNOTATION_REF_NAME = "org.opencontainers.image.ref.name";
/** Index annotation with an image's full name, which `ctr images import` names the image after. */
export const ANNOTATION_IMAGE_NAME = "io.containerd.image.name";

/** An OCI image index, as written to "index.json". */
export interface ImageIndex {
  schemaVersion: 2;
  mediaType: string;
  manifests: Descriptor[];
}

/** One file or directory of a layout, in the order it is written. */
export type LayoutEntry =
  | { kind: "directory"; path: string }
  | { kind: "file"; path: string; data: Uint8Array }
  /** A blob copied from the content store, checked against `descriptor` as it is copied. */
  | { kind: "blob"; path: string; descriptor: Descriptor };

/** Opens a blob of the content store for reading. */
export type OpenBlob = (digest: Digest) => Promise<ReadableStream<Uint8Array>>;

/** Options for writing a layout. */
export interface LayoutWriteOptions {
  /** Stops writing between chunks when aborted, failing with the signal's reason. */
  signal?: AbortSignal;
  /** Called after each entry with the bytes of file content written so far and their total. */
  onProgress?: (written: number, total: number) => void;
}

/**
 * Parses the names an image is exported under, normalized as Docker does ("busybox" becomes
 * "docker.io/library/busybox:latest"), dropping duplicates.
 *
 * @throws {InvalidInputError} for a name that does not parse or that carries a digest.
 */
export function parseImageNames(names: string[]): ImageReference[] {
  const references = new Map<string, ImageReference>();
  for (const name of names) {
    const reference = parseReference(name);
    if (reference.digest !== undefined) {
      throw new InvalidInputError(
        `Invalid image name "${name}": an exported image is named by a tag, not a digest`,
        { data: { name } },
      );
    }
    references.set(formatReference(reference), reference);
  }
  return [...references.values()];
}

/**
 * Creates the index of a layout holding one image: one entry per name, annotated with the tag
 * and the full name, or a single entry without annotations when there is no name.
 */
export function createImageIndex(manifest: Descriptor, names: ImageReference[]): ImageIndex {
  const entry: Descriptor = {
    mediaType: manifest.mediaType,
    digest: manifest.digest,
    size: manifest.size,
    ...(manifest.platform ? { platform: manifest.platform } : {}),
  };
  const manifests = names.length === 0 ? [entry] : names.map((name) => ({
    ...entry,
    annotations: {
      ...manifest.annotations,
      [ANNOTATION_IMAGE_NAME]: formatReference(name),
      [ANNOTATION_REF_NAME]: name.tag!,
    },
  }));
  return { schemaVersion: 2, mediaType: OCI_INDEX, manifests };
}

/** Returns the path of blob `digest` inside a layout: "blobs/sha256/<hex>". */
export function blobPath(digest: Digest): string {
  return `blobs/sha256/${digestHex(digest)}`;
}

/**
 * Lists the entries of an OCI layout holding `image`: "oci-layout", the blobs (each layer once,
 * then the config and the manifest) and "index.json" last, so a reader that streams the archive
 * has every blob before the index that names them.
 *
 * @throws {DigestMismatchError} when the image's manifest or config bytes do not match their
 * descriptors.
 */
export function imageLayoutEntries(image: ImageArtifact, names: ImageReference[]): LayoutEntry[] {
  checkBytes(image.config, image.configBytes);
  checkBytes(image.manifest, image.manifestBytes);

  const layers = new Map(image.layers.map((layer) => [layer.digest, layer]));
  layers.delete(image.config.digest);
  layers.delete(image.manifest.digest);
  const index = createImageIndex(image.manifest, names);

  return [
    {
      kind: "file",
      path: "oci-layout",
      data: encodeJson({ imageLayoutVersion: IMAGE_LAYOUT_VERSION }),
    },
    { kind: "directory", path: "blobs/" },
    { kind: "directory", path: "blobs/sha256/" },
    ...[...layers.values()].map((layer): LayoutEntry => ({
      kind: "blob",
      path: blobPath(layer.digest),
      descriptor: layer,
    })),
    { kind: "file", path: blobPath(image.config.digest), data: image.configBytes },
    { kind: "file", path: blobPath(image.manifest.digest), data: image.manifestBytes },
    { kind: "file", path: "index.json", data: encodeJson(index) },
  ];
}

/**
 * Writes `entries` as a tar archive to `writable`, streaming blobs from `openBlob`, and closes
 * it. On failure `writable` is aborted, so its sink can discard the partial archive.
 *
 * @throws {DigestMismatchError} when a blob's content does not match its descriptor.
 */
export async function writeLayoutArchive(
  writable: WritableStream<Uint8Array>,
  entries: LayoutEntry[],
  openBlob: OpenBlob,
  options: LayoutWriteOptions = {},
): Promise<void> {
  const tar = createTarWriter(writable, { signal: options.signal });
  const reportProgress = createProgressCounter(entries, options.onProgress);
  try {
    for (const entry of entries) {
      await addTarEntry(tar, entry, openBlob);
      reportProgress(entry);
    }
    await tar.close();
  } catch (error) {
    await tar.abort(error);
    throw error;
  }
}

async function addTarEntry(tar: TarWriter, entry: LayoutEntry, openBlob: OpenBlob): Promise<void> {
  switch (entry.kind) {
    case "directory":
      return await tar.addDirectory(entry.path);
    case "file":
      return await tar.addFile(entry.path, entry.data);
    case "blob": {
      const content = await openVerified(openBlob, entry.descriptor);
      return await tar.addFileStream(entry.path, entry.descriptor.size, content);
    }
  }
}

/**
 * Writes `entries` as files under `dir`, which is created when missing, streaming blobs from
 * `openBlob`. Existing files with the same names are overwritten.
 *
 * @throws {DigestMismatchError} when a blob's content does not match its descriptor.
 */
export async function writeLayoutDirectory(
  dir: string,
  entries: LayoutEntry[],
  openBlob: OpenBlob,
  options: LayoutWriteOptions = {},
): Promise<void> {
  const reportProgress = createProgressCounter(entries, options.onProgress);
  await Deno.mkdir(dir, { recursive: true });
  for (const entry of entries) {
    options.signal?.throwIfAborted();
    const path = `${dir}/${entry.path}`;
    if (entry.kind === "directory") await Deno.mkdir(path, { recursive: true });
    else if (entry.kind === "file") await Deno.writeFile(path, entry.data, { mode: 0o644 });
    else await writeBlobFile(path, await openVerified(openBlob, entry.descriptor), options.signal);
    reportProgress(entry);
  }
}

/** Writes an OCI layout archive holding `image` under `names`; see {@link writeLayoutArchive}. */
export async function writeImageLayoutArchive(
  writable: WritableStream<Uint8Array>,
  image: ImageArtifact,
  openBlob: OpenBlob,
  options: LayoutWriteOptions & { names?: string[] } = {},
): Promise<void> {
  const entries = imageLayoutEntries(image, parseImageNames(options.names ?? []));
  await writeLayoutArchive(writable, entries, openBlob, options);
}

/** Writes an OCI layout directory holding `image` under `names`; see {@link writeLayoutDirectory}. */
export async function writeImageLayoutDirectory(
  dir: string,
  image: ImageArtifact,
  openBlob: OpenBlob,
  options: LayoutWriteOptions & { names?: string[] } = {},
): Promise<void> {
  const entries = imageLayoutEntries(image, parseImageNames(options.names ?? []));
  await writeLayoutDirectory(dir, entries, openBlob, options);
}

/** Returns `value` as UTF-8 JSON, the encoding of every layout file. */
export function encodeJson(value: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value));
}

async function writeBlobFile(
  path: string,
  content: ReadableStream<Uint8Array>,
  signal: AbortSignal | undefined,
): Promise<void> {
  const file = await Deno.open(path, { write: true, create: true, truncate: true, mode: 0o644 });
  await content.pipeTo(file.writable, { signal });
}

async function openVerified(
  openBlob: OpenBlob,
  descriptor: Descriptor,
): Promise<ReadableStream<Uint8Array>> {
  const content = await openBlob(descriptor.digest);
  return content.pipeThrough(verifyBlob(descriptor));
}

/**
 * Passes a blob's bytes through unchanged and fails the stream when they do not match
 * `descriptor`: as soon as there are too many, or at the end when the digest differs.
 */
function verifyBlob(descriptor: Descriptor): TransformStream<Uint8Array, Uint8Array> {
  const hash = createHash("sha256");
  let size = 0;
  const mismatch = (state: string, actual?: string) =>
    new DigestMismatchError(`Failed to export blob "${descriptor.digest}": ${state}`, {
      data: { expected: descriptor.digest, actual },
    });

  return new TransformStream({
    transform(chunk, controller) {
      size += chunk.byteLength;
      if (size > descriptor.size) {
        throw mismatch(`the stored content is longer than the expected ${descriptor.size} bytes`);
      }
      hash.update(chunk);
      controller.enqueue(chunk);
    },
    flush() {
      const digest = `sha256:${hash.digest("hex")}`;
      if (digest === descriptor.digest && size === descriptor.size) return;
      throw mismatch(
        `the stored content has digest "${digest}" and size ${size}, expected size ${descriptor.size}`,
        digest,
      );
    },
  });
}

function checkBytes(descriptor: Descriptor, bytes: Uint8Array): void {
  const digest = digestOf(bytes);
  if (digest === descriptor.digest && bytes.byteLength === descriptor.size) return;
  throw new DigestMismatchError(
    `Failed to export blob "${descriptor.digest}": the given bytes have digest "${digest}" and size ${bytes.byteLength}, expected size ${descriptor.size}`,
    { data: { expected: descriptor.digest, actual: digest } },
  );
}

function createProgressCounter(
  entries: LayoutEntry[],
  onProgress: LayoutWriteOptions["onProgress"],
): (entry: LayoutEntry) => void {
  const sizeOf = (entry: LayoutEntry) =>
    entry.kind === "blob"
      ? entry.descriptor.size
      : entry.kind === "file"
      ? entry.data.byteLength
      : 0;
  const total = entries.reduce((sum, entry) => sum + sizeOf(entry), 0);
  let written = 0;
  return (entry) => {
    written += sizeOf(entry);
    onProgress?.(written, total);
  };
}
