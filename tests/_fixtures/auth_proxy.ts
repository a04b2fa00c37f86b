/**
 * Test fixture: a loopback proxy in front of a real registry that demands authentication,
 * either Bearer tokens from its own token endpoint (as Docker Hub does) or Basic credentials.
 *
 * @module
 */

import { type LoopbackServer, startLoopbackServer } from "./loopback_server.ts";

/** Settings of `startAuthProxy()`. */
export interface AuthProxyOptions {
  /** "127.0.0.1:PORT" of the registry that authorized requests go to. */
  upstream: string;
  /** The only credentials accepted. */
  username: string;
  password: string;
  /** "bearer" sends a token challenge, "basic" requires the credentials on every request. */
  scheme?: "bearer" | "basic";
  /** Whether the token endpoint hands out pull tokens without credentials. */
  allowAnonymousPull?: boolean;
}

/** One request the token endpoint received. */
export interface TokenRequest {
  service: string | null;
  scopes: string[];
  /** Whether the request carried the accepted credentials. */
  authenticated: boolean;
}

/** A running proxy; `host` goes where a registry host goes in an image reference. */
export interface AuthProxy extends LoopbackServer {
  tokenRequests: TokenRequest[];
  /** Authorization header values of requests that were rejected with 401. */
  rejectedAuthorizations: (string | null)[];
}

interface Grant {
  /** Repository name → actions granted on it. */
  repositories: Map<string, Set<string>>;
}

const SERVICE = "tsbuild-test-registry";

/** Starts an authenticating proxy on 127.0.0.1 in front of `options.upstream`. */
export function startAuthProxy(options: AuthProxyOptions): AuthProxy {
  const grants = new Map<string, Grant>();
  const tokenRequests: TokenRequest[] = [];
  const rejectedAuthorizations: (string | null)[] = [];
  const expectedBasic = `Basic ${btoa(`${options.username}:${options.password}`)}`;

  let host = "";
  const server = startLoopbackServer(async (request) => {
    const url = new URL(request.url);
    if (url.pathname === "/token") return issueToken(request, url);
    if (!authorized(request, url)) {
      rejectedAuthorizations.push(request.headers.get("authorization"));
      return challenge(url);
    }
    return await forward(request, url, options.upstream, host);
  });
  host = server.host;

  function issueToken(request: Request, url: URL): Response {
    const authorization = request.headers.get("authorization");
    const authenticated = authorization === expectedBasic;
    const scopes = url.searchParams.getAll("scope");
    tokenRequests.push({ service: url.searchParams.get("service"), scopes, authenticated });
    if (authorization !== null && !authenticated) {
      return Response.json({ details: "incorrect username or password" }, { status: 401 });
    }

    const grant: Grant = { repositories: new Map() };
    for (const scope of scopes) {
      const [type, name, actions] = scope.split(":");
      if (type !== "repository") continue;
      const allowed = actions.split(",").filter((action) =>
        authenticated || (options.allowAnonymousPull && action === "pull")
      );
      const granted = grant.repositories.get(name) ?? new Set<string>();
      for (const action of allowed) granted.add(action);
      grant.repositories.set(name, granted);
    }
    const token = crypto.randomUUID();
    grants.set(token, grant);
    return Response.json({ token, expires_in: 300 });
  }

  function authorized(request: Request, url: URL): boolean {
    const authorization = request.headers.get("authorization");
    if (options.scheme === "basic") return authorization === expectedBasic;
    if (url.pathname === "/v2/" || url.pathname === "/v2") return authorization !== null;

    const grant = grants.get(authorization?.replace(/^Bearer /, "") ?? "");
    const repository = repositoryOf(url.pathname);
    const action = request.method === "GET" || request.method === "HEAD" ? "pull" : "push";
    return grant?.repositories.get(repository)?.has(action) ?? false;
  }

  function challenge(url: URL): Response {
    const header = options.scheme === "basic"
      ? `Basic realm="${SERVICE}"`
      : `Bearer realm="http://${host}/token",service="${SERVICE}",scope="repository:${
        repositoryOf(url.pathname)
      }:pull"`;
    const errors = [{ code: "UNAUTHORIZED", message: "authentication required" }];
    return Response.json({ errors }, { status: 401, headers: { "WWW-Authenticate": header } });
  }

  return { ...server, tokenRequests, rejectedAuthorizations };
}

// "/v2/library/busybox/manifests/1" → "library/busybox".
function repositoryOf(pathname: string): string {
  const match = /^\/v2\/(.+?)\/(?:manifests|blobs|tags)\//.exec(pathname);
  return match?.[1] ?? "";
}

async function forward(request: Request, url: URL, upstream: string, host: string) {
  const headers = new Headers(request.headers);
  headers.delete("authorization");
  headers.delete("host");
  const body = request.body ? new Uint8Array(await request.arrayBuffer()) : undefined;
  const response = await fetch(`http://${upstream}${url.pathname}${url.search}`, {
    method: request.method,
    headers,
    body,
    redirect: "manual",
  });

  // The registry builds upload Locations from the host it was called at; clients must come
  // back through the proxy, so the upstream host is replaced.
  const responseHeaders = new Headers(response.headers);
  const location = responseHeaders.get("location");
  if (location) responseHeaders.set("location", location.replace(upstream, host));
  return new Response(request.method === "HEAD" ? null : response.body, {
    status: response.status,
    statusText: response.statusText,
    headers: responseHeaders,
  });
}
