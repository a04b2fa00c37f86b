/**
 * A pass-through stream step that computes the sha256 digest and byte count of
 * what flows through it, for the digest and diff ID of a layer.
 *
 * Hashing a large layer keeps one core busy (about 230 ms for 400 MB on a
 * 2-core machine). Once a stream passes 8 MiB, the hashing moves to a worker
 * and overlaps with producing the tar. A smaller stream is hashed in place
 * when it ends, so small layers do not pay for starting a worker.
 *
 * @module
 */

import { createHash } from "../deps.ts";
import type { Digest } from "../digest.ts";
import { InternalError } from "../errors.ts";

/** A digest and size computed while bytes pass; `result()` is final once the stream has ended. */
export interface DigestTap {
  transform: TransformStream<Uint8Array, Uint8Array>;
  result(): { digest: Digest; size: number };
}

/**
 * Bytes held back before the hashing moves to a worker. A worker takes tens of
 * milliseconds to start, which only a stream of several MiB earns back.
 */
const WORKER_THRESHOLD = 8 * 1024 * 1024;

/** Creates a {@linkcode DigestTap}. */
export function createDigestTap(): DigestTap {
  let size = 0;
  let digest: Digest | undefined;
  // Copies of the chunks seen before the threshold, since the consumer may reuse the originals.
  let held: Uint8Array[] = [];
  let worker: HashWorker | undefined;
  const transform = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      size += chunk.byteLength;
      if (worker) {
        worker.update(chunk);
      } else if (size <= WORKER_THRESHOLD) {
        held.push(chunk.slice());
      } else {
        worker = new HashWorker();
        for (const copy of held) worker.update(copy);
        worker.update(chunk);
        held = [];
      }
      controller.enqueue(chunk);
    },
    async flush() {
      if (worker) {
        digest = `sha256:${await worker.finish()}`;
      } else {
        const hash = createHash("sha256");
        for (const copy of held) hash.update(copy);
        digest = `sha256:${hash.digest("hex")}`;
      }
      held = [];
    },
    cancel() {
      worker?.stop();
      held = [];
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

/** A worker hashing the chunks posted to it; each chunk is copied, since the stream keeps it. */
class HashWorker {
  readonly #worker = new Worker(new URL("./_hash_worker.ts", import.meta.url), { type: "module" });
  readonly #result = Promise.withResolvers<string>();

  constructor() {
    this.#worker.onmessage = (event: MessageEvent<string>) => this.#result.resolve(event.data);
    this.#worker.onerror = (event) => {
      event.preventDefault();
      this.#result.reject(new Error(`Failed to hash a layer: ${event.message}`));
    };
  }

  update(chunk: Uint8Array): void {
    this.#worker.postMessage(chunk);
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
