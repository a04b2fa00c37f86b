/**
 * Running a web stream through a Node transform stream, such as a zlib
 * stream, with backpressure both ways and clean cancellation.
 *
 * @module
 */

import type { Transform } from "../deps.ts";

/**
 * Returns the bytes of `source` after `transform`. Output is read from the
 * transform only as the returned stream is pulled, and input is written only
 * while the transform accepts it, so neither side buffers more than the
 * transform's own high-water marks.
 *
 * NOTE: `Transform.toWeb()` in Deno 2.9.6 keeps enqueueing output after the
 * web stream is cancelled and throws an uncaught TypeError, so this adapter
 * is written by hand.
 */
export function pipeThroughNodeTransform(
  source: ReadableStream<Uint8Array>,
  transform: InstanceType<typeof Transform>,
): ReadableStream<Uint8Array> {
  const reader = source.getReader();
  let failure: unknown;
  let ended = false;
  let pumping: Promise<void> | undefined;
  let wake: () => void = () => {};
  const changed = () => new Promise<void>((resolve) => (wake = resolve));

  transform.on("readable", () => wake());
  transform.on("end", () => {
    ended = true;
    wake();
  });
  transform.on("error", (error: unknown) => {
    failure ??= error;
    wake();
  });

  /** Writes `source` into the transform, waiting for "drain" whenever it is full. */
  const pump = async () => {
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (transform.destroyed) return;
        if (!transform.write(value)) await waitForDrain(transform);
      }
      if (!transform.destroyed) transform.end();
    } catch (error) {
      transform.destroy(error as Error);
    }
  };

  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      pumping ??= pump();
      for (;;) {
        const chunk = transform.read() as Uint8Array | null;
        if (chunk !== null) {
          controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
          return;
        }
        if (failure !== undefined) throw failure;
        if (ended) {
          controller.close();
          return;
        }
        await changed();
      }
    },
    async cancel(reason) {
      transform.destroy();
      await reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}

function waitForDrain(transform: InstanceType<typeof Transform>): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      transform.off("drain", done);
      transform.off("close", done);
      resolve();
    };
    transform.on("drain", done);
    transform.on("close", done);
  });
}
