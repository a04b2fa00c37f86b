/**
 * The HTTP client isomorphic-git talks through: Deno's fetch with the build's
 * credentials and abort signal, turning transport failures into
 * {@link GitHttpError}s whose text never contains a credential.
 *
 * @module
 */

import type { GitHttpRequest, GitHttpResponse, HttpClient } from "isomorphic-git";
import { redactUrls } from "./_git_url.ts";

/** A failed request to a git server; `state` is the text after the colon of a message. */
export class GitHttpError extends Error {
  readonly state: string;
  /** The HTTP status, or 0 when the server could not be reached. */
  readonly status: number;
  constructor(state: string, status: number, options: { cause?: unknown } = {}) {
    super(state, options);
    this.name = "GitHttpError";
    this.state = state;
    this.status = status;
  }
}

/** Options for {@link createGitHttpClient}. */
export interface GitHttpClientOptions {
  /** The value of the Authorization header, or undefined to send none. */
  authorization?: string;
  /** The name of the setting the credentials came from, for the hint in an authentication error. */
  authorizationSource?: string;
  signal: AbortSignal;
  /** Called with the size of each chunk of response body received. */
  onBytes?: (bytes: number) => void;
  /**
   * Called with the protocol version of each upload-pack advertisement
   * (`info/refs`) received: 2 when it offers protocol v2 with shallow fetches.
   */
  onAdvertisement?: (version: 1 | 2) => void;
}

/** Returns an isomorphic-git HTTP client that sends `authorization` and stops when `signal` aborts. */
export function createGitHttpClient(options: GitHttpClientOptions): HttpClient {
  return {
    async request(request: GitHttpRequest): Promise<GitHttpResponse> {
      const headers = new Headers(request.headers ?? {});
      if (options.authorization) headers.set("authorization", options.authorization);
      const body = request.body ? await collect(request.body) : undefined;

      let response: Response;
      try {
        response = await fetch(request.url, {
          method: request.method ?? "GET",
          headers,
          body,
          signal: options.signal,
        });
      } catch (error) {
        options.signal.throwIfAborted();
        throw new GitHttpError(`the server is unreachable (${transportReason(error)})`, 0, {
          cause: error,
        });
      }
      if (response.status >= 400) {
        await response.body?.cancel();
        throw statusError(response.status, response.statusText, options);
      }
      return {
        url: response.url || request.url,
        method: request.method,
        statusCode: response.status,
        statusMessage: response.statusText,
        headers: Object.fromEntries(response.headers),
        body: countBytes(response.body, options.onBytes, advertisementWatcher(request, options)),
      };
    },
  };
}

function statusError(
  status: number,
  statusText: string,
  options: GitHttpClientOptions,
): GitHttpError {
  if (status === 401 || status === 403) {
    const state = options.authorization
      ? `authentication refused (HTTP ${status}); check the credentials from ${
        options.authorizationSource ?? "the build"
      }`
      : `authentication required (HTTP ${status}); pass a token with --secret id=GIT_AUTH_TOKEN,env=VAR or set TSBUILD_GIT_AUTH_TOKEN`;
    return new GitHttpError(state, status);
  }
  if (status === 404) {
    return new GitHttpError("repository not found (HTTP 404); check the URL", status);
  }
  return new GitHttpError(`the server responded with HTTP ${status} ${statusText}`.trim(), status);
}

// Fetch errors nest the OS error in their message, e.g. "error sending request
// for url (…): client error (Connect): tcp connect error: Connection refused
// (os error 111))"; the innermost part names the condition without the URL.
function transportReason(error: unknown): string {
  const cause = (error as { cause?: unknown })?.cause;
  const message = String(cause instanceof Error ? cause.message : (error as Error)?.message);
  let reason = message.split(": ").at(-1)!.trim();
  const count = (text: string, char: string) => text.split(char).length - 1;
  while (reason.endsWith(")") && count(reason, ")") > count(reason, "(")) {
    reason = reason.slice(0, -1);
  }
  return redactUrls(reason) || "connection failed";
}

async function collect(
  chunks: AsyncIterableIterator<Uint8Array>,
): Promise<Uint8Array<ArrayBuffer>> {
  const parts: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of chunks) {
    parts.push(chunk);
    size += chunk.byteLength;
  }
  const joined = new Uint8Array(size);
  let offset = 0;
  for (const part of parts) {
    joined.set(part, offset);
    offset += part.byteLength;
  }
  return joined;
}

async function* countBytes(
  body: ReadableStream<Uint8Array> | null,
  onBytes: ((bytes: number) => void) | undefined,
  onFirstChunk: ((chunk: Uint8Array) => void) | undefined,
): AsyncIterableIterator<Uint8Array> {
  if (!body) return;
  let first = true;
  for await (const chunk of body) {
    if (first) onFirstChunk?.(chunk);
    first = false;
    onBytes?.(chunk.byteLength);
    yield chunk;
  }
}

// A v2 advertisement opens with the pkt-line "version 2" and lists the fetch
// command's features on a line such as "fetch=shallow wait-for-done". It is
// small enough to arrive in the first chunk.
function advertisementWatcher(
  request: GitHttpRequest,
  options: GitHttpClientOptions,
): ((chunk: Uint8Array) => void) | undefined {
  const report = options.onAdvertisement;
  if (!report || !/\/info\/refs\?service=git-upload-pack$/.test(request.url)) return undefined;
  return (chunk) => {
    const text = new TextDecoder().decode(chunk);
    const fetch = /^[0-9a-f]{4}fetch=([^\n]*)$/m.exec(text);
    const v2 = text.startsWith("000eversion 2\n") && fetch?.[1].split(" ").includes("shallow");
    report(v2 ? 2 : 1);
  };
}
