/**
 * Progress names for ops that carry no description of their own.
 *
 * @module
 */

import type { GraphVertex } from "../graph/definition.ts";

/** Returns the name progress shows for `vertex`. */
export function describeVertex(vertex: GraphVertex): string {
  const description = vertex.metadata?.description;
  if (description) return description;
  const op = vertex.op.op;
  switch (op.case) {
    case "source":
      return op.value.identifier;
    case "exec":
      return op.value.meta?.args.join(" ") ?? "exec";
    case "file":
      return op.value.actions.map((action) => action.action.case).join(", ") || "file";
    default:
      return vertex.digest;
  }
}
