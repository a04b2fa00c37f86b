/**
 * The `image` exporter: stores the built image in containerd's content and image stores, and
 * optionally unpacks it into a snapshotter so that `ctr run` starts it at once.
 *
 * @module
 */

import type {
  ContainerdClient,
  Descriptor,
  ExportArgs,
  ExportCheckArgs,
  ExporterContext,
  ExporterPlugin,
  ExportResult,
  ImageArtifact,
  Plugin,
  VertexProgress,
} from "../../core/plugin/types.ts";
// NOTE: plugins are meant to import only types from core; these are pure helpers the import
// check allows.
import { type Digest, digestOf } from "../../core/digest.ts";
import { DigestMismatchError, InvalidInputError } from "../../core/errors.ts";
import { formatReference, parseReference } from "../../core/oci/reference.ts";
import { randomBytes } from "../../core/deps.ts";
import { booleanAttr, checkAttrs, compressionAttr, imageNames } from "./_attrs.ts";
import { imageExportResult } from "./_image.ts";

const ACCEPTED_ATTRS = ["name", "unpack", "snapshotter", "compression", "oci-mediatypes"] as const;

/** The snapshotter `unpack=true` uses unless `snapshotter=` names another: containerd's default. */
const DEFAULT_SNAPSHOTTER = "overlayfs";

/** The content label that names a layer's diff ID, which containerd sets when it unpacks. */
const UNCOMPRESSED_LABEL = "containerd.io/uncompressed";

/** Label prefixes by which containerd's garbage collector follows references. */
const GC_CONTENT_CONFIG = "containerd.io/gc.ref.content.config";
const GC_CONTENT_LAYER = "containerd.io/gc.ref.content.l.";
const GC_SNAPSHOT = "containerd.io/gc.ref.snapshot.";

/** The `image` exporter's options, read from the output attributes and `-t`. */
interface ImageExportOptions {
  /** Normalized names, such as "docker.io/library/app:dev". */
  names: string[];
  unpack: boolean;
  snapshotter: string;
  compression: ReturnType<typeof compressionAttr>;
  ociMediaTypes: boolean;
}

/**
 * The `image` exporter, as BuildKit's containerd worker has it. Attributes:
 * - `name`: comma-separated names, added to the `-t` names; at least one is required. Names
 *   are normalized as Docker does: "app:dev" is stored as "docker.io/library/app:dev".
 * - `unpack`: "true" unpacks the layers into the snapshotter. @default "false"
 * - `snapshotter`: the snapshotter to unpack into. @default "overlayfs"
 * - `compression`: "gzip", "zstd" or "uncompressed".
 * - `oci-mediatypes`: "false" uses Docker's media types. @default "true"
 *
 * Everything is written under one containerd lease, released when the export ends, so that
 * containerd's garbage collector never takes blobs of an image whose record is not written
 * yet. Blobs containerd already has are not sent again. The manifest carries the
 * `containerd.io/gc.ref.content.*` labels that keep the config and layers alive, and the image
 * records are written last, so a failed export leaves no record pointing at missing content.
 */
export const imageExporter: ExporterPlugin = {
  name: "image",
  onCheck(args) {
    readOptions(args);
  },
  async onExport(args: ExportArgs, context: ExporterContext): Promise<ExportResult> {
    const options = readOptions(args);
    const containerd = context.containerd;
    if (!containerd) {
      throw new InvalidInputError(
        'Invalid output "type=image": this build has no containerd client (run it with tsbuild build)',
      );
    }

    const image = await context.progress.step(
      "exporting layers",
      () =>
        context.buildImage({
          compression: options.compression,
          dockerMediaTypes: !options.ociMediaTypes,
        }),
    );
    await storeImage(containerd, image, options, context);
    return imageExportResult(image, options.names);
  },
};

function readOptions(args: ExportCheckArgs): ImageExportOptions {
  checkAttrs("image", args.attrs, ACCEPTED_ATTRS);
  const names = imageNames(args).map((name) => formatReference(parseReference(name)));
  if (names.length === 0) {
    throw new InvalidInputError(
      'Invalid output "type=image": missing "name" (set name=NAME or -t NAME)',
      { data: { type: "image" } },
    );
  }
  const snapshotter = args.attrs.snapshotter ?? DEFAULT_SNAPSHOTTER;
  if (snapshotter === "") {
    throw new InvalidInputError('Invalid output "type=image": "snapshotter" is empty', {
      data: { type: "image", attribute: "snapshotter" },
    });
  }
  return {
    names: [...new Set(names)],
    unpack: booleanAttr("image", args.attrs, "unpack", false),
    snapshotter,
    compression: compressionAttr("image", args.attrs),
    ociMediaTypes: booleanAttr("image", args.attrs, "oci-mediatypes", true),
  };
}

