/**
 * A client's memory of manifests and small blobs it fetched and verified,
 * by repository and digest. Content named by its digest never changes, so a
 * build that resolves the same pinned image several times (the frontend, then
 * the solver's resolve and load of the source) fetches it from the registry once.
 *
 * @module
 */

import type { Digest } from "../digest.ts";
import type { ImageReference } from "../oci/reference.ts";

/** Maximum number of entries kept; the oldest goes first. A build names a handful of images. */
const MAX_ENTRIES = 64;

/** Maximum size of a blob kept, in bytes; image configs are far smaller. */
export const MAX_CACHED_BLOB_BYTES = 1024 * 1024;

/** One verified object: its bytes and, for a manifest, its media type. */
export interface CachedContent {
  bytes: Uint8Array;
  mediaType?: string;
}

/** Verified content by registry, repository, kind and digest. */
export class ContentCache {
  readonly #entries = new Map<string, CachedContent>();

  /** Returns a copy of the content stored for `digest`, or undefined. */
  get(reference: ImageReference, kind: "manifest" | "blob", digest: Digest) {
    const entry = this.#entries.get(cacheKey(reference, kind, digest));
    return entry && { ...entry, bytes: entry.bytes.slice() };
  }

  /** Stores a copy of `content`, whose bytes were checked against `digest`. */
  set(
    reference: ImageReference,
    kind: "manifest" | "blob",
    digest: Digest,
    content: CachedContent,
  ) {
    const key = cacheKey(reference, kind, digest);
    this.#entries.delete(key);
    this.#entries.set(key, { ...content, bytes: content.bytes.slice() });
    if (this.#entries.size > MAX_ENTRIES) {
      this.#entries.delete(this.#entries.keys().next().value!);
    }
  }
}

// The repository is part of the key: a registry may serve a digest in one repository and not
// in another, for instance when they have different access rights.
function cacheKey(reference: ImageReference, kind: string, digest: Digest): string {
  return `${reference.registry}/${reference.repository} ${kind} ${digest}`;
}
