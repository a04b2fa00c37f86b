// deno-lint-ignore-file no-console -- a command-line script prints its progress and results
/**
 * Times a large build context, `COPY . /app` of 20,000 files and about 400 MB, with tsbuild,
 * BuildKit (a private dockerd from Debian's docker.io) and buildah, and `tar -c | tar -x` of
 * the same tree as the floor.
 *
 * Each round runs three builds with every tool, in an order of tools rotated by one place per
 * round. The first build starts with an empty cache, so the base image is pulled again. Then
 * comes a rebuild with nothing changed, and a rebuild after one small file changed. tsbuild runs in three ways: the command line writing
 * an OCI archive with gzip layers (its default) and with zstd layers, and a build that keeps
 * the image in tsbuild's store with uncompressed layers (`_local_context_build.ts`), which is
 * what `docker build` and buildah do with theirs. The report gives medians over the rounds
 * and tsbuild's peak memory (maximum resident set size).
 *
 * @example Three rounds with the default tree
 * ```sh
 * deno run --allow-all bench/local_context.ts --rounds 3 --json local-context.json
 * ```
 *
 * @module
 */

import { exitOnHelp } from "./compare/help.ts";
import { join } from "../core/deps.ts";
import { TSBUILD_DENO_FLAGS } from "../tools/deno_flags.ts";
import { pushBusybox } from "../tests/_fixtures/push_busybox.ts";
import { startRegistry } from "../tests/_fixtures/registry.ts";
import { startBuildah } from "./compare/buildah_tool.ts";
import { startBuildkit } from "./compare/buildkit_tool.ts";
import { cleanUpOnSignals, CleanupStack } from "./compare/cleanup.ts";
import { removeTree, runCommand } from "./compare/processes.ts";
import { median } from "./compare/stats.ts";
import { ToolUnavailableError } from "./compare/tool.ts";

const REPO_ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const DENO_FLAGS = ["run", ...TSBUILD_DENO_FLAGS, "--config"];
const SCENARIOS = ["first", "no-change", "one-changed"] as const;
type ScenarioName = typeof SCENARIOS[number];

/** The file every "one-changed" build appends a line to. */
const CHANGED_FILE = "d00/s00/f0.txt";

interface BenchOptions {
  rounds: number;
  files: number;
  megabytes: number;
  only?: string[];
  jsonPath?: string;
}

/** One builder under test; `build` returns seconds and, when measured, peak memory in KiB. */
interface Builder {
  name: string;
  reset(): Promise<void>;
  build(context: string): Promise<{ seconds: number; maxRssKiB?: number }>;
  close(): Promise<void>;
}

type Times = Record<string, Record<ScenarioName | "floor", number[]>>;

const log = (line: string) => console.error(line);

async function main(argv: string[]): Promise<number> {
  const options = parseFlags(argv);
  const cleanup = new CleanupStack(log);
  const removeSignalHandlers = cleanUpOnSignals(cleanup, log);
  try {
    const work = await Deno.makeTempDir({ prefix: "tsbuild-local-context-" });
    cleanup.add(`the work folder "${work}"`, () => removeTree(work));
    const context = join(work, "context");
    const bytes = await writeContext(context, options.files, options.megabytes * 1e6);
    log(`Wrote ${options.files} files, ${(bytes / 1e6).toFixed(0)} MB, to ${context}`);

    const registry = await startRegistry();
    cleanup.add(`docker-registry (pid ${registry.pid})`, () => registry.stop());
    await pushBusybox(registry.host);
    const builders = await startBuilders(work, `${registry.host}/busybox:1`, options, cleanup);

    const times: Times = {};
    const memory: Record<string, number[]> = {};
    for (let round = 0; round < options.rounds; round++) {
      times.floor ??= newTimes();
      times.floor.floor.push(await timeTarCopy(context, join(work, `floor-${round}`)));
      log(`round ${round + 1} floor ${times.floor.floor.at(-1)!.toFixed(2)} s`);
      for (const builder of rotate(builders, round)) {
        const own = times[builder.name] ??= newTimes();
        for (const scenario of SCENARIOS) {
          if (scenario === "first") await builder.reset();
          if (scenario === "one-changed") {
            await Deno.writeTextFile(join(context, CHANGED_FILE), `${builder.name} ${round}\n`, {
              append: true,
            });
          }
          const { seconds, maxRssKiB } = await builder.build(context);
          own[scenario].push(seconds);
          if (maxRssKiB !== undefined) (memory[builder.name] ??= []).push(maxRssKiB);
          log(`round ${round + 1} ${builder.name} ${scenario} ${seconds.toFixed(2)} s`);
        }
      }
    }

    const report = formatReport(times, memory, options, argv);
    console.log(report.text);
    if (options.jsonPath) await Deno.writeTextFile(options.jsonPath, report.json);
    return 0;
  } finally {
    await cleanup.run();
    removeSignalHandlers();
  }
}

