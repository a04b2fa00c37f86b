/**
 * Packing a snapshot diff directory into an OCI layer blob, or a plain
 * directory into a tar, as a stream whose digests are known when it ends.
 *
 * @module
 */

import type { Digest } from "../digest.ts";
import { CancelledError } from "../errors.ts";
import { createDigestTap } from "./_tar_digest.ts";
import { CHUNK_SIZE, generateTar } from "./_tar_pack.ts";
import { TarHasher } from "./_tar_hasher.ts";
import { compressStream } from "./compression.ts";
import type { Compression } from "./compression.ts";

/** Options of {@linkcode packLayer} and {@linkcode packTree}. */
export interface PackLayerOptions {
  /** Compression of the produced blob. */
  compression: Compression;
  /**
   * Latest modification time to record, in seconds since the epoch; later
   * times are clamped to it, so rebuilding changed files gives the same bytes.
   * Unset, times are recorded as they are, truncated to whole seconds.
   */
  sourceDateEpoch?: number;
  /**
   * Compression level; see {@linkcode CompressOptions.level} for the range.
   *
   * @default {DEFAULT_GZIP_LEVEL} or {DEFAULT_ZSTD_LEVEL}, fast levels whose measured trade-off
   * is documented on those constants.
   */
  level?: number;
}

/** Digests, size and warnings of a packed blob, known once its stream has been read to the end. */
export interface PackLayerResult {
  /** Digest of the compressed blob, the layer's descriptor digest. */
  digest: Digest;
  /** Digest of the uncompressed tar. */
  diffId: Digest;
  /** Size of the compressed blob in bytes. */
  size: number;
  /** Entries that could not be packed as they are, one sentence each. */
  warnings: string[];
}

/** A blob being packed: read `stream` to its end, then `done` gives the digests. */
export interface PackedLayer {
  /** The blob's bytes, produced as they are read. */
  stream: ReadableStream<Uint8Array>;
  /**
   * Resolves once `stream` has been read to its end. Rejects with the error the
   * stream fails with, or with {@linkcode CancelledError} when it is cancelled.
   */
  done: Promise<PackLayerResult>;
}

/**
 * Packs the diff directory `diffDir` into a layer blob. Whiteout devices become
 * ".wh.NAME" entries and opaque directories get a ".wh..wh..opq" entry. The
 * same tree and options give the same bytes, for a given Deno release.
 *
 * The tree is read as `stream` is consumed, about a MiB ahead of the reader, so
 * the caller can pipe it into a blob file while the digests are computed.
 * Extended attributes are packed as `SCHILY.xattr.` PAX records, except
 * overlayfs's own `trusted.overlay.*` and the host's `security.selinux`.
 *
 * @param diffDir A snapshot diff directory in overlayfs's upper-directory format.
 * @returns The blob stream and a promise of its digests.
 * @throws {TypeError} when `options.compression` is not "gzip", "zstd" or "none".
 * @throws {RangeError} when `options.level` or `options.sourceDateEpoch` is out of range.
 *
 * @example Write a layer blob and read its digests
 * ```ts ignore
 * const layer = packLayer(diffDir, { compression: "gzip", sourceDateEpoch: 0 });
 * await layer.stream.pipeTo((await Deno.create(blobPath)).writable);
 * const { digest, diffId, size } = await layer.done;
 * ```
 */
export function packLayer(diffDir: string, options: PackLayerOptions): PackedLayer {
  return packDirectory(diffDir, options, true);
}

/**
 * Packs the plain directory `dir`, such as a merged root file system, into a
 * tar without whiteout translation: every device node, 0:0 included, is packed
 * as a device. Takes the same options and gives the same guarantees as
 * {@linkcode packLayer}.
 */
export function packTree(dir: string, options: PackLayerOptions): PackedLayer {
  return packDirectory(dir, options, false);
}

/** The diff ID and size of a layer tar, and the warnings of packing it. */
export interface LayerDigest {
  diffId: Digest;
  size: number;
  warnings: string[];
}

