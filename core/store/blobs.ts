/**
 * The content store: blobs (layers, configs, manifests) named by their sha256 digest.
 *
 * Most blobs are files. A derived blob is a record of how to produce its bytes
 * again, the uncompressed layer tar of a snapshot, as Docker's and buildah's
 * stores keep a layer as its directory. Building a large layer then reads its
 * files once to hash them and writes nothing. An exporter that needs the
 * bytes gets them packed again, checked against the digest as they stream.
 *
 * @module
 */

import { createHash } from "../deps.ts";
import { type Digest, digestHex, digestOf, isDigest } from "../digest.ts";
import { DigestMismatchError, InvalidInputError } from "../errors.ts";
import { readJsonIfExists, temporarySibling, writeFileAtomic } from "../fs/atomic.ts";
import { Writeback } from "./_writeback.ts";

/** A blob's digest and size, as in an OCI descriptor. */
export interface BlobInfo {
  digest: Digest;
  size: number;
}

/** A blob being written; its bytes become visible under their digest only after `commit()`. */
export interface BlobWriter {
  readonly writable: WritableStream<Uint8Array>;
  /** Waits for the stream to close, checks `expected` when given, and makes the blob visible. */
  commit(expected?: Partial<BlobInfo>): Promise<BlobInfo>;
  /** Discards what was written. */
  abort(): Promise<void>;
}

/** The source of a derived blob: a snapshot's diff packed as an uncompressed layer tar. */
export interface DerivedBlob {
  snapshot: string;
  /** The clamp on modification times the layer was packed with, in seconds. */
  sourceDateEpoch?: number;
}

/** The record kept for a derived blob. */
interface DerivedRecord extends DerivedBlob {
  size: number;
}

/** The producer of derived blobs' bytes, which the store is opened with. */
export interface DerivedBlobSource {
  /** Reports whether the snapshot `blob` is made from is still in the store. */
  exists(blob: DerivedBlob): boolean;
  /** Packs the bytes of `blob` again. */
  open(blob: DerivedBlob): ReadableStream<Uint8Array>;
}

/** Blobs under `<root>/blobs/sha256/`, and records of derived blobs under `<root>/blobs/derived/`. */
export class BlobStore {
  readonly dir: string;
  readonly derivedDir: string;
  readonly #source: DerivedBlobSource | undefined;

  constructor(root: string, source?: DerivedBlobSource) {
    this.dir = `${root}/blobs/sha256`;
    this.derivedDir = `${root}/blobs/derived`;
    this.#source = source;
  }

  /** Returns the path of the blob file for `digest`, which may not exist. */
  path(digest: Digest): string {
    if (!isDigest(digest)) {
      throw new InvalidInputError(`Invalid digest "${digest}": expected sha256:<64 hex>`);
    }
    return `${this.dir}/${digestHex(digest)}`;
  }

  /** Reports whether the blob `digest` is in the store, as a file or derived. */
  async has(digest: Digest): Promise<boolean> {
    return (await this.size(digest)) !== undefined;
  }