function parseFlags(argv: string[]): BenchOptions {
  const value = (flag: string) => {
    const index = argv.indexOf(flag);
    return index >= 0 ? argv[index + 1] : undefined;
  };
  const number = (flag: string, fallback: number) => {
    const text = value(flag);
    const parsed = text === undefined ? fallback : Number(text);
    if (!Number.isInteger(parsed) || parsed < 1) {
      throw new RangeError(`Invalid ${flag} "${text}": expected a whole number above 0`);
    }
    return parsed;
  };
  return {
    rounds: number("--rounds", 3),
    files: number("--files", 20_000),
    megabytes: number("--megabytes", 400),
    only: value("--only")?.split(","),
    jsonPath: value("--json"),
  };
}

function newTimes(): Record<ScenarioName | "floor", number[]> {
  return { first: [], "no-change": [], "one-changed": [], floor: [] };
}

/**
 * Writes `count` files totalling about `totalBytes` under `dir`, in 40 directories of 25
 * subdirectories, with a Dockerfile. Sizes follow an exponential distribution and contents
 * are words from a fixed pseudo-random text, so the tree compresses about as source code does
 * and is the same on every run.
 */
async function writeContext(dir: string, count: number, totalBytes: number): Promise<number> {
  const random = createRandom(42);
  const text = createText(random, 8 * 1024 * 1024);
  const meanSize = totalBytes / count;
  let written = 0;
  for (let i = 0; i < count; i++) {
    const subdir = join(dir, `d${pad(i % 40)}`, `s${pad(Math.floor(i / 40) % 25)}`);
    if (i < 1000) await Deno.mkdir(subdir, { recursive: true });
    const size = Math.min(text.length, Math.floor(-Math.log(1 - random()) * meanSize) + 10);
    const start = Math.floor(random() * (text.length - size));
    Deno.writeFileSync(join(subdir, `f${i}.txt`), text.subarray(start, start + size));
    written += size;
  }
  await Deno.writeTextFile(join(dir, "Dockerfile"), "ARG BASE\nFROM ${BASE}\nCOPY . /app\n");
  return written;
}

function pad(value: number): string {
  return String(value).padStart(2, "0");
}

/** Returns a deterministic generator of numbers in [0, 1) (mulberry32). */
function createRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Returns `length` bytes of words from a vocabulary of 5,000, with a newline every ten or so. */
function createText(random: () => number, length: number): Uint8Array {
  const letters = "abcdefghijklmnopqrstuvwxyz";
  const words = Array.from({ length: 5000 }, () => {
    const size = 2 + Math.floor(random() * 8);
    return Array.from({ length: size }, () => letters[Math.floor(random() * 26)]).join("");
  });
  const parts: string[] = [];
  let size = 0;
  while (size < length) {
    const word = words[Math.floor(random() * words.length)] + (random() < 0.1 ? "\n" : " ");
    parts.push(word);
    size += word.length;
  }
  return new TextEncoder().encode(parts.join("")).subarray(0, length);
}

/** Times `tar -c | tar -x` of `context` into the new directory `target`, then removes it. */
async function timeTarCopy(context: string, target: string): Promise<number> {
  await Deno.mkdir(target);
  const script = 'tar -C "$1" -cf - . | tar -C "$2" -xf -';
  const { seconds } = await runCommand("/bin/sh", ["-c", script, "sh", context, target]);
  await removeTree(target);
  return seconds;
}

async function startBuilders(
  work: string,
  baseImage: string,
  options: BenchOptions,
  cleanup: CleanupStack,
): Promise<Builder[]> {
  const candidates: Array<[string, () => Promise<Builder>]> = [
    ["tsbuild-oci-gzip", () => startTsbuildCli(join(work, "oci-gzip"), baseImage, "gzip")],
    ["tsbuild-oci-zstd", () => startTsbuildCli(join(work, "oci-zstd"), baseImage, "zstd")],
    ["tsbuild-store", () => startTsbuildStore(join(work, "store"), baseImage)],
    ["buildkit", () => startPeer("buildkit", join(work, "buildkit"), baseImage)],
    ["buildah", () => startPeer("buildah", join(work, "buildah"), baseImage)],
  ];
  const builders: Builder[] = [];
  for (const [name, start] of candidates) {
    if (options.only && !options.only.includes(name)) continue;
    try {
      const builder = await start();
      cleanup.add(name, () => builder.close());
      builders.push(builder);
    } catch (error) {
      if (!(error instanceof ToolUnavailableError)) throw error;
      log(`Skipping ${name}: ${error.message}`);
    }
  }
  return builders;
}

async function startPeer(name: "buildkit" | "buildah", dir: string, baseImage: string) {
  await Deno.mkdir(dir);
  const tool = await (name === "buildkit" ? startBuildkit : startBuildah)({ dir, baseImage });
  return {
    name,
    reset: () => tool.reset(),
    build: async (context: string) => ({ seconds: await tool.build(context) }),
    close: () => tool.close(),
  };
}

