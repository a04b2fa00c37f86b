/**
 * sha256 digests in the OCI form "sha256:<hex>", for bytes, strings and streams.
 *
 * @module
 */

import { createHash } from "./deps.ts";

/** An OCI content digest such as "sha256:2c26b4…". */
export type Digest = `sha256:${string}`;

const DIGEST_PATTERN = /^sha256:[a-f0-9]{64}$/;

/** Returns the sha256 digest of `data`. */
export function digestOf(data: Uint8Array | string): Digest {
  return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}

/** Reads `stream` to its end and returns the sha256 digest and byte count of what it carried. */
export async function digestStream(
  stream: ReadableStream<Uint8Array>,
): Promise<{ digest: Digest; size: number }> {
  const hash = createHash("sha256");
  let size = 0;
  for await (const chunk of stream) {
    hash.update(chunk);
    size += chunk.byteLength;
  }
  return { digest: `sha256:${hash.digest("hex")}`, size };
}

/** Reports whether `value` is a well-formed sha256 digest. */
export function isDigest(value: string): value is Digest {
  return DIGEST_PATTERN.test(value);
}

/** Returns the hex part of a digest, for use in file names. */
export function digestHex(digest: Digest): string {
  return digest.slice("sha256:".length);
}
