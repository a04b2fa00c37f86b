/**
 * Parsers for the instructions that run or name a command: RUN, CMD,
 * ENTRYPOINT, SHELL and HEALTHCHECK.
 *
 * @module
 */

import type {
  CmdInstruction,
  CommandLine,
  EntrypointInstruction,
  HealthcheckInstruction,
  InstructionContext,
  RunInstruction,
  RunNetwork,
  RunSecurity,
  ShellInstruction,
} from "./instructions.ts";
import type { InstructionNode } from "./parser.ts";
import { checkFlags } from "./_builder_flags.ts";
import { isSpace } from "./_chars.ts";
import { parseGoDuration } from "./_duration.ts";
import { instructionBase } from "./_instruction_base.ts";

const RUN_NETWORKS: readonly RunNetwork[] = ["default", "none", "host"];
const RUN_SECURITY: readonly RunSecurity[] = ["sandbox", "insecure"];

export function parseRun(node: InstructionNode, context: InstructionContext): RunInstruction {
  const flags = checkFlags("RUN", node.flags, {
    mount: "strings",
    network: "string",
    security: "string",
  });
  const command = commandLine(node);
  if (command.form === "exec" ? command.args.length === 0 : command.script === "") {
    throw new SyntaxError("RUN requires at least one argument");
  }

  return {
    ...instructionBase(node, context),
    keyword: "RUN",
    command,
    heredocs: node.heredocs,
    mounts: flags.strings("mount"),
    network: oneOf("network", flags.string("network") ?? "default", RUN_NETWORKS),
    security: oneOf("security", flags.string("security") ?? "sandbox", RUN_SECURITY),
  };
}

export function parseCmd(node: InstructionNode, context: InstructionContext): CmdInstruction {
  checkFlags("CMD", node.flags, {});
  return {
    ...instructionBase(node, context),
    keyword: "CMD",
    command: nonEmptyCommand(node, "CMD"),
  };
}

export function parseEntrypoint(
  node: InstructionNode,
  context: InstructionContext,
): EntrypointInstruction {
  checkFlags("ENTRYPOINT", node.flags, {});
  return {
    ...instructionBase(node, context),
    keyword: "ENTRYPOINT",
    command: nonEmptyCommand(node, "ENTRYPOINT"),
  };
}

export function parseShell(node: InstructionNode, context: InstructionContext): ShellInstruction {
  checkFlags("SHELL", node.flags, {});
  if (node.json === undefined) {
    if (node.args === "") throw new SyntaxError("SHELL requires at least one argument");
    throw new SyntaxError('SHELL requires the JSON form, e.g. SHELL ["/bin/sh", "-c"]');
  }
  if (node.json.length === 0) throw new SyntaxError("SHELL requires at least one argument");
  return { ...instructionBase(node, context), keyword: "SHELL", shell: node.json };
}

export function parseHealthcheck(
  node: InstructionNode,
  context: InstructionContext,
): HealthcheckInstruction {
  const { type, rest } = splitFirstWord(node.args);
  if (type === "") throw new SyntaxError("HEALTHCHECK requires at least one argument");
  const base = { ...instructionBase(node, context), keyword: "HEALTHCHECK" as const };

  if (type.toUpperCase() === "NONE") {
    if (rest !== "") throw new SyntaxError("HEALTHCHECK NONE takes no arguments");
    if (node.flags.length > 0) {
      throw new SyntaxError(`HEALTHCHECK NONE takes no flags: found "--${node.flags[0].name}"`);
    }
    return {
      ...base,
      test: ["NONE"],
      interval: 0,
      timeout: 0,
      startPeriod: 0,
      startInterval: 0,
      retries: 0,
    };
  }
  if (type.toUpperCase() !== "CMD") {
    throw new SyntaxError(`unknown HEALTHCHECK type ${JSON.stringify(type)}: must be CMD or NONE`);
  }

  const flags = checkFlags("HEALTHCHECK", node.flags, {
    interval: "string",
    timeout: "string",
    "start-period": "string",
    "start-interval": "string",
    retries: "string",
  });
  const command = node.json ?? (rest === "" ? [] : [rest]);
  if (command.length === 0) throw new SyntaxError("HEALTHCHECK CMD requires a command");
  return {
    ...base,
    test: node.json ? ["CMD", ...command] : ["CMD-SHELL", rest],
    interval: healthcheckDuration("interval", flags.string("interval")),
    timeout: healthcheckDuration("timeout", flags.string("timeout")),
    startPeriod: healthcheckDuration("start-period", flags.string("start-period")),
    startInterval: healthcheckDuration("start-interval", flags.string("start-interval")),
    retries: healthcheckRetries(flags.string("retries")),
  };
}

function commandLine(node: InstructionNode): CommandLine {
  if (node.json !== undefined) return { form: "exec", args: node.json };
  return { form: "shell", script: node.args };
}

// An empty exec form (`CMD []`) clears the setting and is allowed, but an
// empty shell form would run the shell without a command.
function nonEmptyCommand(node: InstructionNode, keyword: string): CommandLine {
  const command = commandLine(node);
  if (command.form === "shell" && command.script === "") {
    throw new SyntaxError(`${keyword} requires at least one argument`);
  }
  return command;
}

function oneOf<T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new SyntaxError(
    `invalid value ${JSON.stringify(value)} for flag "--${flag}" of RUN: must be ${
      allowed.join(", ")
    }`,
  );
}

function splitFirstWord(text: string): { type: string; rest: string } {
  const chars = Array.from(text);
  let end = 0;
  while (end < chars.length && !isSpace(chars[end])) end++;
  let rest = end;
  while (rest < chars.length && isSpace(chars[rest])) rest++;
  return { type: chars.slice(0, end).join(""), rest: chars.slice(rest).join("") };
}

// Returns nanoseconds. 0 means "not set", and anything else must be at least 1ms.
function healthcheckDuration(flag: string, value: string | undefined): number {
  if (value === undefined || value === "") return 0;
  let nanoseconds: number;
  try {
    nanoseconds = parseGoDuration(value);
  } catch {
    throw new SyntaxError(
      `invalid value ${
        JSON.stringify(value)
      } for flag "--${flag}" of HEALTHCHECK: must be a duration such as 30s`,
    );
  }
  if (nanoseconds !== 0 && nanoseconds < 1e6) {
    throw new SyntaxError(
      `invalid value ${
        JSON.stringify(value)
      } for flag "--${flag}" of HEALTHCHECK: must be at least 1ms`,
    );
  }
  return nanoseconds;
}

function healthcheckRetries(value: string | undefined): number {
  if (value === undefined || value === "") return 0;
  const retries = /^[+-]?\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(retries) || retries < 0 || retries > 2 ** 31 - 1) {
    throw new SyntaxError(
      `invalid value ${
        JSON.stringify(value)
      } for flag "--retries" of HEALTHCHECK: must be a non-negative integer`,
    );
  }
  return retries;
}
