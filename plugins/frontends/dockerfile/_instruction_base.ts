/**
 * The location fields that every typed instruction carries.
 *
 * @module
 */

import type { InstructionBase, InstructionContext } from "./instructions.ts";
import type { InstructionNode } from "./parser.ts";

/** Copies the file, line range and text of `node` into an instruction. */
export function instructionBase(
  node: InstructionNode,
  context: InstructionContext,
): InstructionBase {
  return {
    file: context.file,
    startLine: node.startLine,
    endLine: node.endLine,
    original: node.original,
  };
}
