/**
 * Lines an image's history up with its layers: every layer needs one history
 * entry without `empty_layer`, in order, as image readers pair them.
 *
 * @module
 */

import type { ImageHistory } from "../plugin/types.ts";
import type { SnapshotInfo } from "../store/snapshots.ts";

/**
 * Returns `history` with exactly one non-empty entry per snapshot in `chain`,
 * and each entry's time set from the snapshot that made it (or `epoch`), so
 * a rebuild from cache gives the same config bytes.
 */
export function alignHistory(
  history: ImageHistory[],
  chain: SnapshotInfo[],
  epoch?: number,
): ImageHistory[] {
  const aligned: ImageHistory[] = [];
  let layer = 0;
  const timeOf = (index: number) =>
    epoch !== undefined
      ? new Date(epoch * 1000).toISOString()
      : chain[Math.min(index, chain.length - 1)]?.createdAt;

  for (const entry of history) {
    if (entry.empty_layer) {
      aligned.push({ ...entry, created: entry.created ?? timeOf(Math.max(layer - 1, 0)) });
      continue;
    }
    if (layer >= chain.length) {
      // The frontend described more layers than the chain has; keep the entry without a layer.
      aligned.push({ ...entry, empty_layer: true, created: entry.created ?? timeOf(layer - 1) });
      continue;
    }
    aligned.push({ ...entry, created: entry.created ?? timeOf(layer) });
    layer++;
  }
  for (; layer < chain.length; layer++) {
    aligned.push({ created: timeOf(layer), created_by: `tsbuild layer ${chain[layer].kind}` });
  }
  if (epoch !== undefined) { for (const entry of aligned) entry.created = timeOf(0); }
  return aligned;
}
