/**
 * Snapshots: filesystem layers kept as overlay-format diff directories, each
 * with an optional parent, so a chain of snapshots is a root filesystem.
 *
 * @module
 */

import { randomBytes } from "../deps.ts";
import type { Digest } from "../digest.ts";
import { InternalError } from "../errors.ts";
import { readJsonIfExists, writeFileAtomic } from "../fs/atomic.ts";
import { flushTree } from "../snapshot/flush.ts";

/** The layer blob made from a snapshot's diff, once computed or pulled. */
export interface LayerInfo {
  /** Digest of the (usually compressed) layer blob. */
  digest: Digest;
  /** Digest of the uncompressed layer tar. */
  diffId: Digest;
  size: number;
  mediaType: string;
}

/** The store's record of a committed snapshot. */
export interface SnapshotInfo {
  id: string;
  parent?: string;
  createdAt: string;
  /** The kind of step that made the snapshot, for `tsbuild du`: "layer", "exec", "file", "local", ... */
  kind: string;
  /** Layer blobs made from this snapshot's diff, keyed by compression ("gzip", "zstd", "none"). */
  layers?: Record<string, LayerInfo>;
}

/** A snapshot being written; invisible to other readers until committed. */
export interface ActiveSnapshot {
  /** The diff directory to fill, in overlay format. */
  readonly dir: string;
  /** Makes the snapshot visible. With an `id` already present, keeps the existing one and discards this. */
  commit(options: CommitOptions): Promise<SnapshotInfo>;
  /** Deletes what was written. */
  abort(): Promise<void>;
}

/** Options for {@link ActiveSnapshot.commit}. */
export interface CommitOptions {
  parent?: string;
  kind: string;
  /** A content-derived id, so equal content is stored once; a random id is used when omitted. */
  id?: string;
  layers?: Record<string, LayerInfo>;
  /**
   * Whether the diff directory is flushed to disk along with the record, so
   * that a power loss after the commit cannot leave the snapshot with lost or
   * short files. Later steps use a snapshot's files without checking them.
   * @default true; pass false only for a diff whose files are on disk already
   */
  flushDiff?: boolean;
}

const INFO_FILE = "snapshot.json";

/** Snapshots under `<root>/snapshots/<id>/` with their diff in `diff/`. */
export class SnapshotStore {
  readonly dir: string;
  readonly #temporaryDir: string;

  constructor(root: string, temporaryDir: string) {
    this.dir = `${root}/snapshots`;
    this.#temporaryDir = temporaryDir;
  }

  /** Returns the diff directory of snapshot `id`. */
  diffDir(id: string): string {
    return `${this.dir}/${id}/diff`;
  }

  /** Returns what the store records about snapshot `id`, or undefined when it does not exist. */
  get(id: string): Promise<SnapshotInfo | undefined> {
    return readJsonIfExists<SnapshotInfo>(`${this.dir}/${id}/${INFO_FILE}`);
  }

  /** Reports whether snapshot `id` is committed; its record is removed first when it is deleted. */
  exists(id: string): boolean {
    try {
      Deno.lstatSync(`${this.dir}/${id}/${INFO_FILE}`);
      return true;
    } catch (error) {
      if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
        return false;
      }
      throw error;
    }
  }

  /** Returns the chain ending at `id`, base first. */
  async chain(id: string | undefined): Promise<SnapshotInfo[]> {
    const chain: SnapshotInfo[] = [];
    for (let current = id; current;) {
      const info = await this.get(current);
      if (!info) throw new InternalError(`Snapshot "${current}" is missing from the store`);
      chain.unshift(info);
      current = info.parent;
    }
    return chain;
  }

  /** Starts a new snapshot in the store's temporary area. */
  prepare(): Promise<ActiveSnapshot> {
    const staging = `${this.#temporaryDir}/snapshot-${randomBytes(8).toString("hex")}`;
    const dir = `${staging}/diff`;
    try {
      // Synchronous, as the small calls of a commit are (see writeFileAtomic).
      Deno.mkdirSync(dir, { recursive: true, mode: 0o755 });
    } catch (error) {
      return Promise.reject(error);
    }
    return Promise.resolve({
      dir,
      commit: (options) => this.#commit(staging, options),
      abort: () => Deno.remove(staging, { recursive: true }).catch(() => {}),
    });
  }

  async #commit(staging: string, options: CommitOptions): Promise<SnapshotInfo> {
    const id = options.id ?? randomBytes(16).toString("hex");
    const info: SnapshotInfo = {
      id,
      ...(options.parent ? { parent: options.parent } : {}),
      createdAt: new Date().toISOString(),
      kind: options.kind,
      ...(options.layers ? { layers: options.layers } : {}),
    };
    // Both flushes go out together, and a journaling file system commits them as one. Both are
    // awaited before a failure is thrown, so nothing writes into the staging directory after it.
    const written = await Promise.allSettled([
      writeFileAtomic(`${staging}/${INFO_FILE}`, JSON.stringify(info)),
      options.flushDiff === false ? undefined : flushTree(`${staging}/diff`),
    ]);
    for (const result of written) {
      if (result.status === "rejected") throw result.reason;
    }
    Deno.mkdirSync(this.dir, { recursive: true });
    try {
      Deno.renameSync(staging, `${this.dir}/${id}`);
      return info;
    } catch (error) {
      // Another build committed the same content-derived id first; its copy is equivalent.
      const existing = options.id ? await this.get(id) : undefined;
      if (!existing) throw error;
      await Deno.remove(staging, { recursive: true }).catch(() => {});
      return existing;
    }
  }

  /** Records a layer blob made from snapshot `id`'s diff, keyed by compression. */
  async addLayer(id: string, compression: string, layer: LayerInfo): Promise<void> {
    const info = await this.get(id);
    if (!info) throw new InternalError(`Snapshot "${id}" is missing from the store`);
    info.layers = { ...info.layers, [compression]: layer };
    await writeFileAtomic(`${this.dir}/${id}/${INFO_FILE}`, JSON.stringify(info));
  }

  /** Lists every committed snapshot. */
  async *list(): AsyncGenerator<SnapshotInfo> {
    let entries: Deno.DirEntry[] = [];
    try {
      entries = await Array.fromAsync(Deno.readDir(this.dir));
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    for (const entry of entries) {
      const info = await this.get(entry.name);
      if (info) yield info;
    }
  }

  /** Deletes snapshot `id`: first its record, so a half-deleted snapshot is never used. */
  async remove(id: string): Promise<void> {
    const target = `${this.dir}/${id}`;
    await Deno.remove(`${target}/${INFO_FILE}`).catch(() => {});
    await Deno.remove(target, { recursive: true }).catch(() => {});
  }
}
