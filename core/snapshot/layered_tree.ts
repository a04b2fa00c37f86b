/**
 * Looking up paths in a stack of diff directories as an overlay mount of them
 * would show them, without mounting: whiteouts hide lower entries, opaque
 * directories hide everything below them, and a non-directory hides the
 * layers under it. `_walk.ts` walks the same view with asynchronous calls,
 * for whole trees.
 *
 * The calls are synchronous: each lookup is a few lstat calls, and Deno's
 * asynchronous calls cost a thread-pool round trip (about 0.1 ms here) that
 * is longer than the call itself.
 *
 * @module
 */

import { lstatIfExists } from "../fs/lstat.ts";
import { isOpaque, isWhiteout } from "./whiteout.ts";

/** One path of the merged view. */
export interface LayeredEntry {
  /** `Deno.lstat` of the top-most copy. */
  info: Deno.FileInfo;
  /** Host path of the top-most copy. */
  path: string;
  /** The path below the layer roots, "" for the root itself, otherwise starting with "/". */
  relative: string;
  /**
   * Indexes of the layers whose copy is part of the merged view, top-most
   * first: every contributing copy of a directory, the one copy of anything else.
   */
  layers: number[];
}

/** A stack of diff directories, top-most first, with lookups in their merged view. */
export class LayeredTree {
  readonly #roots: string[];

  /** `roots` are the layers' diff directories, top-most first. */
  constructor(roots: string[]) {
    this.#roots = roots;
  }

  /**
   * Returns the merged entry at `names` (path components below the root, no
   * "." or ".."), or undefined when the merged view has nothing there. A
   * non-directory among the parents counts as nothing there, as for open(2).
   */
  lookup(names: string[]): LayeredEntry | undefined {
    let current: LayeredEntry | undefined = this.#root();
    for (const name of names) {
      if (!current?.info.isDirectory) return undefined;
      current = this.#child(current, name);
    }
    return current;
  }

  #root(): LayeredEntry {
    const layers: number[] = [];
    for (const [index, root] of this.#roots.entries()) {
      layers.push(index);
      if (isOpaque(root)) break;
    }
    return { info: Deno.lstatSync(this.#roots[0]), path: this.#roots[0], relative: "", layers };
  }

  #child(dir: LayeredEntry, name: string): LayeredEntry | undefined {
    const relative = `${dir.relative}/${name}`;
    let found: LayeredEntry | undefined;
    for (const index of dir.layers) {
      const path = `${this.#roots[index]}${relative}`;
      const info = lstatIfExists(path);
      if (!info) continue;
      if (found === undefined) {
        if (isWhiteout(info)) return undefined;
        found = { info, path, relative, layers: [index] };
        if (!info.isDirectory || isOpaque(path)) return found;
        continue;
      }
      // A lower whiteout or non-directory ends the directory's merge; lower copies stay hidden.
      if (!info.isDirectory) return found;
      found.layers.push(index);
      if (isOpaque(path)) return found;
    }
    return found;
  }
}
