/**
 * Time limits on registry requests, so that a registry that stops responding
 * fails the build with its name instead of holding it forever.
 *
 * @module
 */

/** Slowest upload rate allowed for before a request counts as stalled: 128 KiB a second. */
const MIN_UPLOAD_BYTES_PER_MS = 128;

/** A deadline for one request's response headers, then for each chunk of its body. */
export interface RequestDeadline {
  /** Aborts the request when the deadline passes, and with the caller's own signal. */
  signal: AbortSignal;
  /** Whether the deadline, not the caller, aborted the request. */
  readonly expired: boolean;
  /** Stops the header deadline once headers arrived; the body gets its own idle limit. */
  headersReceived(): void;
  /** Returns `body` with an idle limit between chunks, which errors it with `onIdle()`. */
  watchBody(
    body: ReadableStream<Uint8Array>,
    onIdle: () => Error,
  ): ReadableStream<Uint8Array>;
  /** Clears the timers. */
  clear(): void;
}

/**
 * Starts the deadline of a request that sends `bodyBytes`: the response headers must arrive
 * within `idleMs` plus the time the body takes at the slowest allowed rate.
 */
export function startDeadline(
  idleMs: number,
  bodyBytes: number,
  callerSignal: AbortSignal | undefined,
): RequestDeadline {
  const controller = new AbortController();
  let expired = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arm = (ms: number, onExpire: () => void = () => {}) => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      expired = true;
      onExpire();
      controller.abort(new DOMException("The registry did not respond in time", "TimeoutError"));
    }, ms);
  };
  arm(idleMs + Math.ceil(bodyBytes / MIN_UPLOAD_BYTES_PER_MS));
  const signal = callerSignal
    ? AbortSignal.any([callerSignal, controller.signal])
    : controller.signal;

  return {
    signal,
    get expired() {
      return expired;
    },
    headersReceived() {
      clearTimeout(timer);
    },
    watchBody(body, onIdle) {
      const reader = body.getReader();
      let failIdle: (() => void) | undefined;
      return new ReadableStream<Uint8Array>({
        async pull(stream) {
          failIdle = () => stream.error(onIdle());
          arm(idleMs, failIdle);
          try {
            const { done, value } = await reader.read();
            clearTimeout(timer);
            if (done) stream.close();
            else stream.enqueue(value);
          } catch (error) {
            clearTimeout(timer);
            // The idle timer already errored the stream with a clearer message.
            if (!expired) stream.error(error);
          }
        },
        cancel(reason) {
          clearTimeout(timer);
          return reader.cancel(reason);
        },
      });
    },
    clear() {
      clearTimeout(timer);
    },
  };
}
