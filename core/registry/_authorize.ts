/**
 * Responds to a registry's 401 challenge: fetches a Bearer token from the challenge's realm, or
 * prepares Basic credentials, and stores the resulting `Authorization` header.
 *
 * @module
 */

import { RemoteError, TsbuildError } from "../errors.ts";
import { readLimited } from "./_body.ts";
import type { Challenge } from "./_challenge.ts";
import type { RegistryContext } from "./_context.ts";
import { networkReason, toTsbuildError } from "./_errors.ts";
import { startDeadline, watchResponse } from "./_idle_timeout.ts";
import type { RegistryCredentials } from "./docker_config.ts";

/** Details of the challenged request that `authorize()` needs. */
export interface AuthorizeArgs {
  registry: string;
  /** Scope the request needs, such as "repository:library/busybox:pull". */
  scope: string;
  challenges: Challenge[];
  /** Start of error messages, such as `Failed to resolve "busybox"`. */
  operation: string;
}

/**
 * Stores an `Authorization` header in `ctx.authorizations` that satisfies the challenges, and
 * returns whether it did. It returns false when nothing new can be tried: no Bearer or Basic
 * challenge, or a Basic challenge with no credentials or with the ones already rejected.
 *
 * @throws {RemoteError} when the token server cannot be reached or rejects the request.
 */
export async function authorize(ctx: RegistryContext, args: AuthorizeArgs): Promise<boolean> {
  const bearer = args.challenges.find((challenge) => challenge.scheme === "bearer");
  if (bearer?.params.realm) {
    const token = await fetchToken(ctx, args, bearer);
    ctx.authorizations.set(`${args.registry} ${args.scope}`, `Bearer ${token}`);
    return true;
  }

  const basic = args.challenges.find((challenge) => challenge.scheme === "basic");
  const credentials = basic ? await ctx.credentials(args.registry) : undefined;
  if (credentials === undefined) return false;
  const header = basicAuthorization(credentials);
  if (ctx.authorizations.get(`${args.registry} *`) === header) return false;
  ctx.authorizations.set(`${args.registry} *`, header);
  return true;
}

/** Returns the `Authorization` header stored for a registry and scope, if any. */
export function storedAuthorization(
  ctx: RegistryContext,
  registry: string,
  scope: string,
): string | undefined {
  return ctx.authorizations.get(`${registry} ${scope}`) ?? ctx.authorizations.get(`${registry} *`);
}

async function fetchToken(ctx: RegistryContext, args: AuthorizeArgs, challenge: Challenge) {
  const realm = challenge.params.realm;
  const url = tokenUrl(realm, args, challenge);
  const credentials = await ctx.credentials(args.registry);
  const headers: Record<string, string> = { Accept: "application/json" };
  if (credentials) headers.Authorization = basicAuthorization(credentials);

  let response: Response;
  const deadline = startDeadline(ctx.idleTimeoutMs, 0, ctx.signal);
  const seconds = deadline.headersMs / 1000;
  try {
    response = await ctx.fetch(url, { headers, signal: deadline.signal });
    await deadline.headersReceived(response);
  } catch (error) {
    deadline.clear();
    if (deadline.expired && !ctx.signal?.aborted) {
      throw new RemoteError(
        `${args.operation}: token server "${realm}" did not respond within ${seconds} s`,
        { cause: error, data: { registry: args.registry, realm } },
      );
    }
    throw toTsbuildError(
      error,
      ctx.signal,
      () =>
        new RemoteError(
          `${args.operation}: token server "${realm}" is unreachable: ${networkReason(error)}`,
          { cause: error, data: { registry: args.registry, realm } },
        ),
    );
  }
  response = watchResponse(response, deadline, {
    operation: args.operation,
    server: `token server "${realm}"`,
    data: { registry: args.registry, realm },
    signal: ctx.signal,
  });

  if (!response.ok) {
    await response.body?.cancel();
    const credentialNote = credentials ? " with the configured credentials" : " anonymously";
    throw new RemoteError(
      `${args.operation}: token server "${realm}" rejected the request${credentialNote}: ${response.status} ${response.statusText}`,
      { data: { registry: args.registry, realm, status: response.status } },
    );
  }
  return await readToken(response, args, realm);
}

function tokenUrl(realm: string, args: AuthorizeArgs, challenge: Challenge): URL {
  let url: URL;
  try {
    url = new URL(realm);
  } catch (error) {
    throw new RemoteError(
      `${args.operation}: registry "${args.registry}" sent an invalid token realm "${realm}"`,
      {
        cause: error,
        data: { registry: args.registry, realm },
      },
    );
  }
  // Only a web server may issue tokens: fetch() also reads file: and data: URLs, and a realm
  // pointing at a local file would send that file's "token" field back to the registry.
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new RemoteError(
      `${args.operation}: registry "${args.registry}" sent a token realm "${realm}" that is not an http or https URL`,
      { data: { registry: args.registry, realm } },
    );
  }
  if (challenge.params.service) url.searchParams.set("service", challenge.params.service);
  url.searchParams.append("scope", args.scope);
  const challengeScope = challenge.params.scope;
  if (challengeScope && challengeScope !== args.scope) {
    url.searchParams.append("scope", challengeScope);
  }
  return url;
}

/** Largest token response read; tokens are a few kilobytes. */
const MAX_TOKEN_RESPONSE_BYTES = 1024 * 1024;

async function readToken(response: Response, args: AuthorizeArgs, realm: string) {
  let body: { token?: unknown; access_token?: unknown };
  let bytes: Uint8Array;
  try {
    bytes = response.body
      ? await readLimited(response.body, MAX_TOKEN_RESPONSE_BYTES)
      : new Uint8Array();
  } catch (error) {
    // A stall or a cancellation already carries a message that describes the failure.
    if (error instanceof TsbuildError) throw error;
    const reason = error instanceof RangeError
      ? `sent a response larger than ${MAX_TOKEN_RESPONSE_BYTES} bytes`
      : "failed while sending its response";
    throw toTsbuildError(
      error,
      undefined,
      () =>
        new RemoteError(`${args.operation}: token server "${realm}" ${reason}`, {
          cause: error,
          data: { registry: args.registry, realm },
        }),
    );
  }
  try {
    body = JSON.parse(new TextDecoder().decode(bytes));
  } catch (error) {
    throw new RemoteError(
      `${args.operation}: token server "${realm}" sent a response that is not JSON`,
      {
        cause: error,
        data: { registry: args.registry, realm },
      },
    );
  }
  const token = body?.token ?? body?.access_token;
  if (typeof token !== "string" || token === "") {
    throw new RemoteError(`${args.operation}: token server "${realm}" sent no token`, {
      data: { registry: args.registry, realm },
    });
  }
  return token;
}

function basicAuthorization(credentials: RegistryCredentials): string {
  const bytes = new TextEncoder().encode(`${credentials.username}:${credentials.password}`);
  return `Basic ${btoa(String.fromCharCode(...bytes))}`;
}
