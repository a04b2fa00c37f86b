/**
 * A git remote as the plugin talks to it: its URL, an HTTP client carrying
 * the build's credentials, and the ref listing, with failures turned into
 * tsbuild errors that name the URL and the reference.
 *
 * @module
 */

import { isomorphicGit } from "./_git_library.ts";
import type { HttpClient } from "isomorphic-git";
import type { PluginContext } from "../../mod.ts";
import { DigestMismatchError, RemoteError } from "../../core/errors.ts";
import { findAuthorization } from "./_git_auth.ts";
import { rememberProtocol } from "./_git_fetch.ts";
import { createGitHttpClient, GitHttpError } from "./_git_http.ts";
import { FetchRefusedError } from "./_git_fetch_v2.ts";
import type { RemoteRef } from "./_git_refs.ts";
import type { GitSource } from "./_git_url.ts";

/** A remote ready for requests. */
export interface GitRemote {
  source: GitSource;
  http: HttpClient;
  /** `"URL" at "ref"`, for messages; the URL never has credentials. */
  label: string;
}

/** Returns a remote for `source` with the credentials the build provides for its host. */
export async function connectRemote(
  source: GitSource,
  context: PluginContext,
  onBytes?: (bytes: number) => void,
): Promise<GitRemote> {
  const authorization = await findAuthorization(source, context);
  const http = createGitHttpClient({
    authorization: authorization?.header,
    authorizationSource: authorization?.source,
    signal: context.signal,
    onBytes,
    onAdvertisement: (version) => rememberProtocol(source.url, version),
  });
  return { source, http, label: `"${source.url}" at "${source.ref}"` };
}

/** Lists the remote's refs with protocol v2 `ls-refs` where offered, else the v1 advertisement. */
export async function listRemoteRefs(remote: GitRemote): Promise<RemoteRef[]> {
  try {
    return await (await isomorphicGit()).listServerRefs({
      http: remote.http,
      url: remote.source.url,
      protocolVersion: 2,
      symrefs: true,
      peelTags: true,
    });
  } catch (error) {
    const action =
      `Failed to list the references of "${remote.source.url}" for "${remote.source.ref}"`;
    throw remoteFailure(action, remote, error, { damaged: "ref listing" });
  }
}

/**
 * Wraps a failure of a request to the remote; `action` is the start of the
 * message, e.g. `Failed to fetch "URL" at "main"`. Transport and HTTP
 * failures and a server's "ERR" line become a {@link RemoteError}. A
 * `RangeError` from tsbuild's pack reading, or any error isomorphic-git raised
 * while parsing the server's response, means the response was damaged: a
 * {@link DigestMismatchError} for pack data, a {@link RemoteError} for a ref
 * listing. Other errors, such as a full disk or a cancelled build, pass
 * through unchanged.
 */
export function remoteFailure(
  action: string,
  remote: GitRemote,
  error: unknown,
  options: { damaged: "pack data" | "ref listing" },
): unknown {
  const data = { url: remote.source.url, ref: remote.source.ref };
  const known = findHttpError(error);
  if (known) {
    return new RemoteError(`${action}: ${known.state}`, {
      cause: error,
      data: { ...data, status: known.status },
    });
  }
  if (error instanceof FetchRefusedError) {
    return new RemoteError(`${action}: the server rejected the request: ${error.message}`, {
      cause: error,
      data,
    });
  }
  if (!(error instanceof RangeError) && !isLibraryError(error)) return error;
  const message = `${action}: corrupt ${options.damaged} from the server: ${libraryMessage(error)}`;
  return options.damaged === "pack data"
    ? new DigestMismatchError(message, { cause: error, data })
    : new RemoteError(message, { cause: error, data });
}

// isomorphic-git's errors name the API call that raised them in `caller`.
function isLibraryError(error: unknown): boolean {
  const caller = (error as { caller?: unknown })?.caller;
  return typeof caller === "string" && caller.startsWith("git.");
}

/**
 * Returns the useful part of an isomorphic-git error's message: its
 * InternalError wraps the cause in a request to report a bug, and keeps the
 * cause in `data.message`.
 */
export function libraryMessage(error: unknown): string {
  const inner = (error as { data?: { message?: unknown } })?.data?.message;
  if (typeof inner === "string") return inner;
  return (error as Error)?.message ?? String(error);
}

function findHttpError(error: unknown): GitHttpError | undefined {
  for (let current = error; current; current = (current as Error).cause) {
    if (current instanceof GitHttpError) return current;
    if (!(current instanceof Error)) break;
  }
  return undefined;
}
