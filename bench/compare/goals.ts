/**
 * tsbuild's performance goals, each judged PASS or MISS from the measured medians. A goal
 * is reported, not asserted, so a MISS does not fail the bench.
 *
 * @module
 */

import type { GoalResult, RatioRow, ResultRow } from "./results.ts";
import type { ScenarioName } from "./scenarios.ts";
import type { ToolName } from "./tool.ts";

/**
 * Range in which the two-stage build's median minus the cold build's median counts as
 * "about one second more". Each stage sleeps 1 s, so stages that overlap add about 1 s and
 * stages that run in turn add about 2 s; 1.5 s is the midpoint between the two.
 */
export const TWO_STAGE_EXTRA_SECONDS = { min: 0.8, max: 1.5 };

/** Judges every goal against the table rows and paired ratios. */
export function evaluateGoals(
  rows: readonly ResultRow[],
  ratios: readonly RatioRow[],
): GoalResult[] {
  return [
    ratioGoal(ratios, "rebuild", "buildkit", "faster than"),
    ratioGoal(ratios, "rebuild", "buildah", "faster than"),
    ratioGoal(ratios, "cold", "buildkit", "no slower than"),
    twoStageGoal(rows),
  ];
}

/** Returns the median of `tool` on `scenario`, if it finished any round. */
export function medianOf(
  rows: readonly ResultRow[],
  scenario: ScenarioName,
  tool: ToolName,
): number | undefined {
  return rows.find((row) => row.scenario === scenario && row.tool === tool)?.summary?.median;
}

function ratioGoal(
  ratios: readonly RatioRow[],
  scenario: ScenarioName,
  peer: ToolName,
  relation: "faster than" | "no slower than",
): GoalResult {
  const goal = `${scenario}: tsbuild ${relation} ${peer}`;
  const ratio = ratios.find((row) => row.scenario === scenario && row.peer === peer)?.median;
  if (ratio === undefined) {
    return { goal, status: "SKIP", detail: `no paired runs of tsbuild and ${peer} on ${scenario}` };
  }

  const passed = relation === "faster than" ? ratio < 1 : ratio <= 1;
  return {
    goal,
    status: passed ? "PASS" : "MISS",
    detail: `median ratio tsbuild/${peer} ${ratio.toFixed(2)}`,
    value: ratio,
  };
}

function twoStageGoal(rows: readonly ResultRow[]): GoalResult {
  const goal = "two-stage: tsbuild takes about 1 s more than cold";
  const twoStage = medianOf(rows, "two-stage", "tsbuild");
  const cold = medianOf(rows, "cold", "tsbuild");
  if (twoStage === undefined || cold === undefined) {
    return { goal, status: "SKIP", detail: "needs tsbuild times for both cold and two-stage" };
  }

  const extra = twoStage - cold;
  const { min, max } = TWO_STAGE_EXTRA_SECONDS;
  return {
    goal,
    status: extra >= min && extra <= max ? "PASS" : "MISS",
    detail: `median two-stage - median cold = ${extra.toFixed(2)} s (PASS from ${min} to ${max} s)`,
    value: extra,
  };
}
