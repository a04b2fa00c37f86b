/**
 * Time limits on registry requests, so that a registry that stops responding,
 * or sends a trickle, fails the build with its name instead of holding it.
 *
 * @module
 */

import { RemoteError } from "../errors.ts";
import { networkReason, toTsbuildError } from "./_errors.ts";

/**
 * Slowest upload rate allowed for before a request counts as stalled: 32 KiB a second,
 * about a quarter of a megabit, so slow links still push 8 MiB chunks.
 */
const MIN_UPLOAD_BYTES_PER_MS = 32;

/**
 * Slowest average rate a response body may keep once the wait for it passed the idle limit:
 * 1 KiB a second. A body that trickles a byte at a time stays under the idle limit between
 * chunks, and this ends it.
 */
const MIN_DOWNLOAD_BYTES_PER_MS = 1;

/** Largest delay `setTimeout` takes; longer ones fire at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** Why a response body stopped: it paused too long, or it came too slowly. */
export type BodyStall = { kind: "idle"; ms: number } | { kind: "slow"; bytes: number; ms: number };

/** A deadline for one request's response headers, then for its body. */
export interface RequestDeadline {
  /** Aborts the request when the deadline passes, and with the caller's own signal. */
  signal: AbortSignal;
  /** Whether the deadline, not the caller, aborted the request. */
  readonly expired: boolean;
  /** How long the response headers may take, in milliseconds. */
  readonly headersMs: number;
  /**
   * Stops the header deadline once `response`'s headers arrived; the body gets its own limits.
   * Throws a TimeoutError when the deadline passed just as they came, because the request,
   * body included, is aborted already.
   */
  headersReceived(response: Response): Promise<void>;
  /**
   * Returns `body` with an idle limit between chunks and a floor on its average rate. A stall
   * errors the stream with `onStall(...)`, any other failure with `onError(error)`.
   */
  watchBody(
    body: ReadableStream<Uint8Array>,
    onStall: (stall: BodyStall) => Error,
    onError: (error: unknown) => Error,
  ): ReadableStream<Uint8Array>;
  /** Clears the timers. */
  clear(): void;
}

/**
 * Starts the deadline of a request that sends `bodyBytes`: the response headers must arrive
 * within `idleMs` plus the time the body takes at the slowest allowed upload rate.
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
  const headersMs = Math.min(idleMs + Math.ceil(bodyBytes / MIN_UPLOAD_BYTES_PER_MS), MAX_TIMER_MS);
  arm(headersMs);
  const signal = callerSignal
    ? AbortSignal.any([callerSignal, controller.signal])
    : controller.signal;

  return {
    signal,
    get expired() {
      return expired;
    },
    headersMs,
    async headersReceived(response) {
      clearTimeout(timer);
      if (!expired) return;
      await response.body?.cancel().catch(() => {});
      throw new DOMException("The server did not respond in time", "TimeoutError");
    },
    watchBody(body, onStall, onError) {
      const reader = body.getReader();
      // Only time spent waiting for the server counts, so a consumer that reads slowly or late
      // does not make the server look slow.
      let waited = 0;
      let received = 0;
      return new ReadableStream<Uint8Array>({
        async pull(stream) {
          arm(idleMs, () => stream.error(onStall({ kind: "idle", ms: idleMs })));
          const requested = Date.now();
          try {
            const { done, value } = await reader.read();
            clearTimeout(timer);
            if (done) return stream.close();
            received += value.byteLength;
            waited += Date.now() - requested;
            if (waited > idleMs && received < waited * MIN_DOWNLOAD_BYTES_PER_MS) {
              expired = true;
              controller.abort(new DOMException("The registry sent too slowly", "TimeoutError"));
              return stream.error(onStall({ kind: "slow", bytes: received, ms: waited }));
            }
            stream.enqueue(value);
          } catch (error) {
            clearTimeout(timer);
            // A request aborted after its headers also fails here. Erroring a stream that the
            // idle timer errored already changes nothing, so the timer's message stays.
            stream.error(
              expired ? onStall({ kind: "idle", ms: idleMs }) : onError(error),
            );
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

/** Describes a stalled body, after the name of the server that sent it. */
export function describeStall(stall: BodyStall): string {
  return stall.kind === "idle"
    ? `sent nothing for ${stall.ms / 1000} s`
    : `sent only ${stall.bytes} bytes in ${(stall.ms / 1000).toFixed(1)} s`;
}

/** The names a watched response puts in its messages: the operation, the sender, error data. */
export interface ResponseLabels {
  /** Start of every message, such as `Failed to resolve "busybox"`. */
  operation: string;
  /** The sender, such as `registry "ghcr.io"` or `token server "https://auth/token"`. */
  server: string;
  data: Record<string, unknown>;
  /** The caller's signal: a failure after it aborted is a cancellation. */
  signal?: AbortSignal;
}

/**
 * Returns `response` with the deadline's limits on its body, keeping its status, headers and
 * URL. A stalled or broken body then fails with a RemoteError naming the sender.
 */
export function watchResponse(
  response: Response,
  deadline: RequestDeadline,
  labels: ResponseLabels,
): Response {
  if (response.body === null) {
    deadline.clear();
    return response;
  }
  const { operation, server, data, signal } = labels;
  const body = deadline.watchBody(
    response.body,
    (stall) => new RemoteError(`${operation}: ${server} ${describeStall(stall)}`, { data }),
    (error) =>
      toTsbuildError(error, signal, () =>
        new RemoteError(
          `${operation}: ${server} stopped sending its response: ${networkReason(error)}`,
          { cause: error, data },
        )),
  );
  const watched = new Response(body, {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
  // A Response built by hand has an empty url; upload Locations resolve against it.
  Object.defineProperty(watched, "url", { value: response.url });
  return watched;
}
