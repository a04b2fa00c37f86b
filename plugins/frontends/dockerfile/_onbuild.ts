/**
 * ONBUILD triggers: the instructions a base stores in its image config's
 * `OnBuild`, which run in a stage built FROM it before the stage's own.
 *
 * @module
 */

import { DockerfileSyntaxError } from "../../../core/errors.ts";
import { parseDockerfile } from "./parser.ts";
import { type Instruction, parseInstructions } from "./instructions.ts";
import type { SourceLocation } from "./_convert_context.ts";

const FORBIDDEN_TRIGGERS = new Set(["ONBUILD", "FROM", "MAINTAINER"]);

/**
 * Parses the trigger expressions of a base image or stage. Each must be one
 * instruction; as in BuildKit, errors name the FROM line of the stage that
 * runs them.
 *
 * @throws {DockerfileSyntaxError} for a trigger that does not parse, contains
 * several instructions, or is ONBUILD, FROM or MAINTAINER.
 */
export function parseTriggers(expressions: readonly string[], from: SourceLocation): Instruction[] {
  return expressions.map((expression) => {
    let instructions: Instruction[];
    try {
      instructions = parseInstructions(parseDockerfile(expression, { file: from.file }));
    } catch (error) {
      throw new DockerfileSyntaxError(
        `invalid ONBUILD trigger ${JSON.stringify(expression)} of the base image: ${
          (error as Error).message
        }`,
        { ...from, cause: error },
      );
    }
    if (instructions.length !== 1 || FORBIDDEN_TRIGGERS.has(instructions[0].keyword)) {
      throw new DockerfileSyntaxError(
        `invalid ONBUILD trigger ${JSON.stringify(expression)} of the base image: ` +
          "must be a single instruction other than ONBUILD, FROM or MAINTAINER",
        from,
      );
    }
    // The trigger's own line numbers count from its text; report the FROM line instead.
    return { ...instructions[0], startLine: from.line, endLine: from.line };
  });
}
