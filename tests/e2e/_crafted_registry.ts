/**
 * A loopback server speaking just enough of the registry API (`/v2/`, manifests, blobs) to
 * serve crafted single-layer images that a real registry would not accept.
 *
 * docker-registry checks the digest of every blob pushed to it, so a layer whose bytes do not
 * match its digest can only be served by a server like this one.
 *
 * @module
 */

import { createHash } from "../../core/deps.ts";
import { type LoopbackServer, startLoopbackServer } from "../_fixtures/loopback_server.ts";

const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const OCI_CONFIG = "application/vnd.oci.image.config.v1+json";
const OCI_LAYER = "application/vnd.oci.image.layer.v1.tar";

/** One image to serve as `REPOSITORY:latest`, with a single uncompressed layer. */
export interface CraftedImage {
  /** The layer tar; its sha256 is the layer's digest and diff ID in the manifest and config. */
  layer: Uint8Array;
  /** Bytes sent for the layer blob instead of `layer`, e.g. to break its digest. */
  servedLayer?: Uint8Array;
}

/**
 * Starts a server on 127.0.0.1 that serves each image of `images` as
 * "HOST/REPOSITORY:latest"; stop it with `await using`.
 */
export function startCraftedRegistry(images: Record<string, CraftedImage>): LoopbackServer {
  const manifests = new Map<string, Uint8Array<ArrayBuffer>>();
  const blobs = new Map<string, Uint8Array<ArrayBuffer>>();
  for (const [repository, image] of Object.entries(images)) {
    const { manifest, blobs: imageBlobs } = craftImage(image);
    manifests.set(`${repository}/latest`, manifest);
    manifests.set(`${repository}/${sha256(manifest)}`, manifest);
    for (const [digest, bytes] of imageBlobs) blobs.set(`${repository}/${digest}`, bytes);
  }

  return startLoopbackServer((request) => {
    const path = new URL(request.url).pathname;
    if (path === "/v2/" || path === "/v2") return Response.json({});
    const match = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(path);
    const key = match && `${match[1]}/${match[3]}`;
    const manifest = match?.[2] === "manifests" ? manifests.get(key!) : undefined;
    if (manifest) {
      return new Response(request.method === "HEAD" ? null : manifest, {
        headers: {
          "Content-Type": OCI_MANIFEST,
          "Docker-Content-Digest": sha256(manifest),
          "Content-Length": String(manifest.byteLength),
        },
      });
    }
    const blob = match?.[2] === "blobs" ? blobs.get(key!) : undefined;
    if (blob) {
      return new Response(request.method === "HEAD" ? null : blob, {
        headers: { "Content-Type": "application/octet-stream" },
      });
    }
    return Response.json({ errors: [{ code: "NOT_FOUND", message: "not found" }] }, {
      status: 404,
    });
  });
}

function craftImage(image: CraftedImage) {
  const layerDigest = sha256(image.layer);
  const config = new TextEncoder().encode(JSON.stringify({
    architecture: Deno.build.arch === "x86_64" ? "amd64" : "arm64",
    os: "linux",
    config: {},
    rootfs: { type: "layers", diff_ids: [layerDigest] },
  }));
  const manifest = new TextEncoder().encode(JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: OCI_CONFIG, digest: sha256(config), size: config.byteLength },
    layers: [{ mediaType: OCI_LAYER, digest: layerDigest, size: image.layer.byteLength }],
  }));
  const blobs = new Map([
    [sha256(config), config],
    // Copied, because a Response body needs bytes backed by an ArrayBuffer.
    [layerDigest, new Uint8Array(image.servedLayer ?? image.layer)],
  ]);
  return { manifest, blobs };
}

function sha256(bytes: Uint8Array): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}