/**
 * Computes the diff ID and size of the uncompressed layer that
 * {@linkcode packLayer} makes of `diffDir`, without keeping its bytes. The tar
 * is hashed chunk by chunk as it is produced, a large one on a worker (see
 * `_tar_hasher.ts`), and its chunks are filled again once hashed.
 *
 * @throws {CancelledError} when `signal` is aborted; the walk stops there.
 */
export async function digestLayer(
  diffDir: string,
  options: { sourceDateEpoch?: number; offloadAfter?: number },
  signal?: AbortSignal,
): Promise<LayerDigest> {
  checkOptions({ compression: "none", sourceDateEpoch: options.sourceDateEpoch });
  const warnings: string[] = [];
  const pool: Uint8Array[] = [];
  const hasher = new TarHasher(pool, CHUNK_SIZE, { offloadAfter: options.offloadAfter });
  try {
    let chunks = 0;
    const settings = {
      sourceDateEpoch: options.sourceDateEpoch,
      translateWhiteouts: true,
      warnings,
      chunkPool: pool,
    };
    for (const chunk of generateTar(diffDir, settings)) {
      const slot = hasher.update(chunk);
      if (slot) await slot;
      // Generating the tar is synchronous, so other work gets a turn now and then.
      else if (++chunks % CHUNKS_PER_TURN === 0) await new Promise((go) => setTimeout(go, 0));
      if (signal?.aborted) {
        throw new CancelledError("Layer pack cancelled", { cause: signal.reason });
      }
    }
    const { digest, size } = await hasher.digest();
    return { diffId: digest, size, warnings };
  } finally {
    hasher.close();
  }
}

/** Chunks of a MiB produced between two turns of the event loop in {@linkcode digestLayer}. */
const CHUNKS_PER_TURN = 64;

function checkOptions(options: PackLayerOptions): void {
  if (!["gzip", "zstd", "none"].includes(options.compression)) {
    throw new TypeError(
      `Failed to pack layer: compression "${options.compression}" is not "gzip", "zstd" or "none"`,
    );
  }
  const epoch = options.sourceDateEpoch;
  if (epoch !== undefined && (!Number.isInteger(epoch) || epoch < 0)) {
    throw new RangeError(
      `Failed to pack layer: source date epoch "${epoch}" is not a whole number of seconds`,
    );
  }
}

function packDirectory(
  dir: string,
  options: PackLayerOptions,
  translateWhiteouts: boolean,
): PackedLayer {
  checkOptions(options);

  const warnings: string[] = [];
  // Without compression the blob is the tar, so its bytes are hashed only once.
  const isPlainTar = options.compression === "none";
  const uncompressed = createDigestTap();
  const compressed = createDigestTap();
  const settings = { sourceDateEpoch: options.sourceDateEpoch, translateWhiteouts, warnings };
  const tar = ReadableStream.from(generateTar(dir, settings)).pipeThrough(uncompressed.transform);
  const blob = isPlainTar
    ? tar
    : compressStream(tar, { compression: options.compression, level: options.level })
      .pipeThrough(compressed.transform);

  const { promise: done, resolve, reject } = Promise.withResolvers<PackLayerResult>();
  // The reader of `stream` receives the same error, so a caller that never awaits `done` must not
  // get an unhandled rejection for it.
  done.catch(() => {});
  const stream = settleOnEnd(blob, {
    onEnd() {
      const tarDigest = uncompressed.result();
      const { digest, size } = isPlainTar ? tarDigest : compressed.result();
      resolve({ digest, diffId: tarDigest.digest, size, warnings });
    },
    onError: reject,
  });
  return { stream, done };
}

/** Passes `source` through and calls `onEnd` after its last chunk or `onError` when it fails or is cancelled. */
function settleOnEnd(
  source: ReadableStream<Uint8Array>,
  handlers: { onEnd(): void; onError(error: unknown): void },
): ReadableStream<Uint8Array> {
  const reader = source.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      let result: ReadableStreamReadResult<Uint8Array>;
      try {
        result = await reader.read();
      } catch (error) {
        handlers.onError(error);
        throw error;
      }
      if (result.done) {
        controller.close();
        handlers.onEnd();
      } else {
        controller.enqueue(result.value);
      }
    },
    async cancel(reason) {
      handlers.onError(new CancelledError("Layer pack cancelled", { cause: reason }));
      await reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}
