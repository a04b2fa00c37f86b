/**
 * Parsers for FROM and the instructions that set a value: ARG, ENV, LABEL,
 * EXPOSE, USER, STOPSIGNAL and MAINTAINER.
 *
 * @module
 */

import type {
  ArgDefinition,
  ArgInstruction,
  EnvInstruction,
  ExposeInstruction,
  FromInstruction,
  InstructionContext,
  KeyValuePair,
  LabelInstruction,
  MaintainerInstruction,
  StopsignalInstruction,
  UserInstruction,
} from "./instructions.ts";
import type { InstructionNode } from "./parser.ts";
import { checkFlags } from "./_builder_flags.ts";
import { instructionBase } from "./_instruction_base.ts";
import { splitAtBlanks, splitQuotedWords } from "./_words.ts";

const STAGE_NAME = /^[a-z][a-z0-9_.-]*$/;

export function parseFrom(node: InstructionNode, context: InstructionContext): FromInstruction {
  const flags = checkFlags("FROM", node.flags, { platform: "string" });
  const words = splitAtBlanks(node.args);
  const named = words.length === 3 && words[1].toUpperCase() === "AS";
  if (words.length !== 1 && !named) {
    throw new SyntaxError(
      `FROM requires either one argument or three ("FROM image AS name"): found ${words.length}`,
    );
  }

  const stageName = named ? words[2].toLowerCase() : undefined;
  if (stageName !== undefined && !STAGE_NAME.test(stageName)) {
    throw new SyntaxError(
      `invalid stage name ${JSON.stringify(words[2])}: ` +
        'must start with a letter and contain only letters, digits, "-", "_" and "."',
    );
  }
  return {
    ...instructionBase(node, context),
    keyword: "FROM",
    image: words[0],
    stageName,
    platform: flags.string("platform"),
  };
}

export function parseArg(node: InstructionNode, context: InstructionContext): ArgInstruction {
  checkFlags("ARG", node.flags, {});
  const words = splitQuotedWords(node.args, context.escapeChar);
  if (words.length === 0) throw new SyntaxError("ARG requires at least one argument");

  const args = words.map((word): ArgDefinition => {
    const equals = word.indexOf("=");
    const name = equals < 0 ? word : word.slice(0, equals);
    if (name === "") throw new SyntaxError("ARG names must not be empty");
    return { name, defaultValue: equals < 0 ? undefined : word.slice(equals + 1) };
  });
  return { ...instructionBase(node, context), keyword: "ARG", args };
}

export function parseEnv(node: InstructionNode, context: InstructionContext): EnvInstruction {
  checkFlags("ENV", node.flags, {});
  const pairs = parseKeyValuePairs(node.args, context, "ENV");
  return { ...instructionBase(node, context), keyword: "ENV", pairs };
}

export function parseLabel(node: InstructionNode, context: InstructionContext): LabelInstruction {
  checkFlags("LABEL", node.flags, {});
  const pairs = parseKeyValuePairs(node.args, context, "LABEL");
  return { ...instructionBase(node, context), keyword: "LABEL", pairs };
}

export function parseExpose(node: InstructionNode, context: InstructionContext): ExposeInstruction {
  checkFlags("EXPOSE", node.flags, {});
  const ports = splitAtBlanks(node.args);
  if (ports.length === 0) throw new SyntaxError("EXPOSE requires at least one argument");
  return { ...instructionBase(node, context), keyword: "EXPOSE", ports };
}

export function parseUser(node: InstructionNode, context: InstructionContext): UserInstruction {
  return { ...instructionBase(node, context), keyword: "USER", user: singleArgument(node, "USER") };
}

export function parseStopsignal(
  node: InstructionNode,
  context: InstructionContext,
): StopsignalInstruction {
  const signal = singleArgument(node, "STOPSIGNAL");
  return { ...instructionBase(node, context), keyword: "STOPSIGNAL", signal };
}

export function parseMaintainer(
  node: InstructionNode,
  context: InstructionContext,
): MaintainerInstruction {
  const maintainer = singleArgument(node, "MAINTAINER");
  return { ...instructionBase(node, context), keyword: "MAINTAINER", maintainer };
}

// USER, STOPSIGNAL and MAINTAINER take the rest of the line as one argument,
// blanks included, as BuildKit does.
function singleArgument(node: InstructionNode, keyword: string): string {
  checkFlags(keyword, node.flags, {});
  if (node.args === "") throw new SyntaxError(`${keyword} requires exactly one argument`);
  return node.args;
}

// Reads `key=value ...`, or the legacy `key value` where the value is the
// rest of the line. The first word decides which form applies.
function parseKeyValuePairs(
  text: string,
  context: InstructionContext,
  keyword: string,
): KeyValuePair[] {
  const words = splitQuotedWords(text, context.escapeChar);
  if (words.length === 0) throw new SyntaxError(`${keyword} requires at least one argument`);

  if (!words[0].includes("=")) {
    const legacy = /^(.*?)[\t\v\f\r ]+([^]*)$/.exec(text);
    if (!legacy) {
      throw new SyntaxError(
        `${keyword} requires a value for ${JSON.stringify(text)}: write "${keyword} ${text}=value"`,
      );
    }
    return [{ key: legacy[1], value: legacy[2] }];
  }

  return words.map((word) => {
    const equals = word.indexOf("=");
    if (equals < 0) {
      throw new SyntaxError(
        `invalid ${keyword} pair ${JSON.stringify(word)}: must be of the form name=value`,
      );
    }
    if (equals === 0) throw new SyntaxError(`${keyword} names must not be empty`);
    return { key: word.slice(0, equals), value: word.slice(equals + 1) };
  });
}