/**
 * Writes the blobs, unpacks, and names the image, all under a lease that is released at the
 * end, also when a step fails.
 */
async function storeImage(
  containerd: ContainerdClient,
  image: ImageArtifact,
  options: ImageExportOptions,
  context: ExporterContext,
): Promise<void> {
  const { progress } = context;
  const lease = await containerd.leases.create();
  const client = containerd.withLease(lease.id);
  try {
    const diffIds = diffIdsOf(image);
    await progress.step(
      `writing layers to containerd namespace "${containerd.namespace}"`,
      (vertex) => writeLayers(client, image, diffIds, context, vertex),
    );
    const snapshotLabels = options.unpack
      ? await progress.step(
        `unpacking to ${options.names[0]}`,
        (vertex) => unpackLayers(client, image, diffIds, options.snapshotter, vertex),
      )
      : {};
    await progress.step(
      `exporting config ${image.config.digest}`,
      () => writeBlob(client, image.config, image.configBytes, snapshotLabels),
    );
    await progress.step(
      `exporting manifest ${image.manifest.digest}`,
      () => writeBlob(client, image.manifest, image.manifestBytes, manifestLabels(image)),
    );
    for (const name of options.names) {
      await progress.step(
        `naming to ${name}`,
        () => nameImage(client, name, image.manifest, snapshotLabels),
      );
    }
  } catch (error) {
    // The export's own error is what matters; a lease left behind expires by its label.
    await lease.release().catch(() => {});
    throw error;
  }
  await lease.release().catch((error) =>
    context.logger.warn("Failed to release the containerd lease of the export", {
      lease: lease.id,
      error: String(error),
    })
  );
}

function diffIdsOf(image: ImageArtifact): Digest[] {
  const config = JSON.parse(new TextDecoder().decode(image.configBytes));
  const diffIds: Digest[] = config.rootfs?.diff_ids ?? [];
  if (diffIds.length !== image.layers.length) {
    throw new TypeError(
      `Invalid image "${image.manifest.digest}": the manifest has ${image.layers.length} layers but the config lists ${diffIds.length} diff IDs`,
    );
  }
  return diffIds;
}

function manifestLabels(image: ImageArtifact): Record<string, string> {
  const labels: Record<string, string> = { [GC_CONTENT_CONFIG]: image.config.digest };
  image.layers.forEach((layer, index) => labels[`${GC_CONTENT_LAYER}${index}`] = layer.digest);
  return labels;
}

async function writeLayers(
  client: ContainerdClient,
  image: ImageArtifact,
  diffIds: Digest[],
  context: ExporterContext,
  progress: VertexProgress,
): Promise<void> {
  const total = image.layers.reduce((sum, layer) => sum + layer.size, 0);
  let done = 0;
  let reported = -1;
  const report = (bytes: number) => {
    if (bytes === reported) return;
    reported = bytes;
    progress.status("writing layers", bytes, total);
  };
  for (const [index, layer] of image.layers.entries()) {
    await ensureBlob(
      client,
      layer,
      () => context.content.openBlob(layer.digest),
      { [UNCOMPRESSED_LABEL]: diffIds[index] },
      (written) => report(done + written),
    );
    done += layer.size;
    report(done);
  }
}

function writeBlob(
  client: ContainerdClient,
  descriptor: Descriptor,
  bytes: Uint8Array,
  labels: Record<string, string>,
): Promise<void> {
  return ensureBlob(
    client,
    descriptor,
    () => Promise.resolve(ReadableStream.from([bytes])),
    labels,
  );
}

/**
 * Makes sure containerd has the blob with `labels`. A missing blob is written with the labels.
 * A stored blob gets only the labels it lacks, and is attached to the lease so that garbage
 * collection cannot take it before the image record exists.
 */
async function ensureBlob(
  client: ContainerdClient,
  descriptor: Descriptor,
  open: () => Promise<ReadableStream<Uint8Array>>,
  labels: Record<string, string>,
  onProgress?: (written: number) => void,
): Promise<void> {
  const info = await client.content.info(descriptor.digest);
  if (!info) {
    const result = await client.content.write(descriptor, open, { labels, onProgress });
    // Not written means another client committed the blob meanwhile; its labels are checked
    // below like those of any stored blob.
    if (result.written) return;
  }
  await client.leases.addResource(client.lease!, { id: descriptor.digest, type: "content" });
  const stored = info ?? await client.content.info(descriptor.digest);
  const missing = Object.entries(labels).filter(([key, value]) => stored?.labels[key] !== value);
  if (missing.length > 0) {
    await client.content.setLabels(descriptor.digest, Object.fromEntries(missing));
  }
}

