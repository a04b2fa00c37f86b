/**
 * The source of derived blobs: a snapshot's diff packed again as the
 * uncompressed layer tar it was recorded from.
 *
 * @module
 */

import { lstatIfExists } from "../fs/lstat.ts";
import { packLayer } from "../oci/layer_pack.ts";
import type { DerivedBlob, DerivedBlobSource } from "./blobs.ts";
import type { SnapshotStore } from "./snapshots.ts";

/** Returns a source that packs the snapshots of `snapshots`. */
export function snapshotLayerSource(snapshots: SnapshotStore): DerivedBlobSource {
  return {
    exists: (blob: DerivedBlob) =>
      snapshots.exists(blob.snapshot) &&
      lstatIfExists(snapshots.diffDir(blob.snapshot))?.isDirectory === true,
    open: (blob: DerivedBlob) =>
      packLayer(snapshots.diffDir(blob.snapshot), {
        compression: "none",
        sourceDateEpoch: blob.sourceDateEpoch,
      }).stream,
  };
}
