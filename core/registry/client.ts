/**
 * A client for the OCI distribution API: resolves image references, fetches and pushes blobs
 * and manifests, with Docker's credentials, scheme rules and token authentication.
 *
 * @module
 */

import type { Digest } from "../digest.ts";
import { hostPlatform, type Platform } from "../oci/platform.ts";
import { formatReference, type ImageReference, parseReference } from "../oci/reference.ts";
import { openBlob } from "./_blob.ts";
import { ContentCache } from "./_content_cache.ts";
import { MAX_TIMER_MS } from "./_idle_timeout.ts";
import type { RegistryContext } from "./_context.ts";
import { fetchManifestBytes } from "./_manifest.ts";
import { pushBlob, type PushBlobResult, pushManifest } from "./_push.ts";
import { resolveImage } from "./_resolve.ts";
import { type CredentialMap, readDockerCredentials } from "./docker_config.ts";
import type { Descriptor, FetchedManifest, ResolvedImage } from "./types.ts";

export type { PushBlobResult } from "./_push.ts";

/** Settings of a registry client. */
export interface RegistryClientOptions {
  /**
   * Registry hosts reached over plain HTTP although they are not on loopback, such as
   * "registry.lan:5000" (or "registry.lan" for every port).
   * @default [] — loopback registries use HTTP anyway, as with Docker, and every other
   * registry uses HTTPS unless the user lists it here.
   */
  insecureRegistries?: string[];
  /**
   * Docker config.json to read credentials from, or the folder that contains it.
   * @default "$DOCKER_CONFIG/config.json", or "~/.docker/config.json" when DOCKER_CONFIG is
   * unset — the file `docker login` writes, so existing logins work unchanged.
   */
  dockerConfigPath?: string;
  /**
   * The fetch function all requests go through.
   * @default globalThis.fetch — tests and proxies may pass their own.
   */
  fetch?: typeof fetch;
  /**
   * Cancels every request of this client when aborted; calls then reject with CancelledError.
   * @default undefined — requests run until they finish or fail.
   */
  signal?: AbortSignal;
  /**
   * Largest blob uploaded in one request, and the size of each PATCH request of a chunked
   * upload, in bytes. At most this much of a blob is held in memory while it is pushed.
   * @default 8 MiB — a registry that passes chunks on to S3 multipart uploads needs parts of
   * at least 5 MiB except the last (an S3 limit), and larger chunks hold more memory.
   */
  uploadChunkSize?: number;
  /**
   * Maximum wait, in milliseconds, for a registry's response headers (plus time for the request
   * body at 32 KiB/s) or for the next chunk of a response body; a body that has taken longer
   * than this must also average 1 KiB/s. A request that waits longer fails with a RemoteError
   * naming the registry; GET and HEAD are retried first.
   * @default 60000
   */
  idleTimeoutMs?: number;
}

/** A registry client; every method takes a parsed reference or a reference string. */
export interface RegistryClient {
  /**
   * Resolves a reference to the manifest for `platform`, choosing from an index or manifest
   * list when the reference names one, and fetches the image config.
   *
   * @param platform The platform to choose; defaults to `hostPlatform()`.
   * @throws {NotFoundError} when the tag or digest is unknown, or the index has no manifest
   * for the platform (the message lists the platforms it has).
   * @throws {DigestMismatchError} when fetched bytes do not match a digest.
   * @throws {RemoteError} when the registry is unreachable or responds with an error.
   */
  resolve(reference: ImageReference | string, platform?: Platform): Promise<ResolvedImage>;

  /** Fetches the manifest or index a reference names, as stored, without choosing a platform. */
  fetchManifest(reference: ImageReference | string): Promise<FetchedManifest>;

  /**
   * Fetches a blob from the reference's repository. The returned stream errors with a
   * DigestMismatchError, naming the digest, when its bytes do not match the descriptor.
   */
  fetchBlob(
    reference: ImageReference | string,
    descriptor: Descriptor,
  ): Promise<ReadableStream<Uint8Array>>;

