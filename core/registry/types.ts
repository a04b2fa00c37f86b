/**
 * JSON shapes of OCI and Docker schema 2 documents as the registry client reads and returns them.
 *
 * @module
 */

import type { Digest } from "../digest.ts";
import type { Platform } from "../oci/platform.ts";
import type { ImageReference } from "../oci/reference.ts";

/** A reference to content by media type, digest and size, as in manifests and indexes. */
export interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  /** Platform of the manifest an index entry points to. */
  platform?: Platform & { "os.version"?: string; "os.features"?: string[] };
  artifactType?: string;
}

/** One platform's image: a config blob and an ordered list of layers. */
export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

/** A list of manifests, usually one per platform (an OCI index or a Docker manifest list). */
export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
}

/** The runtime settings in an image config ("config" in the JSON document). */
export interface ContainerConfig {
  User?: string;
  ExposedPorts?: Record<string, Record<string, never>>;
  Env?: string[];
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Volumes?: Record<string, Record<string, never>>;
  WorkingDir?: string;
  Labels?: Record<string, string>;
  StopSignal?: string;
  /** Docker extensions that OCI configs do not define. */
  Healthcheck?: Record<string, unknown>;
  Shell?: string[];
  OnBuild?: string[] | null;
  ArgsEscaped?: boolean;
}

/** One entry of an image config's history. */
export interface HistoryEntry {
  created?: string;
  created_by?: string;
  author?: string;
  comment?: string;
  empty_layer?: boolean;
}

/** An OCI image config (a Docker schema 2 config has the same fields). */
export interface ImageConfig {
  architecture: string;
  os: string;
  variant?: string;
  "os.version"?: string;
  created?: string;
  author?: string;
  config?: ContainerConfig;
  rootfs: { type: "layers"; diff_ids: Digest[] };
  history?: HistoryEntry[];
}

/** A manifest as the registry stored it: the exact bytes, their digest and media type. */
export interface FetchedManifest {
  digest: Digest;
  mediaType: string;
  bytes: Uint8Array;
}

/** Result of `resolve()`: one platform's manifest and config, pinned by digest. */
export interface ResolvedImage {
  /** The reference that was resolved, as parsed. */
  reference: ImageReference;
  /** Digest of the platform's manifest (not of the index). */
  digest: Digest;
  /** Media type of the platform's manifest. */
  mediaType: string;
  manifest: ImageManifest;
  /** Exact bytes of the manifest, which hash to `digest`. */
  manifestBytes: Uint8Array;
  configDigest: Digest;
  config: ImageConfig;
  /** Exact bytes of the config blob, which hash to `configDigest`. */
  configBytes: Uint8Array;
  /** Digest of the index or manifest list the manifest was chosen from, if there was one. */
  indexDigest?: Digest;
  /** Media type of that index or manifest list. */
  indexMediaType?: string;
  /** Platform the manifest was chosen for. */
  platform: Platform;
}