  /** Returns the size of blob `digest`, or undefined when it is not in the store. */
  async size(digest: Digest): Promise<number | undefined> {
    const stored = await this.#storedSize(digest);
    return stored ?? (await this.#derived(digest))?.size;
  }

  /** Returns the bytes blob `digest` takes on disk: its size, or 0 for a derived blob. */
  async diskBytes(digest: Digest): Promise<number> {
    return (await this.#storedSize(digest)) ?? 0;
  }

  /**
   * Opens the blob `digest` for reading. A derived blob is packed again, and
   * its stream fails if the bytes do not match the digest it was recorded with.
   */
  async open(digest: Digest): Promise<ReadableStream<Uint8Array>> {
    try {
      const file = await Deno.open(this.path(digest), { read: true });
      return file.readable;
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      const derived = await this.#derived(digest);
      if (!derived) throw error;
      return this.#source!.open(derived).pipeThrough(verifyDerived(digest, derived));
    }
  }

  /** Reads the whole blob `digest`; meant for small blobs such as configs and manifests. */
  async read(digest: Digest): Promise<Uint8Array> {
    try {
      return await Deno.readFile(this.path(digest));
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound) || !(await this.#derived(digest))) throw error;
      return new Uint8Array(await new Response(await this.open(digest)).arrayBuffer());
    }
  }

  /**
   * Records that the blob `info` is `blob`'s snapshot packed as a layer tar,
   * whose digest and size the caller has just computed by packing it.
   */
  async writeDerived(info: BlobInfo, blob: DerivedBlob): Promise<BlobInfo> {
    const record: DerivedRecord = { ...blob, size: info.size };
    Deno.mkdirSync(this.derivedDir, { recursive: true });
    await writeFileAtomic(this.#recordPath(info.digest), JSON.stringify(record));
    return { digest: info.digest, size: info.size };
  }

  /** Stores `bytes` and returns their digest and size. */
  async writeBytes(bytes: Uint8Array): Promise<BlobInfo> {
    // A rebuild from the cache makes the same config and manifest again. A stored copy that
    // still hashes to the digest is kept, which saves the flushes of writing it again.
    const digest = digestOf(bytes);
    if (storedCopyMatches(this.path(digest), digest)) return { digest, size: bytes.length };
    const writer = await this.createWriter();
    const stream = writer.writable.getWriter();
    await stream.write(bytes);
    await stream.close();
    return writer.commit();
  }

  /**
   * Stores everything `stream` carries, checking it against `expected` when given. An abort of
   * `signal` cancels `stream` and keeps nothing.
   */
  async writeStream(
    stream: ReadableStream<Uint8Array>,
    expected?: Partial<BlobInfo>,
    signal?: AbortSignal,
  ): Promise<BlobInfo> {
    const writer = await this.createWriter();
    try {
      await stream.pipeTo(writer.writable, { signal });
    } catch (error) {
      await writer.abort();
      throw error;
    }
    return writer.commit(expected);
  }

  /** Starts writing a blob whose digest is computed as the bytes arrive. */
  async createWriter(): Promise<BlobWriter> {
    await Deno.mkdir(this.dir, { recursive: true });
    const temporary = temporarySibling(`${this.dir}/x`);
    const file = await Deno.open(temporary, { write: true, createNew: true, mode: 0o644 });
    const hash = createHash("sha256");
    const writeback = new Writeback(temporary);
    let size = 0;
    let closed = false;
    const fileWriter = file.writable.getWriter();
    const writable = new WritableStream<Uint8Array>({
      async write(chunk) {
        hash.update(chunk);
        size += chunk.byteLength;
        await fileWriter.write(chunk);
        writeback.written(chunk.byteLength);
      },
      close() {
        closed = true;
      },
    });
    const discard = async () => {
      writeback.close();
      await fileWriter.close().catch(() => {});
      await Deno.remove(temporary).catch(() => {});
    };

    return {
      writable,
      commit: async (expected = {}) => {
        if (!closed) throw new Error("BlobWriter.commit() called before the stream was closed");
        const digest: Digest = `sha256:${hash.digest("hex")}`;
        if (
          (expected.digest && expected.digest !== digest) ||
          (expected.size !== undefined && expected.size !== size)
        ) {
          await discard();
          throw new DigestMismatchError(
            `Failed to store blob "${
              expected.digest ?? digest
            }": content has digest "${digest}" and size ${size}` +
              (expected.size !== undefined ? ` (expected size ${expected.size})` : ""),
            { data: { expected: expected.digest, actual: digest } },
          );
        }
        await fileWriter.close();
        try {
          await writeback.finish();
        } catch (error) {
          await discard();
          throw error;
        }
        await Deno.rename(temporary, this.path(digest));
        return { digest, size };
      },
      abort: discard,
    };
  }

  /** Lists the digests of all blobs, files first, then derived ones. */
  async *list(): AsyncGenerator<Digest> {
    const seen = new Set<string>();
    for (const dir of [this.dir, this.derivedDir]) {
      try {
        for await (const entry of Deno.readDir(dir)) {
          if (!/^[a-f0-9]{64}$/.test(entry.name) || seen.has(entry.name)) continue;
          seen.add(entry.name);
          yield `sha256:${entry.name}`;
        }
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      }
    }
  }

  /** Removes blob `digest` if present, its file and its derived record. */
  async remove(digest: Digest): Promise<void> {
    for (const path of [this.path(digest), this.#recordPath(digest)]) {
      await Deno.remove(path).catch((error) => {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      });
    }
  }

  #recordPath(digest: Digest): string {
    const hex = this.path(digest).slice(this.dir.length + 1);
    return `${this.derivedDir}/${hex}`;
  }

  async #storedSize(digest: Digest): Promise<number | undefined> {
    try {
      return (await Deno.lstat(this.path(digest))).size;
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return undefined;
      throw error;
    }
  }

  /** Returns the record of derived blob `digest` when its snapshot is still there. */
  async #derived(digest: Digest): Promise<DerivedRecord | undefined> {
    if (!this.#source) return undefined;
    let record: unknown;
    try {
      record = await readJsonIfExists<unknown>(this.#recordPath(digest));
    } catch (error) {
      // A damaged record only costs packing the layer again, which rewrites it.
      if (error instanceof SyntaxError) return undefined;
      throw error;
    }
    return isDerivedRecord(record) && this.#source.exists(record) ? record : undefined;
  }
}

/** Reports whether the small blob file at `path` exists and has the digest `digest`. */
function storedCopyMatches(path: string, digest: Digest): boolean {
  try {
    return digestOf(Deno.readFileSync(path)) === digest;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** Reports whether `value` is a derived record as `writeDerived` writes it. */
function isDerivedRecord(value: unknown): value is DerivedRecord {
  const record = value as Partial<DerivedRecord> | null;
  const epoch = record?.sourceDateEpoch;
  return typeof record?.snapshot === "string" && /^[A-Za-z0-9_-]+$/.test(record.snapshot) &&
    Number.isSafeInteger(record.size) && record.size! >= 0 &&
    (epoch === undefined || (Number.isSafeInteger(epoch) && epoch >= 0));
}

/**
 * Passes a derived blob's bytes through, failing the stream when they run
 * past the recorded size or end with another digest. Either means the
 * snapshot's files changed after the layer was recorded, which only a tool
 * outside tsbuild can do.
 */
function verifyDerived(
  digest: Digest,
  record: DerivedRecord,
): TransformStream<Uint8Array, Uint8Array> {
  const hash = createHash("sha256");
  let size = 0;
  const mismatch = (actual: string) =>
    new DigestMismatchError(
      `Failed to read layer "${digest}": packed again from snapshot "${record.snapshot}", it ` +
        `${actual}. Its files were changed outside tsbuild, and so may be the files it shares ` +
        `with other snapshots; run \`tsbuild prune\` with no --keep-duration and build again`,
      { data: { expected: digest, snapshot: record.snapshot } },
    );
  return new TransformStream({
    transform(chunk, controller) {
      size += chunk.byteLength;
      if (size > record.size) throw mismatch(`runs past the recorded ${record.size} bytes`);
      hash.update(chunk);
      controller.enqueue(chunk);
    },
    flush() {
      const actual = `sha256:${hash.digest("hex")}`;
      if (size !== record.size || actual !== digest) {
        throw mismatch(`has digest "${actual}" and size ${size} instead`);
      }
    },
  });
}
