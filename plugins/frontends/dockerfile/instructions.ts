/**
 * Typed Dockerfile instructions and build stages, made from the parser's nodes.
 *
 * Each instruction keeps its arguments as written. Variables are not expanded
 * and the quotes around ENV, LABEL and ARG values are still there, because
 * the converter expands them with the variables in scope at that point.
 * `expandWord` in `expand.ts` removes the quotes as it expands. This module
 * settles the shape: shell form or exec form, which words are sources and
 * which is the destination, which flags were given, and argument counts.
 *
 * Fields marked "expanded by the converter" are the ones BuildKit expands;
 * the others are used as they are.
 *
 * @example Parse stages
 * ```ts
 * import { parseDockerfile } from "./parser.ts";
 * import { parseInstructions, splitStages } from "./instructions.ts";
 *
 * const ast = parseDockerfile("ARG V=1\nFROM alpine AS base\nRUN echo $V\n");
 * const { globalArgs, stages } = splitStages(parseInstructions(ast));
 * globalArgs[0].args[0]; // { name: "V", defaultValue: "1" }
 * stages[0].name; // "base"
 * ```
 *
 * @module
 */

import { DockerfileSyntaxError } from "../../../core/errors.ts";
import type { DockerfileAst, EscapeChar, Heredoc, InstructionNode } from "./parser.ts";
import { instructionBase } from "./_instruction_base.ts";
import {
  parseCmd,
  parseEntrypoint,
  parseHealthcheck,
  parseRun,
  parseShell,
} from "./_parse_commands.ts";
import { parseAdd, parseCopy, parseVolume, parseWorkdir } from "./_parse_files.ts";
import {
  parseArg,
  parseEnv,
  parseExpose,
  parseFrom,
  parseLabel,
  parseMaintainer,
  parseStopsignal,
  parseUser,
} from "./_parse_settings.ts";

/** Location and text of an instruction in the Dockerfile. */
export interface InstructionBase {
  /** File name, for messages. */
  file: string;
  /** 1-based line of the keyword. */
  startLine: number;
  /** 1-based last line, including continuation lines and heredoc bodies. */
  endLine: number;
  /** The instruction with continuation lines joined, for progress output. */
  original: string;
}

/** A command in exec form (a JSON array) or shell form (text for the stage's shell). */
export type CommandLine =
  | { form: "exec"; args: string[] }
  | { form: "shell"; script: string };

/** `FROM [--platform=p] image [AS name]`, which starts a stage. */
export interface FromInstruction extends InstructionBase {
  keyword: "FROM";
  /** Image reference, a stage name or `scratch`; expanded by the converter with global ARGs. */
  image: string;
  /** Stage name after `AS`, in lower case. */
  stageName: string | undefined;
  /** `--platform` value; expanded by the converter. */
  platform: string | undefined;
}

/** Network mode of a RUN step. */
export type RunNetwork = "default" | "none" | "host";

/** Security mode of a RUN step. */
export type RunSecurity = "sandbox" | "insecure";

/** `RUN [--mount=...] [--network=...] [--security=...] command`. */
export interface RunInstruction extends InstructionBase {
  keyword: "RUN";
  /** Not expanded: the shell expands shell form, and exec form is used as written. */
  command: CommandLine;
  /**
   * Heredocs in the command line. When the script is only `<<EOF`, the body is
   * the script; otherwise each body is fed to the command on its file descriptor.
   */
  heredocs: Heredoc[];
  /** `--mount` values in order, unparsed; each is expanded by the converter. */
  mounts: string[];
  /** `--network`, "default" when not given. */
  network: RunNetwork;
  /** `--security`, "sandbox" when not given. */
  security: RunSecurity;
}

/** `CMD command`: the default command of the image. */
export interface CmdInstruction extends InstructionBase {
  keyword: "CMD";
  command: CommandLine;
}

/** `ENTRYPOINT command`: the entry point of the image. */
export interface EntrypointInstruction extends InstructionBase {
  keyword: "ENTRYPOINT";
  command: CommandLine;
}

/** `SHELL ["executable", "args"]`: the shell for later shell-form commands. */
export interface ShellInstruction extends InstructionBase {
  keyword: "SHELL";
  shell: string[];
}

