/**
 * The plain tsbuild types the containerd adapters take and return, so that no generated
 * protobuf message leaves core/containerd.
 *
 * @module
 */

import type { Digest } from "../digest.ts";
import type { Descriptor } from "../plugin/types.ts";

export type { Descriptor };

/** One mount(2) call as containerd passes it between snapshotters, differs and runtimes. */
export interface ContainerdMount {
  /** File system type, such as "bind" or "overlay". */
  type: string;
  /** Device or directory; "overlay" for overlayfs. */
  source: string;
  /** Options such as "rbind", "ro" or "lowerdir=/a:/b". */
  options: string[];
}

/** A blob in containerd's content store. */
export interface ContentInfo {
  digest: Digest;
  size: number;
  createdAt?: Date;
  updatedAt?: Date;
  labels: Record<string, string>;
}

/** An image record: a name pointing at a manifest or index in the content store. */
export interface ImageRecord {
  /** Full reference, such as "docker.io/library/app:dev". */
  name: string;
  target: Descriptor;
  labels: Record<string, string>;
  createdAt?: Date;
  updatedAt?: Date;
}

/** The state of a snapshot. */
export type SnapshotKind = "unknown" | "view" | "active" | "committed";

/** A snapshot in one snapshotter. */
export interface SnapshotInfo {
  /** The key of an active snapshot, or the name of a committed one. */
  name: string;
  /** Name of the committed parent; undefined for a snapshot on an empty file system. */
  parent?: string;
  kind: SnapshotKind;
  labels: Record<string, string>;
}

/** A lease, which keeps what is attached to it from garbage collection while it exists. */
export interface LeaseInfo {
  id: string;
  createdAt?: Date;
  labels: Record<string, string>;
}

/** A resource attached to a lease. */
export interface LeaseResource {
  /** A digest for content, a key for a snapshot or an ingest ref. */
  id: string;
  /** "content", "ingests" or "snapshots/<snapshotter>", such as "snapshots/overlayfs". */
  type: string;
}
