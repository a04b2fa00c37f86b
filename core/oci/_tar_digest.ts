/**
 * A pass-through stream step that computes the sha256 digest and byte count of
 * what flows through it, for the digest and diff ID of a layer.
 *
 * Hashing a large layer keeps one core busy (about 230 ms for 400 MB on a
 * 2-core machine). For an uncompressed layer, where no compression worker
 * uses the other core, the hashing can move to a worker once a stream passes
 * 8 MiB, and overlap with producing the tar. At most 8 MiB of copies wait for
 * the worker: the stream holds back until it catches up. A smaller stream is
 * hashed in place when it ends, so small layers do not pay for a worker.
 *
 * @module
 */

import { createHash, type Hash } from "../deps.ts";
import type { Digest } from "../digest.ts";
import { InternalError } from "../errors.ts";
import type { HashReply } from "./_hash_worker.ts";

/** A digest and size computed while bytes pass; `result()` is final once the stream has ended. */
export interface DigestTap {
  transform: TransformStream<Uint8Array, Uint8Array>;
  result(): { digest: Digest; size: number };
}

/** Bytes held back before the hashing moves to a worker, and the most that may wait for it. */
const WORKER_THRESHOLD = 8 * 1024 * 1024;

/**
 * Creates a {@linkcode DigestTap}. With `offThread`, a stream over 8 MiB is
 * hashed on a worker, which costs the process about 80 MB more at its peak.
 */
export function createDigestTap(options: { offThread?: boolean } = {}): DigestTap {
  let size = 0;
  let digest: Digest | undefined;
  // Copies of the chunks seen before the threshold, since the consumer may reuse the originals.
  let heldCopies: Uint8Array[] = [];
  let worker: HashWorker | undefined;
  let inline: Hash | undefined;
  const transform = new TransformStream<Uint8Array, Uint8Array>({
    async transform(chunk, controller) {
      size += chunk.byteLength;
      if (worker) {
        worker.update(chunk);
        await worker.caughtUp(WORKER_THRESHOLD);
      } else if (!options.offThread) {
        (inline ??= createHash("sha256")).update(chunk);
      } else if (size <= WORKER_THRESHOLD) {
        heldCopies.push(chunk.slice());
      } else {
        worker = new HashWorker();
        for (const copy of heldCopies) worker.update(copy);
        worker.update(chunk);
        heldCopies = [];
      }
      controller.enqueue(chunk);
    },
    async flush() {
      if (worker) {
        digest = `sha256:${await worker.finish()}`;
      } else {
        const hash = inline ?? createHash("sha256");
        for (const copy of heldCopies) hash.update(copy);
        digest = `sha256:${hash.digest("hex")}`;
      }
      heldCopies = [];
    },
    cancel() {
      worker?.stop();
      heldCopies = [];
    },
  });
  return {
    transform,
    result() {
      if (digest === undefined) {
        throw new InternalError("Failed to read digest: the stream has not ended");
      }
      return { digest, size };
    },
  };
}

/** A worker hashing copies of the chunks posted to it, which reports how far it has got. */
class HashWorker {
  readonly #worker = new Worker(new URL("./_hash_worker.ts", import.meta.url), { type: "module" });
  readonly #result = Promise.withResolvers<string>();
  #pending = 0;
  #progress = Promise.withResolvers<void>();
  #failure: Error | undefined;

  constructor() {
    this.#worker.onmessage = (event: MessageEvent<HashReply>) => {
      const reply = event.data;
      if ("digest" in reply) return this.#result.resolve(reply.digest);
      this.#pending -= reply.hashed;
      this.#progress.resolve();
      this.#progress = Promise.withResolvers();
    };
    this.#worker.onerror = (event) => {
      event.preventDefault();
      this.#failure = new Error(`Failed to hash a layer: ${event.message}`);
      this.#result.reject(this.#failure);
      this.#progress.resolve();
    };
    this.#result.promise.catch(() => {});
  }

  update(chunk: Uint8Array): void {
    this.#pending += chunk.byteLength;
    this.#worker.postMessage(chunk);
  }

  /** Resolves once at most `bytes` are still waiting to be hashed. */
  async caughtUp(bytes: number): Promise<void> {
    while (this.#pending > bytes) {
      if (this.#failure) throw this.#failure;
      await this.#progress.promise;
    }
  }

  async finish(): Promise<string> {
    this.#worker.postMessage(null);
    try {
      return await this.#result.promise;
    } finally {
      this.#worker.terminate();
    }
  }

  stop(): void {
    this.#worker.terminate();
  }
}