  /**
   * Uploads a blob unless the repository has it already. `open` may be called once or not
   * at all.
   */
  pushBlob(
    reference: ImageReference | string,
    descriptor: Descriptor,
    open: () => ReadableStream<Uint8Array>,
  ): Promise<PushBlobResult>;

  /**
   * Uploads a manifest or index under the reference's tag (or its digest when it has no tag)
   * and returns its digest. The blobs it names must be pushed first.
   */
  pushManifest(
    reference: ImageReference | string,
    bytes: Uint8Array,
    mediaType: string,
  ): Promise<Digest>;
}

const DEFAULT_UPLOAD_CHUNK_SIZE = 8 * 1024 * 1024;
const RETRY_DELAYS_MS = [200, 800];
const DEFAULT_IDLE_TIMEOUT_MS = 60_000;

/**
 * Creates a registry client. Registries on loopback and those in `insecureRegistries` are
 * reached over HTTP, all others over HTTPS; "docker.io" is served by registry-1.docker.io.
 *
 * @example Resolving an image from a local registry
 * ```ts ignore
 * const client = createRegistryClient();
 * const image = await client.resolve("127.0.0.1:5000/busybox:1");
 * console.log(image.digest, image.config.config?.Cmd);
 * ```
 *
 * @throws {RangeError} when `uploadChunkSize` is not a positive integer.
 */
export function createRegistryClient(options: RegistryClientOptions = {}): RegistryClient {
  const ctx = createContext(options);
  const parse = (reference: ImageReference | string) =>
    typeof reference === "string" ? parseReference(reference) : reference;

  return {
    resolve: (reference, platform = hostPlatform()) =>
      resolveImage(ctx, parse(reference), platform),
    fetchManifest: (reference) => {
      const parsed = parse(reference);
      const operation = `Failed to fetch manifest "${formatReference(parsed)}"`;
      return fetchManifestBytes(ctx, parsed, parsed.digest ?? parsed.tag!, operation);
    },
    fetchBlob: (reference, descriptor) => {
      const parsed = parse(reference);
      const operation = `Failed to fetch ${blobKind(descriptor)} "${descriptor.digest}" of "${
        formatReference(parsed)
      }"`;
      return openBlob(ctx, parsed, descriptor, operation);
    },
    pushBlob: (reference, descriptor, open) => pushBlob(ctx, parse(reference), descriptor, open),
    pushManifest: (reference, bytes, mediaType) =>
      pushManifest(ctx, parse(reference), bytes, mediaType),
  };
}

function createContext(options: RegistryClientOptions): RegistryContext {
  const uploadChunkSize = options.uploadChunkSize ?? DEFAULT_UPLOAD_CHUNK_SIZE;
  if (!Number.isSafeInteger(uploadChunkSize) || uploadChunkSize <= 0) {
    throw new RangeError(
      `Invalid uploadChunkSize ${uploadChunkSize}: expected a positive integer number of bytes`,
    );
  }

  const idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  if (!Number.isSafeInteger(idleTimeoutMs) || idleTimeoutMs <= 0 || idleTimeoutMs > MAX_TIMER_MS) {
    throw new RangeError(
      `Invalid idleTimeoutMs ${idleTimeoutMs}: expected a whole number of milliseconds from 1 to ${MAX_TIMER_MS}`,
    );
  }

  let credentialMap: Promise<CredentialMap> | undefined;
  return {
    fetch: options.fetch ?? globalThis.fetch,
    signal: options.signal,
    insecureRegistries: [...(options.insecureRegistries ?? [])],
    uploadChunkSize,
    retryDelaysMs: RETRY_DELAYS_MS,
    idleTimeoutMs,
    credentials: async (registry) => {
      credentialMap ??= readDockerCredentials(options.dockerConfigPath);
      return (await credentialMap).get(registry);
    },
    authorizations: new Map(),
    contents: new ContentCache(),
  };
}

function blobKind(descriptor: Descriptor): string {
  if (/layer|rootfs/.test(descriptor.mediaType)) return "layer";
  if (/config/.test(descriptor.mediaType)) return "config";
  return "blob";
}