/** Sources and destination shared by COPY and ADD. */
export interface CopySourcesAndDestination {
  /** Source paths or URLs, each expanded by the converter. */
  sources: string[];
  /** Heredoc sources (`COPY <<EOF /dest`), each a file named after its delimiter. */
  heredocSources: Heredoc[];
  /** Destination path; expanded by the converter. */
  destination: string;
  /** `--chown` value; expanded by the converter. */
  chown: string | undefined;
  /** `--chmod` value; expanded by the converter. */
  chmod: string | undefined;
  /** `--link`. */
  link: boolean;
  /** `--exclude` patterns in order; each expanded by the converter. */
  excludes: string[];
}

/** `COPY [--from=...] [flags] src... dest`. */
export interface CopyInstruction extends InstructionBase, CopySourcesAndDestination {
  keyword: "COPY";
  /** `--from` stage name, stage index or image; expanded by the converter. */
  from: string | undefined;
  /** `--parents`. */
  parents: boolean;
}

/** `ADD [flags] src... dest`. */
export interface AddInstruction extends InstructionBase, CopySourcesAndDestination {
  keyword: "ADD";
  /** `--checksum` of a remote source; expanded by the converter. */
  checksum: string | undefined;
  /** `--keep-git-dir`, undefined when not given. */
  keepGitDir: boolean | undefined;
  /** `--unpack`, undefined when not given (then local archives are unpacked, remote ones not). */
  unpack: boolean | undefined;
}

/** One name in an ARG instruction. */
export interface ArgDefinition {
  /** Variable name; expanded by the converter. */
  name: string;
  /** Default value as written, quotes included; expanded by the converter. */
  defaultValue: string | undefined;
}

/** `ARG name[=default] ...`. */
export interface ArgInstruction extends InstructionBase {
  keyword: "ARG";
  args: ArgDefinition[];
}

/** A key and a value from ENV or LABEL. */
export interface KeyValuePair {
  /** Key as written; expanded by the converter. */
  key: string;
  /** Value as written, quotes included; expanded by the converter. */
  value: string;
}

/** `ENV key=value ...` or the legacy `ENV key value`. */
export interface EnvInstruction extends InstructionBase {
  keyword: "ENV";
  pairs: KeyValuePair[];
}

/** `LABEL key=value ...`. */
export interface LabelInstruction extends InstructionBase {
  keyword: "LABEL";
  pairs: KeyValuePair[];
}

/** `EXPOSE port[/protocol] ...`. */
export interface ExposeInstruction extends InstructionBase {
  keyword: "EXPOSE";
  /** Ports as written, each expanded by the converter. */
  ports: string[];
}

/** `VOLUME path ...` or `VOLUME ["path", ...]`. */
export interface VolumeInstruction extends InstructionBase {
  keyword: "VOLUME";
  /** Paths, each expanded by the converter. */
  paths: string[];
}

/** `WORKDIR path`. */
export interface WorkdirInstruction extends InstructionBase {
  keyword: "WORKDIR";
  /** Expanded by the converter. */
  path: string;
}

/** `USER user[:group]`. */
export interface UserInstruction extends InstructionBase {
  keyword: "USER";
  /** Expanded by the converter. */
  user: string;
}

/** `STOPSIGNAL signal`. */
export interface StopsignalInstruction extends InstructionBase {
  keyword: "STOPSIGNAL";
  /** Expanded by the converter. */
  signal: string;
}

/** `HEALTHCHECK NONE` or `HEALTHCHECK [flags] CMD command`. Durations are in nanoseconds. */
export interface HealthcheckInstruction extends InstructionBase {
  keyword: "HEALTHCHECK";
  /** The image config's test: `["NONE"]`, `["CMD", ...args]` or `["CMD-SHELL", script]`. */
  test: string[];
  /** `--interval` in nanoseconds, 0 when not given. */
  interval: number;
  /** `--timeout` in nanoseconds, 0 when not given. */
  timeout: number;
  /** `--start-period` in nanoseconds, 0 when not given. */
  startPeriod: number;
  /** `--start-interval` in nanoseconds, 0 when not given. */
  startInterval: number;
  /** `--retries`, 0 when not given. */
  retries: number;
}

