/**
 * Unpacking an OCI layer blob into a snapshot diff directory, verifying its
 * digest and diff ID on the way.
 *
 * @module
 */

import type { Digest } from "../digest.ts";
import { CancelledError, DigestMismatchError, NotFoundError, PathEscapeError } from "../errors.ts";
import { DiffWriter } from "./_tar_diff_writer.ts";
import { createDigestTap } from "./_tar_digest.ts";
import { extractEntries } from "./_tar_read.ts";
import { decompressStream, sniffCompression } from "./compression.ts";

/** Options of {@linkcode unpackLayer}. */
export interface UnpackLayerOptions {
  /** Digest the compressed blob must have, checked once the whole stream is read. */
  expectedDigest?: Digest;
  /** Digest the uncompressed tar (the diff ID) must have, checked once the whole stream is read. */
  expectedDiffId?: Digest;
  /**
   * Diff directories of the layers below, bottom-most first. They supply files
   * that hardlinks in this layer point to and the metadata of parent
   * directories that this layer does not list.
   *
   * @default {[]}
   */
  lowerDirs?: string[];
  /** Aborts the unpack; it then rejects with {@linkcode CancelledError}. */
  signal?: AbortSignal;
}

/** Digests, size and warnings of an unpacked layer. */
export interface UnpackLayerResult {
  /** Digest of the blob as received. */
  digest: Digest;
  /** Digest of the uncompressed tar. */
  diffId: Digest;
  /** Size of the blob as received, in bytes. */
  size: number;
  /** Entries or attributes that were written differently from the tar, one sentence each. */
  warnings: string[];
}

/** The entry being written, or the last one written, for error messages. */
interface Progress {
  entry?: string;
  inEntry: boolean;
}

/**
 * Unpacks the layer blob `stream` (gzip, zstd or plain tar, detected from its
 * first bytes) into `diffDir`, in overlayfs's upper-directory format: a ".wh."
 * entry becomes a character device 0:0 and ".wh..wh..opq" marks its directory
 * opaque. The blob is streamed; no layer or file is held in memory whole.
 *
 * `diffDir` is created when missing. On any error, including a digest
 * mismatch, what was written so far stays in `diffDir`, and the caller must
 * delete it.
 *
 * @param stream The layer blob.
 * @param diffDir The snapshot diff directory to write into, normally empty.
 * @returns The blob's digest and size, and the diff ID.
 * @throws {PathEscapeError} when an entry would be written outside `diffDir` or through a symlink.
 * @throws {NotFoundError} when a hardlink's target is neither in the layer nor in `lowerDirs`.
 * @throws {DigestMismatchError} when the blob or the tar does not match the expected digest.
 * @throws {CancelledError} when `options.signal` aborts.
 * @throws {Error} for a corrupt or truncated blob or a failed file system call; the message names
 * the layer and the entry.
 */
export async function unpackLayer(
  stream: ReadableStream<Uint8Array>,
  diffDir: string,
  options: UnpackLayerOptions = {},
): Promise<UnpackLayerResult> {
  const warnings: string[] = [];
  const progress: Progress = { inEntry: false };
  const compressed = createDigestTap();
  const uncompressed = createDigestTap();
  let isPlainTar = false;

  try {
    await Deno.mkdir(diffDir, { recursive: true });
    const writer = new DiffWriter(diffDir, options.lowerDirs ?? [], warnings);
    // The signal on the first pipe also ends a wait for the first bytes.
    const input = stream.pipeThrough(compressed.transform, { signal: options.signal });
    const sniffed = await sniffCompression(input);
    // A plain tar's diff ID is its digest, so its bytes are hashed only once.
    isPlainTar = sniffed.compression === "none";
    const tar = isPlainTar
      ? sniffed.stream
      : decompressStream(sniffed.stream, sniffed.compression).pipeThrough(uncompressed.transform);
    await extractEntries(tar, async (header, body) => {
      progress.entry = header.name;
      progress.inEntry = true;
      await writer.write(header, body);
      progress.inEntry = false;
    }, options.signal);
    writer.finish();
  } catch (error) {
    throw describeUnpackError(error, diffDir, options, progress);
  }

  const { digest, size } = compressed.result();
  const diffId = isPlainTar ? digest : uncompressed.result().digest;
  verifyDigests(digest, diffId, options);
  return { digest, diffId, size, warnings };
}

function verifyDigests(digest: Digest, diffId: Digest, options: UnpackLayerOptions): void {
  const { expectedDigest, expectedDiffId } = options;
  if (expectedDigest !== undefined && digest !== expectedDigest) {
    throw new DigestMismatchError(
      `Failed to verify layer "${expectedDigest}": the blob's digest is "${digest}"`,
      { data: { expected: expectedDigest, actual: digest } },
    );
  }
  if (expectedDiffId !== undefined && diffId !== expectedDiffId) {
    const layer = expectedDigest ?? digest;
    throw new DigestMismatchError(
      `Failed to verify layer "${layer}": the diff ID is "${diffId}", expected "${expectedDiffId}"`,
      { data: { expected: expectedDiffId, actual: diffId, layer } },
    );
  }
}

/**
 * Rewrites an error raised while unpacking into one that names the layer and
 * the entry, keeping its class for the conditions callers act on.
 */
function describeUnpackError(
  error: unknown,
  diffDir: string,
  options: UnpackLayerOptions,
  progress: Progress,
): unknown {
  if (error instanceof CancelledError || error instanceof DigestMismatchError) return error;
  if (options.signal?.aborted) {
    return new CancelledError("Layer unpack cancelled", { cause: error });
  }

  const layer = options.expectedDigest === undefined
    ? `layer into "${diffDir}"`
    : `layer "${options.expectedDigest}" into "${diffDir}"`;
  const place = progress.entry === undefined
    ? ""
    : progress.inEntry
    ? ` at entry "${progress.entry}"`
    : ` after entry "${progress.entry}"`;
  const detail = error instanceof Error ? error.message : String(error);
  const message = `Failed to unpack ${layer}${place}: ${detail}`;
  const data = { layer: options.expectedDigest, diffDir, entry: progress.entry };

  if (error instanceof PathEscapeError) return new PathEscapeError(message, { cause: error, data });
  if (error instanceof NotFoundError) return new NotFoundError(message, { cause: error, data });
  return new Error(message, { cause: error });
}
