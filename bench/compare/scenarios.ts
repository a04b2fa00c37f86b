/**
 * The benchmark scenarios and the loop that times every tool on one of them, interleaving
 * the tools within each round.
 *
 * @module
 */

import { isStopping } from "./processes.ts";
import type { BenchTool, ToolName } from "./tool.ts";

/** Names of the scenarios, as accepted by `--scenario`. */
export type ScenarioName = "cold" | "rebuild" | "two-stage";

/** One kind of build that every tool runs the same way. */
export interface Scenario {
  name: ScenarioName;
  description: string;
  /** Build context with the scenario's Dockerfile. */
  contextDir: string;
  /**
   * Whether each timed build starts cold (`reset()` first). Otherwise the tool is reset and
   * builds once untimed before the rounds, and every round times a build with no change.
   */
  cold: boolean;
}

const CONTEXTS = new URL("./contexts/", import.meta.url).pathname;

/** Every scenario, in the order the bench runs them. */
export const SCENARIOS: readonly Scenario[] = [
  {
    name: "cold",
    description: "small one-stage build with no cache and no base image",
    contextDir: `${CONTEXTS}small`,
    cold: true,
  },
  {
    name: "rebuild",
    description: "the small build again with nothing changed",
    contextDir: `${CONTEXTS}small`,
    cold: false,
  },
  {
    name: "two-stage",
    description: "cold build of two stages that each run sleep 1",
    contextDir: `${CONTEXTS}two_stage`,
    cold: true,
  },
];

/** The times of one tool on one scenario. */
export interface ToolRun {
  tool: ToolName;
  /** Seconds per round; undefined for rounds after a failure. */
  seconds: (number | undefined)[];
  /** Reason the tool stopped running this scenario, when it did. */
  failure?: string;
}

/** Receives one line of progress. */
export type ProgressLog = (line: string) => void;

/**
 * Runs `scenario` for `rounds` rounds. Each round runs every tool once, in an order rotated
 * by one place per round, so that no tool always runs right after a particular other one.
 * A tool whose build fails is dropped from the rest of the scenario with the reason kept.
 */
export async function runScenario(
  scenario: Scenario,
  tools: readonly BenchTool[],
  rounds: number,
  log: ProgressLog,
): Promise<ToolRun[]> {
  const runs = new Map(tools.map((tool) => [tool, newRun(tool.name, rounds)]));
  if (!scenario.cold) {
    for (const tool of tools) {
      await attempt(runs.get(tool)!, log, async () => {
        await tool.reset();
        await tool.build(scenario.contextDir);
      });
    }
  }

  for (let round = 0; round < rounds && !isStopping(); round++) {
    for (const tool of rotate(tools, round)) {
      const run = runs.get(tool)!;
      if (run.failure !== undefined) continue;
      await attempt(run, log, async () => {
        if (scenario.cold) await tool.reset();
        const seconds = await tool.build(scenario.contextDir);
        run.seconds[round] = seconds;
        log(`${scenario.name} round ${round + 1}/${rounds} ${tool.name} ${seconds.toFixed(3)} s`);
      });
    }
  }
  return [...runs.values()];
}

function newRun(tool: ToolName, rounds: number): ToolRun {
  return { tool, seconds: new Array<number | undefined>(rounds).fill(undefined) };
}

async function attempt(run: ToolRun, log: ProgressLog, work: () => Promise<void>) {
  try {
    await work();
  } catch (error) {
    run.failure = error instanceof Error ? error.message : String(error);
    if (isStopping()) return;
    log(`${run.tool} failed and is left out of the rest of this scenario: ${run.failure}`);
  }
}

function rotate<T>(items: readonly T[], by: number): T[] {
  const shift = items.length === 0 ? 0 : by % items.length;
  return [...items.slice(shift), ...items.slice(0, shift)];
}
