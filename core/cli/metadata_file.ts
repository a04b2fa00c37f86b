/**
 * Writes `--metadata-file` in buildx's shape: the image digests under
 * `containerimage.*` keys, plus build attributes such as `context.digest`.
 *
 * @module
 */

import type { BuildReport } from "../build.ts";
import { writeFileAtomic } from "../fs/atomic.ts";

/** Writes the build's results as JSON to `path`. */
export async function writeMetadataFile(path: string, report: BuildReport): Promise<void> {
  const metadata: Record<string, unknown> = { ...report.attributes };
  for (const { result } of report.exports) {
    if (result.digest) metadata["containerimage.digest"] = result.digest;
    if (result.configDigest) metadata["containerimage.config.digest"] = result.configDigest;
    Object.assign(metadata, result.metadata ?? {});
  }
  await writeFileAtomic(path, JSON.stringify(metadata, null, 2) + "\n");
}
