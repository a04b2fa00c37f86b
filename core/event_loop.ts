/**
 * Yielding to the event loop from long synchronous work.
 *
 * @module
 */

/**
 * Resolves after the event loop has had a turn, so pending I/O callbacks, due
 * timers and signal handlers run. A message on a fresh channel takes about
 * 0.04 ms where `setTimeout(resolve, 0)` takes about 2 ms (Deno 2.9.6), which
 * added up to tens of milliseconds over a scan that yields every few.
 */
export function yieldToEventLoop(): Promise<void> {
  const { port1, port2 } = new MessageChannel();
  return new Promise((resolve) => {
    port2.onmessage = () => {
      port1.close();
      port2.close();
      resolve();
    };
    port1.postMessage(null);
  });
}
