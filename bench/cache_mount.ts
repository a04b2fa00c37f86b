// deno-lint-ignore-file no-console -- a command-line script prints its progress and results
/**
 * Times `RUN --mount=type=cache` against the same command run directly on the
 * host. A RUN step fills a cache mount with 10,000 files (by default), and a
 * second build runs it again and finds them all. The host runs the same
 * busybox script against an empty directory and against the cache directory
 * the builds filled. The script prints medians and the ratios to the host's times.
 *
 * The step time is taken from the build's progress events (started to
 * completed), so it includes starting the container; a `RUN true` step is
 * timed too, and the "(step - RUN true)" rows subtract it. A first RUN step
 * runs before both, because the first container of a build also pays for
 * once-per-build work (such as reaping containers of killed builds) that
 * belongs to neither.
 *
 * @example Five rounds of 10,000 files, with the numbers kept as JSON
 * ```sh
 * deno run --allow-all bench/cache_mount.ts --rounds 5 --json cache-mount.json
 * ```
 *
 * @module
 */

import { exitOnHelp } from "./compare/help.ts";
import { pushBusybox } from "../tests/_fixtures/push_busybox.ts";
import { startRegistry } from "../tests/_fixtures/registry.ts";
import { buildContext } from "../tests/e2e/_dockerfile_fixture.ts";
import type { ProgressEvent } from "../core/progress/events.ts";

interface BenchFlags {
  rounds: number;
  files: number;
  json?: string;
}

function parseFlags(argv: string[]): BenchFlags {
  const flags: BenchFlags = { rounds: 5, files: 10_000 };
  for (let i = 0; i < argv.length; i++) {
    const value = argv[i + 1];
    if (argv[i] === "--rounds") flags.rounds = Number(value);
    else if (argv[i] === "--files") flags.files = Number(value);
    else if (argv[i] === "--json") flags.json = value;
    else throw new Error(`Unknown flag "${argv[i]}" (flags: --rounds N, --files N, --json PATH)`);
    i++;
  }
  if (!(flags.rounds >= 1) || !(flags.files >= 1)) {
    throw new Error("--rounds and --files must be at least 1");
  }
  return flags;
}

// Creates each missing file, so the first run writes them all and a run on a filled cache only
// checks them: the same script on the host and in the container.
function fillScript(dir: string, files: number): string {
  return `i=0; while [ $i -lt ${files} ]; do [ -e ${dir}/f$i ] || echo $i > ${dir}/f$i; i=$((i+1)); done; ls ${dir} | wc -l`;
}

function stepSeconds(events: ProgressEvent[], suffix: string): number {
  let started: number | undefined;
  let completed: number | undefined;
  for (const event of events) {
    if (!("vertex" in event) || !event.vertex?.name.endsWith(suffix)) continue;
    if (event.type === "vertex.started") started = event.time;
    if (event.type === "vertex.completed") completed = event.time;
  }
  if (started === undefined || completed === undefined) {
    throw new Error(`No timed step "…${suffix}"`);
  }
  return (completed - started) / 1000;
}

async function hostSeconds(script: string): Promise<{ seconds: number; output: string }> {
  const start = performance.now();
  const result = await new Deno.Command("/bin/busybox", { args: ["sh", "-c", script] }).output();
  const seconds = (performance.now() - start) / 1000;
  if (!result.success) {
    throw new Error(`host script failed: ${new TextDecoder().decode(result.stderr)}`);
  }
  return { seconds, output: new TextDecoder().decode(result.stdout).trim() };
}

async function timeHostCold(dir: string, files: number): Promise<number> {
  await Deno.mkdir(dir);
  await sync();
  const result = await hostSeconds(fillScript(dir, files));
  if (result.output !== String(files)) {
    throw new Error(`Expected ${files} files, found ${result.output}`);
  }
  return result.seconds;
}

