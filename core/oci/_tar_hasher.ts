/**
 * Hashing a layer tar as it is generated: on the main thread for a small
 * layer, on a worker for a large one, so that reading files and hashing
 * their bytes use both cores.
 *
 * The choice is made by size. The first chunks are kept unhashed. If the
 * tar ends within {@linkcode OFFLOAD_AFTER} bytes, they are hashed in place.
 * Otherwise a worker starts and takes them, then every later chunk. A worker
 * took 24 to 29 ms to start on a 2-core VM, about as long as hashing 45 MB,
 * and waiting for 16 MiB also bounds the memory the kept chunks use. There,
 * hashing a 400 MB tar of 20,000 files took 245 ms of the 560 ms it took to
 * produce and hash it on one thread.
 *
 * @module
 */

import { createHash } from "../deps.ts";
import type { Digest } from "../digest.ts";
import type { HashRequest, HashResponse } from "./_hash_worker.ts";

/** Bytes kept unhashed before hashing moves to a worker. */
export const OFFLOAD_AFTER = 16 * 1024 * 1024;

/** Maximum number of chunks sent to the worker and not yet returned before {@linkcode TarHasher.update} waits. */
const MAX_IN_FLIGHT = 8;

/** The sha256 and size of a tar, hashed chunk by chunk. */
export class TarHasher {
  readonly #pool: Uint8Array[];
  readonly #offloadAfter: number;
  readonly #chunkSize: number;
  #buffered: Uint8Array[] = [];
  #bufferedBytes = 0;
  #size = 0;
  #worker: Worker | undefined;
  #inFlight = 0;
  #slot: PromiseWithResolvers<void> | undefined;
  #digest: PromiseWithResolvers<string> | undefined;
  #error: Error | undefined;

  /**
   * @param pool Receives each full chunk once its bytes are hashed, for the tar writer to fill again.
   * @param chunkSize The size of a full chunk.
   */
  constructor(pool: Uint8Array[], chunkSize: number, options: { offloadAfter?: number } = {}) {
    this.#pool = pool;
    this.#chunkSize = chunkSize;
    this.#offloadAfter = options.offloadAfter ?? OFFLOAD_AFTER;
  }

  /** Whether hashing moved to a worker. */
  get offloaded(): boolean {
    return this.#worker !== undefined;
  }

  /**
   * Takes the next chunk, which must not change until it is back in the pool.
   * Returns a promise when the caller should wait before sending another.
   */
  update(chunk: Uint8Array): Promise<void> | undefined {
    if (this.#error) throw this.#error;
    this.#size += chunk.byteLength;
    if (!this.#worker) {
      this.#buffered.push(chunk);
      this.#bufferedBytes += chunk.byteLength;
      if (this.#bufferedBytes < this.#offloadAfter) return undefined;
      this.#startWorker();
      const buffered = this.#buffered;
      this.#buffered = [];
      for (const chunk of buffered) this.#send(chunk);
    } else {
      this.#send(chunk);
    }
    if (this.#inFlight < MAX_IN_FLIGHT) return undefined;
    this.#slot ??= Promise.withResolvers<void>();
    return this.#slot.promise;
  }

  /** Returns the digest and size of every chunk taken, and stops the worker. */
  async digest(): Promise<{ digest: Digest; size: number }> {
    // A failed worker is gone too, and the chunks it took must not go unhashed.
    if (this.#error) throw this.#error;
    if (!this.#worker) {
      const hash = createHash("sha256");
      for (const chunk of this.#buffered) hash.update(chunk);
      this.#buffered = [];
      return { digest: `sha256:${hash.digest("hex")}`, size: this.#size };
    }
    this.#digest = Promise.withResolvers<string>();
    this.#worker.postMessage({ end: true } satisfies HashRequest);
    try {
      return { digest: `sha256:${await this.#digest.promise}`, size: this.#size };
    } finally {
      this.close();
    }
  }

  /** Stops the worker, if one started. */
  close(): void {
    this.#worker?.terminate();
    this.#worker = undefined;
  }

  #startWorker(): void {
    const worker = new Worker(new URL("./_hash_worker.ts", import.meta.url), { type: "module" });
    worker.onmessage = (event: MessageEvent<HashResponse>) => {
      const response = event.data;
      if ("digest" in response) return this.#digest?.resolve(response.digest);
      this.#inFlight--;
      if (response.chunk.byteLength === this.#chunkSize) this.#pool.push(response.chunk);
      if (this.#inFlight < MAX_IN_FLIGHT) {
        this.#slot?.resolve();
        this.#slot = undefined;
      }
    };
    worker.onerror = (event) => {
      event.preventDefault();
      this.#fail(new Error(`Failed to hash a layer on a worker: ${event.message}`));
    };
    this.#worker = worker;
  }

  #send(chunk: Uint8Array): void {
    this.#inFlight++;
    const owned = chunk as Uint8Array<ArrayBuffer>;
    this.#worker!.postMessage({ chunk: owned } satisfies HashRequest, [owned.buffer]);
  }

  #fail(error: Error): void {
    this.#error = error;
    this.#slot?.reject(error);
    this.#digest?.reject(error);
    this.close();
  }
}