/**
 * Unpacks each layer into a snapshot named by its chain ID, as containerd's own unpacker does,
 * and skips the snapshots that exist. Returns the labels that reference the top snapshot.
 */
async function unpackLayers(
  client: ContainerdClient,
  image: ImageArtifact,
  diffIds: Digest[],
  snapshotter: string,
  progress: VertexProgress,
): Promise<Record<string, string>> {
  const snapshots = client.snapshots(snapshotter);
  const chain = chainIds(diffIds);
  let parent: string | undefined;
  for (const [index, layer] of image.layers.entries()) {
    progress.status(`unpacking layer ${index + 1} of ${image.layers.length}`);
    if (await snapshots.stat(chain[index])) {
      // Like a stored blob, an existing snapshot needs the lease until the record refers to it.
      await client.leases.addResource(client.lease!, {
        id: chain[index],
        type: `snapshots/${snapshotter}`,
      });
    } else {
      await applyLayer(client, snapshotter, layer, {
        diffId: diffIds[index],
        chainId: chain[index],
        parent,
      });
    }
    parent = chain[index];
  }
  return parent === undefined ? {} : { [`${GC_SNAPSHOT}${snapshotter}`]: parent };
}

async function applyLayer(
  client: ContainerdClient,
  snapshotter: string,
  layer: Descriptor,
  target: { diffId: Digest; chainId: string; parent?: string },
): Promise<void> {
  const snapshots = client.snapshots(snapshotter);
  // containerd's unpacker names its scratch snapshots "extract-<unique> <chain ID>".
  const key = `extract-${randomBytes(6).toString("hex")} ${target.chainId}`;
  const mounts = await snapshots.prepare(key, target.parent);
  try {
    const applied = await client.diff.apply(layer, mounts);
    if (applied.digest !== target.diffId) {
      throw new DigestMismatchError(
        `Failed to unpack layer "${layer.digest}" into containerd: its tar has digest "${applied.digest}", but the config lists diff ID "${target.diffId}"`,
        { data: { digest: layer.digest, diffId: target.diffId, actual: applied.digest } },
      );
    }
    await snapshots.commit(target.chainId, key);
  } catch (error) {
    await snapshots.remove(key).catch(() => {});
    // Another unpack of the same layers committed the chain ID first, which is as good.
    if ((error as { code?: string }).code === "ALREADY_EXISTS") return;
    throw error;
  }
}

/** Returns the chain ID of each prefix of `diffIds`, as OCI image-spec defines them. */
function chainIds(diffIds: Digest[]): Digest[] {
  const ids: Digest[] = [];
  for (const diffId of diffIds) {
    const previous = ids.at(-1);
    ids.push(previous ? digestOf(`${previous} ${diffId}`) : diffId);
  }
  return ids;
}

/**
 * Points image record `name` at the manifest. An existing record that already does so, with
 * the same labels, is left as it is, so exporting an unchanged image changes nothing.
 */
async function nameImage(
  client: ContainerdClient,
  name: string,
  manifest: Descriptor,
  labels: Record<string, string>,
): Promise<void> {
  const target = { mediaType: manifest.mediaType, digest: manifest.digest, size: manifest.size };
  const existing = await client.images.get(name);
  if (!existing) {
    try {
      await client.images.create({ name, target, labels });
      return;
    } catch (error) {
      // Created by another client since the lookup: update it like any existing record.
      if ((error as { code?: string }).code !== "ALREADY_EXISTS") throw error;
    }
  }
  const sameTarget = existing !== undefined && existing.target.digest === target.digest &&
    existing.target.mediaType === target.mediaType && existing.target.size === target.size;
  const sameLabels = existing !== undefined &&
    Object.entries(labels).every(([key, value]) => existing.labels[key] === value);
  if (sameTarget && sameLabels) return;
  await client.images.update({
    name,
    target,
    labels: { ...staleSnapshotLabels(existing?.labels), ...labels },
  });
}

// A snapshot label of an earlier image would keep that image's snapshots alive; an empty
// value removes the label.
function staleSnapshotLabels(labels: Record<string, string> = {}): Record<string, string> {
  return Object.fromEntries(
    Object.keys(labels).filter((key) => key.startsWith(GC_SNAPSHOT)).map((key) => [key, ""]),
  );
}

/** The built-in plugin that offers the `image` exporter. */
const plugin: Plugin = {
  // The plugin API version this plugin was written for (PLUGIN_API_VERSION), written as a
  // literal because plugins import only types from core.
  apiVersion: 1,
  name: "builtin-image-exporter",
  exporters: [imageExporter],
};

export default plugin;