async function sync(): Promise<void> {
  await new Deno.Command("sync").output();
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

async function cacheDirs(root: string): Promise<string[]> {
  const dir = `${root}/data/cache-mounts`;
  const entries = await Array.fromAsync(Deno.readDir(dir)).catch(() => []);
  return entries.filter((entry) => entry.isDirectory && !entry.name.startsWith("host-"))
    .map((entry) => `${dir}/${entry.name}`);
}

async function main(flags: BenchFlags): Promise<void> {
  const registry = await startRegistry();
  const work = await Deno.makeTempDir({ prefix: "tsbuild-bench-cache-" });
  try {
    const base = `${registry.host}/busybox:1`;
    await pushBusybox(registry.host);
    const context = `${work}/context`;
    await Deno.mkdir(context);
    await Deno.writeTextFile(
      `${context}/Dockerfile`,
      `ARG BASE\nFROM \${BASE}\nARG ROUND\n` +
        `RUN echo "$ROUND" > /first\n` +
        `RUN --mount=type=cache,id=bench-fill,target=/cache ${
          fillScript("/cache", flags.files)
        } > /count-$ROUND\n` +
        `RUN echo "$ROUND" > /noop && true\n`,
    );
    const root = `${work}/root`;
    const build = (round: string) =>
      buildContext({ root, context, buildArgs: { BASE: base, ROUND: round } });
    await build("warmup");

    const rows: Record<string, number[]> = {
      "tsbuild cold": [],
      "tsbuild warm": [],
      "tsbuild RUN true": [],
      "host cold": [],
      "host warm": [],
    };
    for (let round = 0; round < flags.rounds; round++) {
      // The order alternates, and dirty pages are flushed before each timed run, so neither side
      // always runs just after the other's file removals.
      const hostFirst = round % 2 === 1;
      // The host directory sits beside the cache directory, so both get the same placement.
      const hostDir = `${root}/data/cache-mounts/host-${round}`;
      if (hostFirst) rows["host cold"].push(await timeHostCold(hostDir, flags.files));

      for (const dir of await cacheDirs(root)) await Deno.remove(dir, { recursive: true });
      await sync();
      const cold = await build(`${round}-cold`);
      rows["tsbuild cold"].push(stepSeconds(cold.events, "/count-$ROUND"));
      rows["tsbuild RUN true"].push(stepSeconds(cold.events, 'echo "$ROUND" > /noop && true'));
      if (!hostFirst) rows["host cold"].push(await timeHostCold(hostDir, flags.files));

      const [cacheDir] = await cacheDirs(root);
      await sync();
      const warm = await build(`${round}-warm`);
      rows["tsbuild warm"].push(stepSeconds(warm.events, "/count-$ROUND"));
      await sync();
      const hostWarm = await hostSeconds(fillScript(cacheDir, flags.files));
      if (hostWarm.output !== String(flags.files)) {
        throw new Error(`Expected ${flags.files} files in the cache, found ${hostWarm.output}`);
      }
      rows["host warm"].push(hostWarm.seconds);
      await Deno.remove(hostDir, { recursive: true });
      console.error(`round ${round + 1}/${flags.rounds} done`);
    }

    const medians = Object.fromEntries(
      Object.entries(rows).map(([name, values]) => [name, median(values)]),
    );
    const noop = medians["tsbuild RUN true"];
    // Ratios of the medians, and the median of each round's own ratio, which pairs runs made
    // under the same disk conditions.
    const paired = (step: string, host: string, minus = 0) =>
      median(rows[step].map((value, round) => (value - minus) / rows[host][round]));
    const ratios = {
      "warm: step / host": medians["tsbuild warm"] / medians["host warm"],
      "warm: (step - RUN true) / host": (medians["tsbuild warm"] - noop) / medians["host warm"],
      "warm: paired (step - RUN true) / host": paired("tsbuild warm", "host warm", noop),
      "cold: step / host": medians["tsbuild cold"] / medians["host cold"],
      "cold: (step - RUN true) / host": (medians["tsbuild cold"] - noop) / medians["host cold"],
      "cold: paired (step - RUN true) / host": paired("tsbuild cold", "host cold", noop),
    };
    const cpu = (await Deno.readTextFile("/proc/cpuinfo")).match(/model name\s*:\s*(.*)/)?.[1] ??
      "unknown CPU";
    console.log(
      `cache mount bench: ${flags.files} files, ${flags.rounds} rounds, ${navigator.hardwareConcurrency} × ${cpu}`,
    );
    for (const [name, value] of Object.entries(medians)) {
      const min = Math.min(...rows[name]);
      console.log(`  ${name.padEnd(40)} median ${value.toFixed(3)} s, min ${min.toFixed(3)} s`);
    }
    for (const [name, value] of Object.entries(ratios)) {
      let verdict = "";
      if (name.includes("RUN true")) verdict = value <= 1.1 ? "within 10%" : "over 10%";
      console.log(`  ${name.padEnd(40)} ${value.toFixed(2)} ${verdict}`);
    }
    if (flags.json) {
      await Deno.writeTextFile(
        flags.json,
        JSON.stringify({ flags, rows, medians, ratios, cpu }, null, 2),
      );
    }
  } finally {
    await registry.stop();
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) {
  exitOnHelp(
    Deno.args,
    `Usage: deno task bench:cache-mount [--rounds N] [--files N] [--json PATH]

Times RUN --mount=type=cache filling and reusing a cache against the same script on the host.
  --rounds N   rounds to run (default 5)
  --files N    files the script creates (default 10000)
  --json PATH  also write the figures as JSON`,
  );
  await main(parseFlags(Deno.args));
}
