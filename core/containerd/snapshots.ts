/**
 * One containerd snapshotter: active snapshots prepared on a committed parent, committed under
 * a name, with the mounts that show their file system.
 *
 * @module
 */

import { NotFoundError } from "../errors.ts";
import { call, type CallContext, serviceClient } from "./_call.ts";
import { mountsFrom } from "./_convert.ts";
import { type Info, Kind, Snapshots } from "./gen/containerd/services/snapshots/v1/snapshots_pb.ts";
import type { ContainerdMount, SnapshotInfo, SnapshotKind } from "./types.ts";

/** The snapshotter containerd uses on Linux unless configured otherwise. */
export const DEFAULT_SNAPSHOTTER = "overlayfs";

/** The snapshots of one snapshotter in one namespace. */
export interface ContainerdSnapshotter {
  /** The snapshotter's name, such as "overlayfs". */
  readonly name: string;
  /**
   * Creates active snapshot `key` on committed snapshot `parent` (or an empty file system) and
   * returns the mounts that show it.
   *
   * @throws {AlreadyExistsError} when `key` is taken.
   * @throws {NotFoundError} when `parent` does not exist.
   */
  prepare(
    key: string,
    parent?: string,
    labels?: Record<string, string>,
  ): Promise<ContainerdMount[]>;
  /** Returns the mounts of an active or view snapshot. */
  mounts(key: string): Promise<ContainerdMount[]>;
  /**
   * Commits active snapshot `key` as `name`; the key is gone afterwards.
   *
   * @throws {AlreadyExistsError} when `name` is taken.
   */
  commit(name: string, key: string, labels?: Record<string, string>): Promise<void>;
  /** Removes a snapshot that no other snapshot has as its parent. */
  remove(key: string): Promise<void>;
  /** Returns the snapshot's info, or undefined when there is none under `key`. */
  stat(key: string): Promise<SnapshotInfo | undefined>;
}

/** Returns the adapter of snapshotter `name` for calls under `context`. */
export function createSnapshotter(context: CallContext, name: string): ContainerdSnapshotter {
  const client = serviceClient(context, Snapshots);
  const snapshotter = name;
  return {
    name,
    async prepare(key, parent = "", labels = {}) {
      const response = await call(
        context,
        `Failed to prepare snapshot "${key}" in snapshotter "${name}"`,
        (options) => client.prepare({ snapshotter, key, parent, labels }, options),
      );
      return mountsFrom(response.mounts);
    },
    async mounts(key) {
      const response = await call(
        context,
        `Failed to get the mounts of snapshot "${key}" in snapshotter "${name}"`,
        (options) => client.mounts({ snapshotter, key }, options),
      );
      return mountsFrom(response.mounts);
    },
    async commit(committedName, key, labels = {}) {
      await call(
        context,
        `Failed to commit snapshot "${key}" as "${committedName}" in snapshotter "${name}"`,
        (options) => client.commit({ snapshotter, name: committedName, key, labels }, options),
      );
    },
    async remove(key) {
      await call(
        context,
        `Failed to remove snapshot "${key}" from snapshotter "${name}"`,
        (options) => client.remove({ snapshotter, key }, options),
      );
    },
    async stat(key) {
      try {
        const response = await call(
          context,
          `Failed to stat snapshot "${key}" in snapshotter "${name}"`,
          (options) => client.stat({ snapshotter, key }, options),
        );
        return snapshotInfoFrom(response.info);
      } catch (error) {
        if (error instanceof NotFoundError) return undefined;
        throw error;
      }
    },
  };
}

const KINDS: Record<Kind, SnapshotKind> = {
  [Kind.UNKNOWN]: "unknown",
  [Kind.VIEW]: "view",
  [Kind.ACTIVE]: "active",
  [Kind.COMMITTED]: "committed",
};

function snapshotInfoFrom(info: Info | undefined): SnapshotInfo {
  return {
    name: info?.name ?? "",
    ...(info?.parent ? { parent: info.parent } : {}),
    kind: KINDS[info?.kind ?? Kind.UNKNOWN] ?? "unknown",
    labels: { ...info?.labels },
  };
}
