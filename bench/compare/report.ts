/**
 * Formats a `BenchReport` as text: the machine and tools, a results table in Markdown pipe
 * syntax (readable in a terminal and pasteable into docs), the paired ratios and the goals.
 *
 * @module
 */

import { medianOf } from "./goals.ts";
import type { BenchReport, RatioRow, ResultRow } from "./results.ts";
import { TOOL_NAMES } from "./tool.ts";

/** Returns the whole report as lines of text ending in a newline. */
export function formatReport(report: BenchReport): string {
  return [
    formatSetup(report),
    formatTable(report),
    formatRatios(report.ratios),
    formatTwoStageExtra(report),
    formatGoals(report),
  ].filter((section) => section.length > 0).join("\n\n") + "\n";
}

function formatSetup(report: BenchReport): string {
  const { machine } = report;
  const memory = (machine.memoryBytes / 2 ** 30).toFixed(1);
  const lines = [
    `Machine: ${machine.cpus} CPUs (${machine.cpuModel}), ${memory} GiB memory, Linux ${machine.kernel}, deno ${machine.deno}`,
    `Rounds: ${report.rounds} per scenario`,
    "Tools:",
  ];
  for (const tool of report.tools) {
    lines.push(`  ${tool.name.padEnd(9)}${tool.version}`);
    lines.push(...tool.notes.map((note) => `           ${note}`));
  }
  for (const { tool, reason } of report.skipped) {
    lines.push(`  ${tool.padEnd(9)}SKIPPED: ${reason}`);
  }
  return lines.join("\n");
}

function formatTable(report: BenchReport): string {
  const peers = TOOL_NAMES.filter((name) =>
    name !== "tsbuild" && report.ratios.some((row) => row.peer === name)
  );
  const header = ["scenario", "tool", "runs", "median s", "min s", "max s"];
  header.push(...peers.map((peer) => `ratio vs ${peer}`));
  const body = report.results.map((row) => tableRow(row, peers, report.ratios));
  const lines = formatPipeTable([header, ...body]);

  const failures = report.results.filter((row) => row.failure !== undefined);
  for (const row of failures) lines.push(`${row.tool} failed on ${row.scenario}: ${row.failure}`);
  return lines.join("\n");
}

function tableRow(row: ResultRow, peers: readonly string[], ratios: readonly RatioRow[]): string[] {
  const finished = row.seconds.filter((value) => value !== null).length;
  const cells = [row.scenario, row.tool, `${finished}/${row.seconds.length}`];
  const summary = row.summary;
  cells.push(
    ...(summary ? [summary.median, summary.min, summary.max].map(seconds) : ["-", "-", "-"]),
  );
  for (const peer of peers) {
    const ratio = row.tool === "tsbuild"
      ? ratios.find((entry) => entry.scenario === row.scenario && entry.peer === peer)?.median
      : undefined;
    cells.push(ratio === undefined ? "-" : ratio.toFixed(2));
  }
  return cells;
}

function formatRatios(ratios: readonly RatioRow[]): string {
  if (ratios.length === 0) return "";
  const lines = ["Paired ratios, tsbuild time / peer time in each round, then their median:"];
  for (const row of ratios) {
    const perRound = row.perRound.map((ratio) => ratio.toFixed(2)).join(" ");
    const middle = row.median === undefined ? "none" : row.median.toFixed(2);
    lines.push(`  ${`${row.scenario} vs ${row.peer}`.padEnd(22)}${perRound}  median ${middle}`);
  }
  return lines.join("\n");
}

function formatTwoStageExtra(report: BenchReport): string {
  const parts: string[] = [];
  for (const tool of TOOL_NAMES) {
    const twoStage = medianOf(report.results, "two-stage", tool);
    const cold = medianOf(report.results, "cold", tool);
    if (twoStage !== undefined && cold !== undefined) {
      parts.push(`${tool} ${(twoStage - cold).toFixed(2)} s`);
    }
  }
  return parts.length === 0 ? "" : `Two-stage median minus cold median: ${parts.join(", ")}`;
}

function formatGoals(report: BenchReport): string {
  const lines = ["Goals (reported, not asserted):"];
  for (const goal of report.goals) {
    lines.push(`  ${goal.status.padEnd(5)} ${goal.goal} (${goal.detail})`);
  }
  return lines.join("\n");
}

function seconds(value: number): string {
  return value.toFixed(3);
}

// Pads every column to its widest cell so the table lines up in a terminal; the second line
// is the Markdown header rule.
function formatPipeTable(rows: readonly string[][]): string[] {
  const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => row[column].length)));
  const line = (cells: readonly string[]) =>
    `| ${cells.map((cell, column) => cell.padEnd(widths[column])).join(" | ")} |`;
  const rule = `|${widths.map((width) => "-".repeat(width + 2)).join("|")}|`;
  return [line(rows[0]), rule, ...rows.slice(1).map(line)];
}
