/**
 * Parsers for the instructions that name paths: COPY, ADD, VOLUME and WORKDIR.
 *
 * @module
 */

import type {
  AddInstruction,
  CopyInstruction,
  CopySourcesAndDestination,
  InstructionContext,
  VolumeInstruction,
  WorkdirInstruction,
} from "./instructions.ts";
import type { Heredoc, InstructionNode } from "./parser.ts";
import { checkFlags, type FlagValues } from "./_builder_flags.ts";
import { trimSpace } from "./_chars.ts";
import { type HeredocMarker, parseHeredocMarker } from "./_heredoc.ts";
import { instructionBase } from "./_instruction_base.ts";
import { splitAtBlanks } from "./_words.ts";

export function parseCopy(node: InstructionNode, context: InstructionContext): CopyInstruction {
  const flags = checkFlags("COPY", node.flags, {
    from: "string",
    chown: "string",
    chmod: "string",
    link: "bool",
    exclude: "strings",
    parents: "bool",
  });

  return {
    ...instructionBase(node, context),
    keyword: "COPY",
    ...sourcesAndDestination(node, context, flags, "COPY"),
    from: flags.string("from"),
    parents: flags.bool("parents") ?? false,
  };
}

export function parseAdd(node: InstructionNode, context: InstructionContext): AddInstruction {
  const flags = checkFlags("ADD", node.flags, {
    chown: "string",
    chmod: "string",
    link: "bool",
    exclude: "strings",
    checksum: "string",
    "keep-git-dir": "bool",
    unpack: "bool",
  });

  return {
    ...instructionBase(node, context),
    keyword: "ADD",
    ...sourcesAndDestination(node, context, flags, "ADD"),
    checksum: flags.string("checksum"),
    keepGitDir: flags.bool("keep-git-dir"),
    unpack: flags.bool("unpack"),
  };
}

export function parseVolume(node: InstructionNode, context: InstructionContext): VolumeInstruction {
  checkFlags("VOLUME", node.flags, {});
  const paths = (node.json ?? splitAtBlanks(node.args)).map((path) => trimSpace(path));
  if (paths.length === 0) throw new SyntaxError("VOLUME requires at least one argument");
  if (paths.includes("")) throw new SyntaxError("VOLUME paths must not be empty");
  return { ...instructionBase(node, context), keyword: "VOLUME", paths };
}

export function parseWorkdir(
  node: InstructionNode,
  context: InstructionContext,
): WorkdirInstruction {
  checkFlags("WORKDIR", node.flags, {});
  if (node.args === "") throw new SyntaxError("WORKDIR requires exactly one argument");
  return { ...instructionBase(node, context), keyword: "WORKDIR", path: node.args };
}

// Splits the words into sources and the destination. In shell form a source
// written as `<<EOF` names one of the node's heredocs, but in exec form it is a path.
function sourcesAndDestination(
  node: InstructionNode,
  context: InstructionContext,
  flags: FlagValues,
  keyword: string,
): CopySourcesAndDestination {
  const words = node.json ?? splitAtBlanks(node.args);
  if (words.length < 2) {
    throw new SyntaxError(`${keyword} requires at least two arguments: a source and a destination`);
  }
  const destination = words[words.length - 1];
  if (node.json === undefined && markerOf(destination, context)) {
    throw new SyntaxError(`${keyword} cannot accept a heredoc as the destination`);
  }

  const sources: string[] = [];
  const heredocSources: Heredoc[] = [];
  for (const word of words.slice(0, -1)) {
    const heredoc = node.json === undefined
      ? heredocNamed(node, markerOf(word, context))
      : undefined;
    if (heredoc) heredocSources.push(heredoc);
    else sources.push(word);
  }

  return {
    sources,
    heredocSources,
    destination,
    chown: flags.string("chown"),
    chmod: flags.string("chmod"),
    link: flags.bool("link") ?? false,
    excludes: flags.strings("exclude"),
  };
}

// A word that cannot be read as a marker (an open quote) is a path, as in BuildKit.
function markerOf(word: string, context: InstructionContext): HeredocMarker | undefined {
  try {
    return parseHeredocMarker(word, context.escapeChar);
  } catch {
    return undefined;
  }
}

function heredocNamed(
  node: InstructionNode,
  marker: HeredocMarker | undefined,
): Heredoc | undefined {
  if (!marker) return undefined;
  return node.heredocs.findLast((heredoc) => heredoc.name === marker.name);
}
