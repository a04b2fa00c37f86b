/**
 * Media type strings for OCI and Docker schema 2 manifests, indexes, configs and layers.
 *
 * @module
 */

/** OCI image manifest: one platform's config and layers. */
export const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
/** OCI image index: a list of manifests, usually one per platform. */
export const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
/** OCI image config: runtime settings, rootfs diff IDs and history. */
export const OCI_CONFIG = "application/vnd.oci.image.config.v1+json";
/** OCI layer: an uncompressed tar archive. */
export const OCI_LAYER = "application/vnd.oci.image.layer.v1.tar";
/** OCI layer: a gzip-compressed tar archive. */
export const OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip";
/** OCI layer: a zstd-compressed tar archive. */
export const OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd";

/** Docker schema 2 image manifest. */
export const DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
/** Docker schema 2 manifest list, Docker's counterpart of the OCI index. */
export const DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json";
/** Docker schema 2 image config. */
export const DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json";
/** Docker schema 2 layer: a gzip-compressed tar archive. */
export const DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip";
/** Docker schema 2 layer: an uncompressed tar archive. */
export const DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar";
/** Docker schema 2 layer that registries do not store; it is fetched from its `urls`. */
export const DOCKER_LAYER_FOREIGN = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";

/** Reports whether `mediaType` names an image index or a manifest list. */
export function isIndexMediaType(mediaType: string): boolean {
  return mediaType === OCI_INDEX || mediaType === DOCKER_MANIFEST_LIST;
}

/** Reports whether `mediaType` names a single-platform image manifest. */
export function isManifestMediaType(mediaType: string): boolean {
  return mediaType === OCI_MANIFEST || mediaType === DOCKER_MANIFEST;
}

/** Reports whether `mediaType` names a gzip-compressed layer, OCI or Docker. */
export function isGzipLayerMediaType(mediaType: string): boolean {
  return mediaType === OCI_LAYER_GZIP || mediaType === DOCKER_LAYER_GZIP ||
    mediaType === DOCKER_LAYER_FOREIGN;
}
