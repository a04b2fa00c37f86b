// deno-lint-ignore-file no-console -- a benchmark prints its results
/**
 * Measures what third-party plugins cost at start-up, from source: `tsbuild --version`, a build
 * with a cached result and no plugin, the same build with a plugin loaded but not used, and a
 * build whose cached result comes from a plugin's source. It also times the loading steps in
 * process: importing the transpiler, bundling, and describing the plugin in a worker.
 *
 * Goal: loading a plugin adds under 100 ms to a build.
 *
 * ```sh
 * deno run --allow-all --unstable-worker-options bench/plugins.ts [--runs N]
 * ```
 *
 * Needs nothing but Deno: the builds read a local directory and an inline:// source, so no
 * registry and no container runtime are involved.
 *
 * @module
 */

import { exitOnHelp } from "./compare/help.ts";
import { local, source, writeDefinition } from "../mod.ts";
import { bundlePlugin } from "../core/plugin/_bundle.ts";
import { preloadTranspiler } from "../core/plugin/_bundle_transpile.ts";
import { PluginSandbox } from "../core/plugin/sandbox.ts";
import { noPermissions } from "../core/plugin/sandbox_permissions.ts";
import { TSBUILD_DENO_FLAGS } from "../tools/deno_flags.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const CLI = `${ROOT}cli.ts`;
const PLUGIN = `${ROOT}examples/plugins/inline_source.ts`;
const runsFlag = Deno.args.indexOf("--runs");
const RUNS = runsFlag >= 0 ? Number(Deno.args[runsFlag + 1]) : 10;

interface Timing {
  name: string;
  samples: number[];
}

function median(samples: number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

async function encode(state: Parameters<typeof writeDefinition>[0]): Promise<Uint8Array> {
  const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
  const [bytes] = await Promise.all([
    new Response(readable).arrayBuffer(),
    writeDefinition(state, { output: writable }),
  ]);
  return new Uint8Array(bytes);
}

// Runs `deno run cli.ts ARGS` and returns the wall time in milliseconds; throws on failure.
async function timeCli(args: string[], stdin?: Uint8Array): Promise<number> {
  const started = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...TSBUILD_DENO_FLAGS, CLI, ...args],
    stdin: stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin) {
    const writer = child.stdin.getWriter();
    await writer.write(stdin);
    await writer.close();
  }
  const output = await child.output();
  const elapsed = performance.now() - started;
  if (!output.success) {
    throw new Error(`tsbuild ${args.join(" ")} failed: ${new TextDecoder().decode(output.stderr)}`);
  }
  return elapsed;
}

// Runs every case once to warm caches, then in rounds, each case once per round, so a change
// in the machine's load affects all cases alike.
async function measureRounds(cases: [string, () => Promise<number>][]): Promise<Timing[]> {
  for (const [, run] of cases) await run();
  const timings = cases.map(([name]) => ({ name, samples: [] as number[] }));
  for (let round = 0; round < RUNS; round++) {
    for (const [index, [, run]] of cases.entries()) timings[index].samples.push(await run());
  }
  return timings;
}

async function inProcessSteps(): Promise<Timing[]> {
  const transpiler = performance.now();
  await preloadTranspiler();
  const imported = performance.now() - transpiler;

  const bundleSamples: number[] = [];
  const inspectSamples: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const start = performance.now();
    const bundle = await bundlePlugin(PLUGIN, "inline_source.ts");
    const bundled = performance.now();
    await using sandbox = new PluginSandbox("inline_source.ts", bundle, noPermissions());
    await sandbox.inspect();
    bundleSamples.push(bundled - start);
    inspectSamples.push(performance.now() - bundled);
  }
  return [
    { name: "in process: import sucrase (once per process)", samples: [imported] },
    { name: "in process: bundle the plugin (transpiler loaded)", samples: bundleSamples },
    { name: "in process: describe it in a worker", samples: inspectSamples },
  ];
}

async function main(): Promise<void> {
  const work = await Deno.makeTempDir({ prefix: "tsbuild-bench-plugins-" });
  try {
    await Deno.mkdir(`${work}/context`);
    await Deno.writeTextFile(`${work}/context/hello.txt`, "hello\n");
    const plain = await encode(local("context"));
    const viaPlugin = await encode(source("inline://bench", { "file:/hello.txt": "hello\n" }));
    const build = (extra: string[], n: number) => [
      "build",
      "--root",
      `${work}/root`,
      "--progress",
      "quiet",
      "--frontend",
      "definition",
      "--local",
      `context=${work}/context`,
      "--output",
      `type=tar,dest=${work}/out-${n}.tar`,
      ...extra,
    ];

    const timings = [
      ...await measureRounds([
        ["tsbuild --version", () => timeCli(["--version"])],
        ["cached build, no plugin", () => timeCli(build([], 1), plain)],
        [
          "cached build, one plugin loaded, not used",
          () => timeCli(build(["--plugin", PLUGIN], 2), plain),
        ],
        [
          "cached build from the plugin's source",
          () => timeCli(build(["--plugin", PLUGIN], 3), viaPlugin),
        ],
      ]),
      ...await inProcessSteps(),
    ];
    report(timings);
  } finally {
    await Deno.remove(work, { recursive: true });
  }
}

function report(timings: Timing[]): void {
  console.log(`Runs per case: ${RUNS} (median, min and max in ms; Deno ${Deno.version.deno})\n`);
  for (const { name, samples } of timings) {
    const row = [median(samples), Math.min(...samples), Math.max(...samples)]
      .map((value) => value.toFixed(1).padStart(8))
      .join(" ");
    console.log(`${name.padEnd(52)} ${row}`);
  }
  const byName = new Map(timings.map((timing) => [timing.name, median(timing.samples)]));
  const base = byName.get("cached build, no plugin")!;
  const loaded = byName.get("cached build, one plugin loaded, not used")! - base;
  const used = byName.get("cached build from the plugin's source")! - base;
  console.log(`\nLoading one plugin adds ${loaded.toFixed(1)} ms (goal: under 100 ms)`);
  console.log(`Loading it and running its source hook adds ${used.toFixed(1)} ms`);
}

if (import.meta.main) {
  exitOnHelp(
    Deno.args,
    `Usage: deno task bench:plugins [--runs N]

Measures what third-party plugins add to start-up and to a cached build.
  --runs N   runs per case (default 10)`,
  );
  await main();
}
