/**
 * The content store: blobs (layers, configs, manifests) named by their sha256 digest.
 *
 * @module
 */

import { createHash } from "../deps.ts";
import { type Digest, digestHex, isDigest } from "../digest.ts";
import { DigestMismatchError, InvalidInputError } from "../errors.ts";
import { temporarySibling } from "../fs/atomic.ts";
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

/** Blobs under `<root>/blobs/sha256/`. */
export class BlobStore {
  readonly dir: string;

  constructor(root: string) {
    this.dir = `${root}/blobs/sha256`;
  }

  /** Returns the path of the blob file for `digest`, which may not exist. */
  path(digest: Digest): string {
    if (!isDigest(digest)) {
      throw new InvalidInputError(`Invalid digest "${digest}": expected sha256:<64 hex>`);
    }
    return `${this.dir}/${digestHex(digest)}`;
  }

  /** Reports whether the blob `digest` is in the store. */
  async has(digest: Digest): Promise<boolean> {
    try {
      await Deno.lstat(this.path(digest));
      return true;
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return false;
      throw error;
    }
  }

  /** Returns the size of blob `digest`, or undefined when it is not in the store. */
  async size(digest: Digest): Promise<number | undefined> {
    try {
      return (await Deno.lstat(this.path(digest))).size;
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return undefined;
      throw error;
    }
  }

  /** Opens the blob `digest` for reading. */
  async open(digest: Digest): Promise<ReadableStream<Uint8Array>> {
    const file = await Deno.open(this.path(digest), { read: true });
    return file.readable;
  }

  /** Reads the whole blob `digest`; meant for small blobs such as configs and manifests. */
  read(digest: Digest): Promise<Uint8Array> {
    return Deno.readFile(this.path(digest));
  }

  /** Stores `bytes` and returns their digest and size. */
  async writeBytes(bytes: Uint8Array): Promise<BlobInfo> {
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

  /**
   * Stores everything `stream` carries under the digest its producer computed
   * while producing it, without hashing the bytes a second time. Meant for
   * streams tsbuild generates itself, such as an uncompressed layer whose diff
   * ID is its digest.
   *
   * @param digest Resolves once `stream` has ended, to the sha256 of its bytes.
   */
  async writeHashedStream(
    stream: ReadableStream<Uint8Array>,
    digest: Promise<Digest>,
    signal?: AbortSignal,
  ): Promise<BlobInfo> {
    // A failed producer also fails its stream, and that error is the one thrown.
    digest.catch(() => {});
    const writer = await this.createWriter({ hashed: true });
    let known: Digest;
    try {
      await stream.pipeTo(writer.writable, { signal });
      known = await digest;
    } catch (error) {
      await writer.abort();
      throw error;
    }
    return writer.commit({ digest: known });
  }

  /**
   * Starts writing a blob whose digest is computed as the bytes arrive. With
   * `hashed`, the caller vouches for the digest it passes to `commit`.
   */
  async createWriter(options: { hashed?: boolean } = {}): Promise<BlobWriter> {
    await Deno.mkdir(this.dir, { recursive: true });
    const temporary = temporarySibling(`${this.dir}/x`);
    const file = await Deno.open(temporary, { write: true, createNew: true, mode: 0o644 });
    const hash = options.hashed ? undefined : createHash("sha256");
    const writeback = new Writeback(temporary);
    let size = 0;
    let closed = false;
    const fileWriter = file.writable.getWriter();
    const writable = new WritableStream<Uint8Array>({
      async write(chunk) {
        hash?.update(chunk);
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
        if (!hash && !expected.digest) {
          throw new Error("BlobWriter.commit() needs the digest of a blob its caller hashed");
        }
        const digest: Digest = hash ? `sha256:${hash.digest("hex")}` : expected.digest!;
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

  /** Lists the digests of all stored blobs. */
  async *list(): AsyncGenerator<Digest> {
    try {
      for await (const entry of Deno.readDir(this.dir)) {
        if (/^[a-f0-9]{64}$/.test(entry.name)) yield `sha256:${entry.name}`;
      }
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }

  /** Removes blob `digest` if present. */
  async remove(digest: Digest): Promise<void> {
    await Deno.remove(this.path(digest)).catch((error) => {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    });
  }
}