/** `ONBUILD instruction`: a trigger stored in the image for builds that use it as a base. */
export interface OnbuildInstruction extends InstructionBase {
  keyword: "ONBUILD";
  /** The trigger, parsed and checked. */
  trigger: Instruction;
  /** The trigger's text with heredoc bodies, as stored in the image config's `OnBuild`. */
  expression: string;
}

/** `MAINTAINER name`, deprecated in favour of a label. */
export interface MaintainerInstruction extends InstructionBase {
  keyword: "MAINTAINER";
  maintainer: string;
}

/** Any Dockerfile instruction, discriminated by `keyword`. */
export type Instruction =
  | FromInstruction
  | RunInstruction
  | CmdInstruction
  | EntrypointInstruction
  | ShellInstruction
  | CopyInstruction
  | AddInstruction
  | ArgInstruction
  | EnvInstruction
  | LabelInstruction
  | ExposeInstruction
  | VolumeInstruction
  | WorkdirInstruction
  | UserInstruction
  | StopsignalInstruction
  | HealthcheckInstruction
  | OnbuildInstruction
  | MaintainerInstruction;

/** An instruction keyword in upper case. */
export type InstructionKeyword = Instruction["keyword"];

/** A build stage: a FROM and the instructions up to the next FROM. */
export interface Stage {
  /** Name after `AS`, in lower case. */
  name: string | undefined;
  /** 0-based position among the stages, which `COPY --from=<index>` uses. */
  index: number;
  from: FromInstruction;
  /** The stage's instructions after FROM, in order. */
  commands: Instruction[];
}

/** The result of {@linkcode splitStages}. */
export interface SplitStagesResult {
  /** ARG instructions before the first FROM, whose values FROM lines can use. */
  globalArgs: ArgInstruction[];
  stages: Stage[];
}

/** File name and escape character for the per-keyword parsers. */
export interface InstructionContext {
  file: string;
  escapeChar: EscapeChar;
}

type InstructionParser = (node: InstructionNode, context: InstructionContext) => Instruction;

const PARSERS: Readonly<Record<InstructionKeyword, InstructionParser>> = {
  FROM: parseFrom,
  RUN: parseRun,
  CMD: parseCmd,
  ENTRYPOINT: parseEntrypoint,
  SHELL: parseShell,
  COPY: parseCopy,
  ADD: parseAdd,
  ARG: parseArg,
  ENV: parseEnv,
  LABEL: parseLabel,
  EXPOSE: parseExpose,
  VOLUME: parseVolume,
  WORKDIR: parseWorkdir,
  USER: parseUser,
  STOPSIGNAL: parseStopsignal,
  HEALTHCHECK: parseHealthcheck,
  ONBUILD: parseOnbuild,
  MAINTAINER: parseMaintainer,
};

/** Every instruction keyword, in upper case. */
export const INSTRUCTION_KEYWORDS: readonly InstructionKeyword[] = Object.keys(
  PARSERS,
) as InstructionKeyword[];

/**
 * Turns every node of `ast` into a typed instruction.
 *
 * @param ast The result of `parseDockerfile`.
 * @returns The instructions in file order.
 * @throws {DockerfileSyntaxError} on an unknown instruction, an unknown or
 * malformed flag, or a wrong number of arguments, naming file and line.
 *
 * @example Read a COPY
 * ```ts
 * import { parseDockerfile } from "./parser.ts";
 * import { parseInstructions } from "./instructions.ts";
 *
 * const [, copy] = parseInstructions(parseDockerfile("FROM a\nCOPY --link x y /app/\n"));
 * if (copy.keyword === "COPY") copy.sources; // ["x", "y"]
 * ```
 */
export function parseInstructions(ast: DockerfileAst): Instruction[] {
  const context = { file: ast.file, escapeChar: ast.escapeChar };
  return ast.nodes.map((node) => parseInstruction(node, context));
}

/**
 * Turns one node into a typed instruction.
 *
 * @throws {DockerfileSyntaxError} as {@linkcode parseInstructions} does.
 */
