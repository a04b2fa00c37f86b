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
import { toTsbuildError } from "./_errors.ts";
import { registryBaseUrl } from "./endpoint.ts";

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
    const init = { method: request.method, headers, body, signal: ctx.signal };

    try {
      const response = await ctx.fetch(url, init);
      if (attempt === maxAttempts || !RETRY_STATUSES.has(response.status)) return response;
      await response.body?.cancel();
    } catch (error) {
      const failure = toTsbuildError(error, ctx.signal, () =>
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

/**
 * Returns the innermost cause of a failed fetch, such as "connection refused
 * (os error 111)": Deno nests it in a "fetch failed" error as the last part of
 * a message that also repeats the URL.
 */
export function networkReason(error: unknown): string {
  let inner = error;
  while (inner instanceof Error && inner.cause !== undefined) inner = inner.cause;
  const message = inner instanceof Error ? inner.message : String(inner);
  const last = message.slice(message.lastIndexOf(": ") + 1).trim() || message;
  return last.charAt(0).toLowerCase() + last.slice(1);
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
