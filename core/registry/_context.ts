/**
 * The resolved settings and shared state that every request of one registry client uses.
 *
 * @module
 */

import type { ContentCache } from "./_content_cache.ts";
import type { RegistryCredentials } from "./docker_config.ts";

/** A registry client's settings with every default filled in, plus its caches. */
export interface RegistryContext {
  fetch: typeof fetch;
  signal?: AbortSignal;
  insecureRegistries: readonly string[];
  /** Size of each PATCH request of a chunked upload, and the largest monolithic upload. */
  uploadChunkSize: number;
  /** Delays before the second and later attempts of a GET or HEAD, in milliseconds. */
  retryDelaysMs: readonly number[];
  /** Maximum wait for response headers or for the next chunk of a body, in milliseconds. */
  idleTimeoutMs: number;
  /** Returns the credentials configured for a registry host, if any. */
  credentials(registry: string): Promise<RegistryCredentials | undefined>;
  /** `Authorization` header values by `registry + " " + scope`, or `registry + " *"` for Basic. */
  authorizations: Map<string, string>;
  /** Manifests and small blobs already fetched and verified, by digest. */
  contents: ContentCache;
}