export function parseInstruction(node: InstructionNode, context: InstructionContext): Instruction {
  const keyword = node.keyword.toUpperCase();
  const parser = Object.hasOwn(PARSERS, keyword)
    ? PARSERS[keyword as InstructionKeyword]
    : undefined;
  const location = { file: context.file, line: node.startLine };
  if (!parser) {
    throw new DockerfileSyntaxError(
      `unknown instruction ${JSON.stringify(node.keyword)}`,
      location,
    );
  }

  try {
    return parser(node, context);
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    throw new DockerfileSyntaxError(error.message, { ...location, cause: error });
  }
}

const FORBIDDEN_TRIGGERS = new Set(["ONBUILD", "FROM", "MAINTAINER"]);

function parseOnbuild(node: InstructionNode, context: InstructionContext): OnbuildInstruction {
  const trigger = node.trigger;
  if (!trigger) throw new SyntaxError("ONBUILD requires at least one argument");
  if (node.flags.length > 0) {
    throw new SyntaxError(`unknown flag "--${node.flags[0].name}" for ONBUILD`);
  }
  const triggerKeyword = trigger.keyword.toUpperCase();
  if (FORBIDDEN_TRIGGERS.has(triggerKeyword)) {
    throw new SyntaxError(`${triggerKeyword} is not allowed as an ONBUILD trigger`);
  }

  const expression = trigger.original +
    trigger.heredocs.map((heredoc) => `\n${heredoc.content}${heredoc.name}`).join("");
  return {
    ...instructionBase(node, context),
    keyword: "ONBUILD",
    trigger: parseInstruction(trigger, context),
    expression,
  };
}

/**
 * Groups instructions into stages, each starting at a FROM, and returns the
 * ARG instructions before the first FROM separately.
 *
 * @param instructions The result of {@linkcode parseInstructions}.
 * @returns The global ARGs and the stages in order.
 * @throws {DockerfileSyntaxError} when an instruction other than ARG comes
 * before the first FROM, when there is no FROM, or when two stages share a name.
 *
 * @example Two stages
 * ```ts
 * import { parseDockerfile } from "./parser.ts";
 * import { parseInstructions, splitStages } from "./instructions.ts";
 *
 * const text = "FROM golang AS build\nRUN go build\nFROM scratch\nCOPY --from=build /app /\n";
 * const { stages } = splitStages(parseInstructions(parseDockerfile(text)));
 * stages.map((stage) => stage.name); // ["build", undefined]
 * ```
 */
export function splitStages(instructions: readonly Instruction[]): SplitStagesResult {
  const globalArgs: ArgInstruction[] = [];
  const stages: Stage[] = [];
  const stageLines = new Map<string, number>();

  for (const instruction of instructions) {
    const current = stages[stages.length - 1];
    if (instruction.keyword === "FROM") {
      checkStageName(instruction, stageLines);
      stages.push({
        name: instruction.stageName,
        index: stages.length,
        from: instruction,
        commands: [],
      });
    } else if (current) {
      current.commands.push(instruction);
    } else if (instruction.keyword === "ARG") {
      globalArgs.push(instruction);
    } else {
      throw new DockerfileSyntaxError(
        `${instruction.keyword} before the first FROM: only ARG may come before FROM`,
        { file: instruction.file, line: instruction.startLine },
      );
    }
  }

  if (stages.length === 0) {
    const last = instructions[instructions.length - 1];
    throw new DockerfileSyntaxError("no FROM instruction: a Dockerfile needs at least one stage", {
      file: last?.file ?? "Dockerfile",
      line: last?.endLine ?? 1,
    });
  }
  return { globalArgs, stages };
}

// NOTE: BuildKit only warns about a repeated stage name; it is an error here
// because `COPY --from=<name>` would be ambiguous.
function checkStageName(from: FromInstruction, stageLines: Map<string, number>): void {
  if (from.stageName === undefined) return;
  const firstLine = stageLines.get(from.stageName);
  if (firstLine !== undefined) {
    throw new DockerfileSyntaxError(
      `duplicate stage name ${JSON.stringify(from.stageName)}: already used on line ${firstLine}`,
      { file: from.file, line: from.startLine },
    );
  }
  stageLines.set(from.stageName, from.startLine);
}
