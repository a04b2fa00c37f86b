/**
 * Builds a plain directory tree from a chain of overlay-format diff directories.
 *
 * @module
 */

import { join } from "../deps.ts";
import {
  applyMetadata,
  applyTimes,
  copyNode,
  createDirectory,
  listMerged,
  type MergedEntry,
  mergedRoot,
} from "./_walk.ts";

/** Options of {@linkcode materialize}. */
export interface MaterializeOptions {
  /** Stops the copy between two entries; the partial tree is left for the caller to remove. */
  signal?: AbortSignal;
}

/**
 * Writes into the existing empty directory `target` the tree that results from
 * applying `lowerDirs` in order, bottom-most first: whiteouts delete, opaque
 * directories hide what lies below them, and later layers replace earlier ones.
 *
 * It copies only the top-most version of each path, which gives the same tree
 * as applying the layers one after the other without writing files twice.
 * Modes, owners, times, symlinks, device nodes and FIFOs are kept, and hard
 * links between files of one layer stay hard links.
 *
 * NOTE: extended attributes such as `security.capability` are not copied.
 */
export async function materialize(
  lowerDirs: string[],
  target: string,
  options: MaterializeOptions = {},
): Promise<void> {
  const root = await mergedRoot(lowerDirs);
  if (!root) return;

  const links = new Map<string, string>();
  await materializeChildren(root, target, links, options.signal);
  await applyMetadata(target, root.info);
}

async function materializeChildren(
  dir: MergedEntry,
  target: string,
  links: Map<string, string>,
  signal: AbortSignal | undefined,
): Promise<void> {
  for (const [name, entry] of await listMerged(dir)) {
    signal?.throwIfAborted();
    const destination = join(target, name);
    if (!entry.info.isDirectory) {
      await copyNode(entry.path, entry.info, destination, links, String(entry.layer));
      continue;
    }

    await createDirectory(destination, entry.info);
    await materializeChildren(entry, destination, links, signal);
    // Creating the children changed the directory's times, so they are set last.
    await applyTimes(destination, entry.info);
  }
}
