/**
 * Pacing for long runs of synchronous file system calls: a pause that yields
 * to the event loop once enough time has passed, and checks for cancellation.
 *
 * @module
 */

import { yieldToEventLoop } from "../../core/event_loop.ts";

/**
 * Milliseconds of synchronous work between two yields. Short enough that
 * progress, network transfers of other steps and Ctrl-C are handled promptly,
 * long enough that the yields themselves cost little.
 */
const SLICE_MS = 16;

/** Yields to the event loop now and then; see {@link createPacer}. */
export interface Pacer {
  /** Yields when the current slice is used up, then throws if the signal was aborted. */
  pause(): Promise<void>;
}

/** Returns a pacer that throws `signal`'s reason at the first pause after it aborts. */
export function createPacer(signal: AbortSignal): Pacer {
  let sliceStart = performance.now();
  return {
    async pause() {
      if (performance.now() - sliceStart < SLICE_MS) return;
      await yieldToEventLoop();
      sliceStart = performance.now();
      signal.throwIfAborted();
    },
  };
}
