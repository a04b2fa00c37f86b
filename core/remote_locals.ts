/**
 * Local directories that come from a source instead of the disk, such as a
 * build context given as a git URL: each is solved into a snapshot before the
 * frontend runs, and that snapshot's directory serves as the local.
 *
 * @module
 */

import { InvalidInputError } from "./errors.ts";
import { source } from "./graph/builder.ts";
import { loadGraph } from "./graph/definition.ts";
import { Solver, type SolverOptions } from "./solver/solver.ts";

/**
 * Solves each source identifier in `identifiers` (local name → identifier,
 * e.g. `context` → `git://https://host/repo.git#main`) and returns the
 * directory of each result by local name. Results are cached like any source
 * op, so a repeated build costs what the source's resolution costs.
 *
 * Each directory is a snapshot's diff directory in the store: readable while
 * the store is open, and never to be written to.
 */
export async function loadRemoteLocals(
  identifiers: Record<string, string>,
  options: SolverOptions,
): Promise<Record<string, string>> {
  const dirs: Record<string, string> = {};
  const entries = Object.entries(identifiers);
  if (entries.length === 0) return dirs;

  const solver = new Solver(options);
  for (const [name, identifier] of entries) {
    const description = `[internal] load remote ${name} ${redactUserinfo(identifier)}`;
    const graph = loadGraph(source(identifier, {}, { description }).marshal());
    const solved = await solver.solve(graph);
    const snapshot = solved?.snapshot;
    const info = snapshot ? await options.store.snapshots.get(snapshot) : undefined;
    // A snapshot with a parent is not a whole tree by itself; the git source never makes one.
    if (!snapshot || !info || info.parent) {
      throw new InvalidInputError(
        `Failed to use "${
          redactUserinfo(identifier)
        }" as local "${name}": its source did not produce a single directory`,
      );
    }
    dirs[name] = options.store.snapshots.diffDir(snapshot);
  }
  return dirs;
}

/** Returns `text` with the `user:password@` part of any URL in it replaced by `***@`. */
export function redactUserinfo(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/@#?\s]*@/gi, "$1***@");
}
