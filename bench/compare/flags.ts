/**
 * Command-line flags of `deno task bench`.
 *
 * @module
 */

import {
  flagEnabled,
  type FlagSpec,
  flagValue,
  flagValues,
  formatFlags,
  parseArgs,
} from "../../core/cli/args.ts";
import { InvalidInputError } from "../../core/errors.ts";
import { type ScenarioName, SCENARIOS } from "./scenarios.ts";
import { TOOL_NAMES, type ToolName } from "./tool.ts";

/** Resolved bench options, with every field set. */
export interface BenchOptions {
  /** Rounds per scenario; each round runs every tool once. */
  rounds: number;
  /** Tools to run, in report order. */
  tools: ToolName[];
  /** Scenarios to run, in run order. */
  scenarios: ScenarioName[];
  /** Path of the JSON results file, if one was requested. */
  jsonPath?: string;
  /** Whether --help was given. */
  help: boolean;
}

/** Default number of rounds: the fewest that give a median that one outlier cannot move far. */
export const DEFAULT_ROUNDS = 5;

const FLAGS: FlagSpec[] = [
  {
    name: "rounds",
    placeholder: "N",
    description: `Rounds per scenario, each running every tool once (default: ${DEFAULT_ROUNDS})`,
  },
  {
    name: "only",
    placeholder: "TOOL",
    multiple: true,
    description: `Run only this tool: ${TOOL_NAMES.join(", ")} (default: all that are installed)`,
  },
  {
    name: "scenario",
    placeholder: "NAME",
    multiple: true,
    description: `Run only this scenario: ${
      SCENARIOS.map((s) => s.name).join(", ")
    } (default: all)`,
  },
  { name: "json", placeholder: "PATH", description: "Also write the results as JSON to PATH" },
  { name: "help", short: "h", boolean: true, description: "Show this help" },
];

/** Help text for `deno task bench --help`. */
export const BENCH_USAGE = `Usage: deno task bench [flags]

Times tsbuild, BuildKit (in a private dockerd) and buildah on the same Dockerfiles and
prints medians and paired ratios (tsbuild time / peer time). Peers that are not installed
are skipped.

Flags:
${formatFlags(FLAGS)}
`;

/**
 * Parses the bench's command line.
 *
 * @throws {InvalidInputError} for an unknown flag, a bad --rounds value, or a tool or
 * scenario name that does not exist; the message names the flag.
 */
export function parseBenchFlags(argv: string[]): BenchOptions {
  const args = parseArgs(argv, FLAGS);
  if (args.positionals.length > 0) {
    throw new InvalidInputError(
      `Unexpected argument "${args.positionals[0]}": the bench takes flags only`,
    );
  }

  const roundsText = flagValue(args, "rounds", String(DEFAULT_ROUNDS))!;
  const rounds = Number(roundsText);
  if (!Number.isInteger(rounds) || rounds < 1) {
    throw new InvalidInputError(`Invalid --rounds "${roundsText}": expected a whole number >= 1`);
  }

  return {
    rounds,
    tools: pickNames("only", flagValues(args, "only"), TOOL_NAMES),
    scenarios: pickNames("scenario", flagValues(args, "scenario"), SCENARIOS.map((s) => s.name)),
    jsonPath: flagValue(args, "json"),
    help: flagEnabled(args, "help"),
  };
}

// Accepts repeated flags and comma-separated lists; returns the names in `known` order.
function pickNames<T extends string>(flag: string, values: string[], known: readonly T[]): T[] {
  if (values.length === 0) return [...known];
  const requested = new Set(values.flatMap((value) => value.split(",")).map((name) => name.trim()));
  for (const name of requested) {
    if (!(known as readonly string[]).includes(name)) {
      throw new InvalidInputError(
        `Invalid --${flag} "${name}": expected one of ${known.join(", ")}`,
      );
    }
  }
  return known.filter((name) => requested.has(name));
}
