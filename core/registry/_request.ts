/**
 * Sends one distribution API request: picks the scheme, attaches stored authorization,
 * responds to a 401 challenge once, and retries GET and HEAD after 5xx responses and network
 * errors.
 *
 * @module
 */

import { RemoteError } from "../errors.ts";
import type { ImageReference } from "../oci/reference.ts";
import { authorize, storedAuthorization } from "./_authorize.ts";
import { parseChallenges } from "./_challenge.ts";
import type { RegistryContext } from "./_context.ts";
import { networkReason, toTsbuildError } from "./_errors.ts";
import { registryBaseUrl } from "./endpoint.ts";
import { startDeadline, watchResponse } from "./_idle_timeout.ts";

/** One request to a registry. */
export interface RegistryRequest {
  method: "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE";
  /** The image the request is about; its registry and repository pick host and scope. */
  reference: ImageReference;
  /** A path starting with "/v2/", or an absolute URL such as an upload `Location`. */
  url: string;
  headers?: Record<string, string>;
  /** Returns the body; called again for each attempt, so it must be repeatable. */
  body?: () => Uint8Array;
  /** Whether the request needs push access to the repository. */
  push?: boolean;
  /** Start of error messages, such as `Failed to resolve "busybox"`. */
  operation: string;
}

const RETRY_STATUSES = new Set([429, 500, 502, 503, 504]);

/**
 * Sends `request` and returns the response, whatever its status. A 401 comes back only when
 * no credentials could satisfy the challenge.
 *
 * @throws {RemoteError} when the registry cannot be reached, after the retries.
 * @throws {CancelledError} when the client's signal is aborted.
 */
export async function sendRequest(
  ctx: RegistryContext,
  request: RegistryRequest,
): Promise<Response> {
  const { registry, repository } = request.reference;
  const scope = `repository:${repository}:${request.push ? "pull,push" : "pull"}`;

  const response = await sendWithRetries(ctx, request, scope);
  if (response.status !== 401) return response;

  const challenges = parseChallenges(response.headers.get("www-authenticate") ?? "");
  const operation = request.operation;
  if (!await authorize(ctx, { registry, scope, challenges, operation })) return response;
  await response.body?.cancel();
  return await sendWithRetries(ctx, request, scope);
}

/** Returns the absolute URL of a request path or of a `Location` header value. */
export function requestUrl(ctx: RegistryContext, registry: string, url: string): string {
  return new URL(url, registryBaseUrl(registry, ctx.insecureRegistries)).href;
}

async function sendWithRetries(
  ctx: RegistryContext,
  request: RegistryRequest,
  scope: string,
): Promise<Response> {
  const registry = request.reference.registry;
  const url = requestUrl(ctx, registry, request.url);
  const idempotent = request.method === "GET" || request.method === "HEAD";
  // An upload Location may point at other storage; the registry's token is not sent there.
  const sameOrigin = new URL(url).origin === new URL(requestUrl(ctx, registry, "/")).origin;
  const maxAttempts = idempotent ? ctx.retryDelaysMs.length + 1 : 1;

  for (let attempt = 1;; attempt++) {
    const headers = new Headers(request.headers);
    const authorization = sameOrigin ? storedAuthorization(ctx, registry, scope) : undefined;
    if (authorization) headers.set("Authorization", authorization);
    // TypeScript types BodyInit with Uint8Array<ArrayBuffer> only, but fetch() accepts any view.
    const body = request.body?.() as Uint8Array<ArrayBuffer> | undefined;
    const deadline = startDeadline(ctx.idleTimeoutMs, body?.byteLength ?? 0, ctx.signal);
    const init = { method: request.method, headers, body, signal: deadline.signal };

    try {
      const response = await ctx.fetch(url, init);
      await deadline.headersReceived(response);
      if (attempt === maxAttempts || !RETRY_STATUSES.has(response.status)) {
        return watchResponse(response, deadline, {
          operation: request.operation,
          server: `registry "${registry}"`,
          data: { registry, url: response.url },
          signal: ctx.signal,
        });
      }
      deadline.clear();
      await response.body?.cancel();
    } catch (error) {
      deadline.clear();
      const attempts = attempt > 1 ? ` (attempt ${attempt} of ${maxAttempts})` : "";
      const failure = deadline.expired && !ctx.signal?.aborted
        ? new RemoteError(
          `${request.operation}: registry "${registry}" did not respond to ${request.method} ${
            new URL(url).pathname
          } within ${deadline.headersMs / 1000} s${attempts}`,
          { cause: error, data: { registry, url } },
        )
        : toTsbuildError(error, ctx.signal, () =>
          new RemoteError(
            `${request.operation}: registry "${registry}" is unreachable at "${
              new URL(url).origin
            }": ${networkReason(error)}`,
            { cause: error, data: { registry, url } },
          ));
      if (failure.code === "CANCELLED" || attempt === maxAttempts) throw failure;
    }
    await sleep(ctx.retryDelaysMs[attempt - 1], ctx.signal);
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}
