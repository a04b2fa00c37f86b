/**
 * Test fixture that writes a tiny busybox image as an OCI image layout, made from the host's
 * static /bin/busybox without any network access.
 *
 * @module
 */

import { Buffer, gzipSync, join } from "../../core/deps.ts";
import { tarStream } from "./tar_stream.ts";
import { type Digest, digestHex, digestOf } from "../../core/digest.ts";
import { OCI_CONFIG, OCI_INDEX, OCI_LAYER_GZIP, OCI_MANIFEST } from "../../core/oci/media_types.ts";
import { hostPlatform, type Platform } from "../../core/oci/platform.ts";

/** The layout `buildBusyboxImage()` wrote, with the digests a test may compare against. */
export interface BusyboxImage {
  /** The layout folder; `oci:DIR:TAG` names the image for skopeo. */
  dir: string;
  /** The `org.opencontainers.image.ref.name` of the image in index.json. */
  tag: string;
  manifestDigest: Digest;
  manifestBytes: Uint8Array;
  configDigest: Digest;
  configBytes: Uint8Array;
  /** Digest of the gzip-compressed layer blob. */
  layerDigest: Digest;
  layerSize: number;
  /** Digest of the uncompressed layer tar, as listed in the config's `rootfs.diff_ids`. */
  diffId: Digest;
  platform: Platform;
}

/** Applets linked to /bin/busybox in the image. */
export const BUSYBOX_APPLETS = [
  "sh",
  "echo",
  "cat",
  "ls",
  "id",
  "sleep",
  "env",
  "mkdir",
  "rm",
  "touch",
  "printf",
  "test",
  "true",
  "false",
  "wc",
  "sha256sum",
  "head",
  "tail",
  "find",
  "stat",
  "chown",
  "chmod",
  "grep",
  "sed",
  "tr",
  "cut",
  "sort",
  "uname",
  "whoami",
  "hostname",
  "date",
  "du",
]; // deno-fmt-ignore

const BUSYBOX_PATH = "/bin/busybox";
const IMAGE_TAG = "1";
// A fixed time for every entry and the config, so the digests only change with /bin/busybox.
const CREATED = new Date("2024-01-01T00:00:00Z");
const PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

const PASSWD = `root:x:0:0:root:/root:/bin/sh
app:x:1000:1000:app:/home/app:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
`;
const GROUP = `root:x:0:
app:x:1000:
nobody:x:65534:
`;

interface Layer {
  gzip: Uint8Array;
  diffId: Digest;
}

let layerPromise: Promise<Layer> | undefined;

/**
 * Writes an OCI image layout into `dir` (which must exist): oci-layout, index.json and
 * blobs/sha256/. The image has one gzip layer with /bin/busybox and its applet symlinks,
 * /etc/passwd and /etc/group with root (0), app (1000) and nobody (65534), and /tmp (1777);
 * its platform is the host's and its config sets PATH and `Cmd ["sh"]`.
 */
export async function buildBusyboxImage(dir: string): Promise<BusyboxImage> {
  layerPromise ??= buildLayer();
  const layer = await layerPromise;
  const platform = hostPlatform();

  const configBytes = encodeJson(imageConfig(platform, layer.diffId));
  const configDigest = digestOf(configBytes);
  const layerDigest = digestOf(layer.gzip);
  const manifestBytes = encodeJson({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: OCI_CONFIG, digest: configDigest, size: configBytes.byteLength },
    layers: [{ mediaType: OCI_LAYER_GZIP, digest: layerDigest, size: layer.gzip.byteLength }],
  });
  const manifestDigest = digestOf(manifestBytes);

  await writeBlobs(dir, [configBytes, layer.gzip, manifestBytes]);
  await Deno.writeTextFile(join(dir, "oci-layout"), '{"imageLayoutVersion":"1.0.0"}');
  await Deno.writeFile(
    join(dir, "index.json"),
    encodeJson(layoutIndex(manifestDigest, manifestBytes, platform)),
  );

  return {
    dir,
    tag: IMAGE_TAG,
    manifestDigest,
    manifestBytes,
    configDigest,
    configBytes,
    layerDigest,
    layerSize: layer.gzip.byteLength,
    diffId: layer.diffId,
    platform,
  };
}

function imageConfig(platform: Platform, diffId: Digest) {
  return {
    created: CREATED.toISOString(),
    architecture: platform.architecture,
    ...(platform.variant ? { variant: platform.variant } : {}),
    os: platform.os,
    config: { Env: [PATH_ENV], Cmd: ["sh"] },
    rootfs: { type: "layers", diff_ids: [diffId] },
    history: [{ created: CREATED.toISOString(), created_by: "tsbuild test fixture: busybox" }],
  };
}

function layoutIndex(manifestDigest: Digest, manifestBytes: Uint8Array, platform: Platform) {
  return {
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests: [{
      mediaType: OCI_MANIFEST,
      digest: manifestDigest,
      size: manifestBytes.byteLength,
      annotations: { "org.opencontainers.image.ref.name": IMAGE_TAG },
      platform,
    }],
  };
}

async function writeBlobs(dir: string, blobs: Uint8Array[]): Promise<void> {
  const blobDir = join(dir, "blobs", "sha256");
  await Deno.mkdir(blobDir, { recursive: true });
  for (const blob of blobs) {
    await Deno.writeFile(join(blobDir, digestHex(digestOf(blob))), blob);
  }
}

async function buildLayer(): Promise<Layer> {
  const tar = await packEntries(await layerEntries());
  return { gzip: new Uint8Array(gzipSync(tar)), diffId: digestOf(tar) };
}

interface Entry {
  header: {
    name: string;
    type: "file" | "directory" | "symlink";
    mode: number;
    uid?: number;
    gid?: number;
    linkname?: string;
  };
  content?: Uint8Array;
}

async function layerEntries(): Promise<Entry[]> {
  const directory = (name: string, mode = 0o755, owner = 0): Entry => ({
    header: { name, type: "directory", mode, uid: owner, gid: owner },
  });
  const file = (name: string, content: Uint8Array, mode = 0o644): Entry => ({
    header: { name, type: "file", mode },
    content,
  });
  const text = (value: string) => new TextEncoder().encode(value);

  return [
    directory("bin/"),
    file("bin/busybox", await Deno.readFile(BUSYBOX_PATH), 0o755),
    ...BUSYBOX_APPLETS.map((applet): Entry => ({
      header: { name: `bin/${applet}`, type: "symlink", mode: 0o777, linkname: BUSYBOX_PATH },
    })),
    directory("etc/"),
    file("etc/passwd", text(PASSWD)),
    file("etc/group", text(GROUP)),
    directory("home/"),
    directory("home/app/", 0o755, 1000),
    directory("root/", 0o700),
    directory("tmp/", 0o1777),
  ];
}

async function packEntries(entries: Entry[]): Promise<Uint8Array> {
  const pack = tarStream.pack();
  const chunks: Uint8Array[] = [];
  const collected = (async () => {
    for await (const chunk of pack) chunks.push(chunk as Uint8Array);
  })();

  for (const { header, content } of entries) {
    const fullHeader = { uid: 0, gid: 0, mtime: CREATED, uname: "", gname: "", ...header };
    await new Promise<void>((resolve, reject) => {
      const done = (error?: Error | null) => error ? reject(error) : resolve();
      if (content) pack.entry(fullHeader, Buffer.from(content), done);
      else pack.entry(fullHeader, done);
    });
  }
  pack.finalize();
  await collected;
  return new Uint8Array(Buffer.concat(chunks));
}

function encodeJson(value: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value));
}
