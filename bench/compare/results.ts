/**
 * The bench's results as data: per-tool summaries, paired ratios against each peer, and the
 * shape of the JSON file that `--json` writes.
 *
 * @module
 */

import type { ScenarioName, ToolRun } from "./scenarios.ts";
import { median, pairedRatios, summarize, type Summary } from "./stats.ts";
import type { ToolName } from "./tool.ts";

/** The runs of every tool on one scenario. */
export interface ScenarioRuns {
  scenario: ScenarioName;
  runs: ToolRun[];
}

/** One line of the results table: one tool on one scenario. */
export interface ResultRow {
  scenario: ScenarioName;
  tool: ToolName;
  /** Seconds per round; null for rounds after a failure. */
  seconds: (number | null)[];
  /** Median, min and max over the rounds that finished; absent when none did. */
  summary?: Summary;
  failure?: string;
}

/** tsbuild's time divided by a peer's time, round by round, on one scenario. */
export interface RatioRow {
  scenario: ScenarioName;
  peer: ToolName;
  /** One ratio per round in which both tools finished. */
  perRound: number[];
  /** Median of `perRound`; absent when no round had both tools. */
  median?: number;
}

/** Verdict on one goal: PASS or MISS, or SKIP when the data it needs was not measured. */
export interface GoalResult {
  goal: string;
  status: "PASS" | "MISS" | "SKIP";
  detail: string;
  /** The measured number the verdict is based on: a ratio or a difference in seconds. */
  value?: number;
}

/** A tool that ran, with its version and notes for the report. */
export interface ToolInfo {
  name: ToolName;
  version: string;
  notes: string[];
}

/** Everything the bench measured; `--json` writes this object. */
export interface BenchReport {
  /** ISO 8601 time at which the bench started. */
  date: string;
  /** The command line, for repeating the run. */
  command: string;
  machine: MachineInfo;
  rounds: number;
  tools: ToolInfo[];
  skipped: { tool: ToolName; reason: string }[];
  results: ResultRow[];
  ratios: RatioRow[];
  goals: GoalResult[];
}

/** The machine the bench ran on. */
export interface MachineInfo {
  cpus: number;
  cpuModel: string;
  memoryBytes: number;
  kernel: string;
  deno: string;
}

/** Turns the runs of each scenario into table rows. */
export function collectRows(scenarios: readonly ScenarioRuns[]): ResultRow[] {
  return scenarios.flatMap(({ scenario, runs }) =>
    runs.map((run) => {
      const finished = run.seconds.filter((value): value is number => value !== undefined);
      return {
        scenario,
        tool: run.tool,
        seconds: run.seconds.map((value) => value ?? null),
        summary: finished.length > 0 ? summarize(finished) : undefined,
        failure: run.failure,
      };
    })
  );
}

/** Pairs tsbuild with each peer round by round on every scenario where both ran. */
export function collectRatios(scenarios: readonly ScenarioRuns[]): RatioRow[] {
  const rows: RatioRow[] = [];
  for (const { scenario, runs } of scenarios) {
    const tsbuild = runs.find((run) => run.tool === "tsbuild");
    if (!tsbuild) continue;
    for (const peer of runs.filter((run) => run.tool !== "tsbuild")) {
      const perRound = pairedRatios(tsbuild.seconds, peer.seconds);
      rows.push({
        scenario,
        peer: peer.tool,
        perRound,
        median: perRound.length > 0 ? median(perRound) : undefined,
      });
    }
  }
  return rows;
}