/** tsbuild's command line, exporting an OCI archive with `compression` layers. */
function startTsbuildCli(dir: string, baseImage: string, compression: string): Promise<Builder> {
  return startTsbuild(`tsbuild-oci-${compression}`, dir, join(REPO_ROOT, "cli.ts"), (
    root,
    context,
  ) => [
    "build",
    "--root",
    root,
    "--progress",
    "quiet",
    "--build-arg",
    `BASE=${baseImage}`,
    "--output",
    `type=oci,dest=${join(dir, "image.tar")},compression=${compression}`,
    context,
  ]);
}

/** Starts a build that keeps the image, with uncompressed layers, in tsbuild's store. */
function startTsbuildStore(dir: string, baseImage: string): Promise<Builder> {
  const entry = join(REPO_ROOT, "bench", "_local_context_build.ts");
  return startTsbuild("tsbuild-store", dir, entry, (root, context) => [
    root,
    context,
    baseImage,
    "none",
  ]);
}

/**
 * Runs tsbuild under `/usr/bin/time` for its peak memory. Each cold build gets a new empty
 * store, so it pulls the base image and runs every step.
 */
async function startTsbuild(
  name: string,
  dir: string,
  entry: string,
  args: (root: string, context: string) => string[],
): Promise<Builder> {
  await Deno.mkdir(dir);
  // Filling Deno's module cache first keeps type checking and downloads out of the first build.
  await runCommand(Deno.execPath(), ["cache", "--config", join(REPO_ROOT, "deno.json"), entry]);
  let generation = 0;
  const root = () => join(dir, `root-${generation}`);
  const rssFile = join(dir, "rss");
  return {
    name,
    async reset() {
      await removeTree(root());
      generation++;
    },
    async build(context) {
      const command = [
        "-f",
        "%M",
        "-o",
        rssFile,
        Deno.execPath(),
        ...DENO_FLAGS,
        join(REPO_ROOT, "deno.json"),
        entry,
        ...args(root(), context),
      ];
      const { seconds } = await runCommand("/usr/bin/time", command, { cwd: REPO_ROOT });
      const maxRssKiB = Number((await Deno.readTextFile(rssFile)).trim().split("\n").at(-1));
      return { seconds, maxRssKiB };
    },
    close: () => removeTree(dir),
  };
}

function rotate<T>(items: readonly T[], by: number): T[] {
  const shift = items.length === 0 ? 0 : by % items.length;
  return [...items.slice(shift), ...items.slice(0, shift)];
}

function formatReport(
  times: Times,
  memory: Record<string, number[]>,
  options: BenchOptions,
  argv: string[],
): { text: string; json: string } {
  const rows: string[] = [];
  const header = ["tool", ...SCENARIOS, "peak MiB"].map((cell) => cell.padEnd(18)).join("");
  rows.push(header);
  const medians: Record<string, Record<string, number>> = {};
  for (const [name, own] of Object.entries(times)) {
    if (name === "floor") continue;
    medians[name] = Object.fromEntries(
      SCENARIOS.map((scenario) => [scenario, median(own[scenario])]),
    );
    const peak = memory[name] ? `${(Math.max(...memory[name]) / 1024).toFixed(0)}` : "-";
    const cells = [
      name,
      ...SCENARIOS.map((scenario) => `${medians[name][scenario].toFixed(2)} s`),
      peak,
    ];
    rows.push(cells.map((cell) => cell.padEnd(18)).join(""));
  }
  const floor = median(times.floor.floor);
  rows.push(`tar -c | tar -x floor: ${floor.toFixed(2)} s (median)`);
  const command = ["deno", "run", "--allow-all", "bench/local_context.ts", ...argv].join(" ");
  const [load1] = Deno.loadavg();
  const text = [
    `${options.rounds} rounds, ${options.files} files of about ${options.megabytes} MB, medians`,
    `load average at the end: ${load1.toFixed(2)} on ${navigator.hardwareConcurrency} CPUs`,
    ...rows,
    `command: ${command}`,
  ].join("\n");
  const json = JSON.stringify({ command, options, medians, floor, times, memory }, null, 2) + "\n";
  return { text, json };
}

if (import.meta.main) {
  exitOnHelp(
    Deno.args,
    `Usage: deno task bench:local [--rounds N] [--files N] [--megabytes N] [--only NAMES] [--json PATH]

Times a large build context (COPY . /app) with tsbuild, BuildKit and buildah.
  --rounds N      rounds to run (default 3)
  --files N       files in the generated context (default 20000)
  --megabytes N   total size of the context (default 400)
  --only NAMES    comma-separated builders to run, e.g. tsbuild-store,buildkit
  --json PATH     also write the figures as JSON`,
  );
  Deno.exit(await main(Deno.args));
}
