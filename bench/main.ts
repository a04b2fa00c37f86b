// deno-lint-ignore-file no-console -- a command-line script prints its progress and results
/**
 * `deno task bench`: times tsbuild against BuildKit (inside a private dockerd) and buildah
 * on the same Dockerfiles, and prints medians, paired ratios and tsbuild's goals.
 *
 * The bench starts a docker-registry on 127.0.0.1 with a busybox image and starts each peer
 * that is installed, skipping the others with the reason. It runs every scenario for a number
 * of rounds with the tools interleaved. It stops everything it started by pid, also when it
 * fails or receives SIGINT, SIGTERM or SIGHUP.
 *
 * @example Run every scenario three times and keep the numbers
 * ```sh
 * deno task bench --rounds 3 --json bench-results.json
 * ```
 *
 * @module
 */

import { join } from "../core/deps.ts";
import { InvalidInputError } from "../core/errors.ts";
import { pushBusybox } from "../tests/_fixtures/push_busybox.ts";
import { startRegistry } from "../tests/_fixtures/registry.ts";
import { removeTree } from "./compare/processes.ts";
import { startBuildah } from "./compare/buildah_tool.ts";
import { startBuildkit } from "./compare/buildkit_tool.ts";
import { cleanUpOnSignals, CleanupStack } from "./compare/cleanup.ts";
import { BENCH_USAGE, type BenchOptions, parseBenchFlags } from "./compare/flags.ts";
import { evaluateGoals } from "./compare/goals.ts";
import { describeMachine } from "./compare/machine.ts";
import { formatReport } from "./compare/report.ts";
import {
  type BenchReport,
  collectRatios,
  collectRows,
  type ScenarioRuns,
} from "./compare/results.ts";
import { runScenario, SCENARIOS } from "./compare/scenarios.ts";
import {
  type BenchTool,
  type ToolName,
  type ToolSetup,
  ToolUnavailableError,
} from "./compare/tool.ts";
import { startTsbuild } from "./compare/tsbuild_tool.ts";

const STARTERS: Record<ToolName, (setup: ToolSetup) => Promise<BenchTool>> = {
  tsbuild: startTsbuild,
  buildkit: startBuildkit,
  buildah: startBuildah,
};

const log = (line: string) => console.error(line);

async function main(argv: string[]): Promise<number> {
  let options: BenchOptions;
  try {
    options = parseBenchFlags(argv);
  } catch (error) {
    if (!(error instanceof InvalidInputError)) throw error;
    console.error(`ERROR: ${error.message}\n\n${BENCH_USAGE}`);
    return 2;
  }
  if (options.help) {
    console.log(BENCH_USAGE);
    return 0;
  }

  const cleanup = new CleanupStack(log);
  const removeSignalHandlers = cleanUpOnSignals(cleanup, log);
  try {
    const report = await runBench(options, argv, cleanup);
    console.log(formatReport(report));
    if (options.jsonPath) {
      await Deno.writeTextFile(options.jsonPath, JSON.stringify(report, null, 2) + "\n");
      log(`Wrote ${options.jsonPath}`);
    }
    return report.tools.length === 0 ? 1 : 0;
  } finally {
    await cleanup.run();
    removeSignalHandlers();
  }
}

async function runBench(
  options: BenchOptions,
  argv: string[],
  cleanup: CleanupStack,
): Promise<BenchReport> {
  const date = new Date().toISOString();
  const workDir = await Deno.makeTempDir({ prefix: "tsbuild-bench-" });
  cleanup.add(`the work folder "${workDir}"`, () => removeTree(workDir));

  log("Starting docker-registry on 127.0.0.1 and pushing busybox:1");
  const registry = await startRegistry();
  cleanup.add(`docker-registry (pid ${registry.pid})`, () => registry.stop());
  await pushBusybox(registry.host);
  const baseImage = `${registry.host}/busybox:1`;

  const { tools, skipped } = await startTools(options.tools, { workDir, baseImage }, cleanup);
  const scenarioRuns: ScenarioRuns[] = [];
  if (tools.length > 0) {
    for (const scenario of SCENARIOS.filter((entry) => options.scenarios.includes(entry.name))) {
      log(`Scenario ${scenario.name}: ${scenario.description}`);
      const runs = await runScenario(scenario, tools, options.rounds, log);
      scenarioRuns.push({ scenario: scenario.name, runs });
    }
  }

  const results = collectRows(scenarioRuns);
  const ratios = collectRatios(scenarioRuns);
  return {
    date,
    command: ["deno", "task", "bench", ...argv].join(" "),
    machine: describeMachine(),
    rounds: options.rounds,
    tools: tools.map(({ name, version, notes }) => ({ name, version, notes })),
    skipped,
    results,
    ratios,
    goals: evaluateGoals(results, ratios),
  };
}

async function startTools(
  names: readonly ToolName[],
  where: { workDir: string; baseImage: string },
  cleanup: CleanupStack,
): Promise<{ tools: BenchTool[]; skipped: BenchReport["skipped"] }> {
  const tools: BenchTool[] = [];
  const skipped: BenchReport["skipped"] = [];
  for (const name of names) {
    const dir = join(where.workDir, name);
    await Deno.mkdir(dir);
    log(`Setting up ${name}`);
    try {
      const tool = await STARTERS[name]({ dir, baseImage: where.baseImage });
      cleanup.add(name, () => tool.close());
      tools.push(tool);
    } catch (error) {
      if (!(error instanceof ToolUnavailableError)) throw error;
      log(`Skipping ${name}: ${error.message}`);
      skipped.push({ tool: name, reason: error.message });
    }
  }
  return { tools, skipped };
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
