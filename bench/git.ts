// deno-lint-ignore-file no-console -- a command-line script prints its progress and results
/**
 * Times the `git` source against native git on a repository of 2,000 files
 * and 200 commits served by `git http-backend` on 127.0.0.1.
 *
 * It reports the median of several rounds of:
 *
 * - a cold fetch and checkout by the git source (onResolve and onLoad with an
 *   empty store), against `git clone --depth 1` of the same branch;
 * - `tsbuild build` of a Dockerfile that ADDs the repository, repeated with
 *   everything cached, against `tsbuild version` (the process start-up alone);
 * - the same cached build with BuildKit, when /usr/bin/dockerd exists.
 *
 * @example Run five rounds
 * ```sh
 * deno run --allow-all bench/git.ts --rounds 5
 * ```
 *
 * @module
 */

import { exitOnHelp } from "./compare/help.ts";
import { join } from "../core/deps.ts";
import { createPluginContext } from "../core/plugin/context.ts";
import { RecordingSink } from "../core/progress/events.ts";
import { openStore } from "../core/store/store.ts";
import { gitSource } from "../plugins/sources/git.ts";
import { type GitServer, startGitServer } from "../tests/_fixtures/git_server.ts";
import { TSBUILD_DENO_FLAGS } from "../tools/deno_flags.ts";

const FILES = 2000;
const COMMITS = 200;
const FILES_CHANGED_PER_COMMIT = 10;
const CLI = new URL("../cli.ts", import.meta.url).pathname;
const CONFIG = new URL("../deno.json", import.meta.url).pathname;

interface Timing {
  name: string;
  medianMs: number;
  runsMs: number[];
}

async function main(argv: string[]): Promise<number> {
  const roundsFlag = argv.indexOf("--rounds");
  const rounds = roundsFlag >= 0 ? Number(argv[roundsFlag + 1]) : 5;
  if (!Number.isInteger(rounds) || rounds < 1) {
    console.error(`Invalid --rounds "${argv[roundsFlag + 1]}": expected a whole number above 0`);
    return 2;
  }

  const dir = await Deno.makeTempDir({ prefix: "tsbuild-git-bench-" });
  await Deno.mkdir(join(dir, "server"));
  const server = await startGitServer({ root: join(dir, "server") });
  try {
    console.error(`creating a repository of ${FILES} files and ${COMMITS} commits`);
    await createRepository(join(dir, "server", "bench.git"));
    const url = server.url("bench");

    // The two run alternately, so that a busy machine slows both alike.
    const native: Timing = { name: "git clone --depth 1 (process)", medianMs: 0, runsMs: [] };
    const cold: Timing = {
      name: "git source cold fetch + checkout (in process)",
      medianMs: 0,
      runsMs: [],
    };
    for (let round = 0; round < rounds; round++) {
      const clone = join(dir, `clone-${round}`);
      native.runsMs.push(
        await measure(() =>
          run("/usr/bin/git", ["clone", "--quiet", "--depth", "1", "--branch", "main", url, clone])
        ),
      );
      cold.runsMs.push(await measure(() => loadOnce(url, join(dir, `store-cold-${round}`))));
    }
    native.medianMs = median(native.runsMs);
    cold.medianMs = median(cold.runsMs);
    const ratios = cold.runsMs.map((ms, round) => ms / native.runsMs[round]);
    const cached = await timeCachedBuilds(dir, server, url, rounds);

    const timings = [native, cold, ...cached];
    console.log(formatTimings(timings));
    const fastest = Math.min(...cold.runsMs) / Math.min(...native.runsMs);
    console.log(
      `\ncold fetch + checkout / native clone: median of paired rounds ${
        median(ratios).toFixed(2)
      }x, fastest runs ${fastest.toFixed(2)}x (goal <= 1.5x)`,
    );
    const overhead = cached[1].medianMs - cached[0].medianMs;
    console.log(
      `cached build above process start-up: ${overhead.toFixed(0)} ms by medians (goal < 100 ms)`,
    );
    const load = (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).join(" ");
    console.log(`load average after the bench: ${load} on ${navigator.hardwareConcurrency} CPUs`);
    console.log(
      "BuildKit: " +
        (await exists("/usr/bin/dockerd")
          ? "dockerd is installed, but this bench does not drive it yet"
          : "skipped, /usr/bin/dockerd is not installed"),
    );
    return 0;
  } finally {
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

/** Writes the bench repository into the bare repository `bare` with `git fast-import`. */
export async function createRepository(bare: string): Promise<void> {
  await run("/usr/bin/git", ["init", "--quiet", "--bare", "--initial-branch=main", bare]);
  const child = new Deno.Command("/usr/bin/git", {
    args: ["fast-import", "--quiet"],
    cwd: bare,
    stdin: "piped",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  const encoder = new TextEncoder();
  for (let commit = 1; commit <= COMMITS; commit++) {
    await writer.write(encoder.encode(commitStream(commit)));
  }
  await writer.write(encoder.encode("done\n"));
  await writer.close();
  const output = await child.output();
  if (!output.success) {
    throw new Error(`git fast-import failed: ${new TextDecoder().decode(output.stderr)}`);
  }
}

// The first commit adds every file; each later one changes a few of them.
function commitStream(commit: number): string {
  const time = 1_700_000_000 + commit * 60;
  const message = `commit ${commit}\n`;
  const lines = [
    "commit refs/heads/main",
    `mark :${commit}`,
    `committer Bench <bench@example.test> ${time} +0000`,
    `data ${message.length}`,
    message.trimEnd(),
  ];
  if (commit > 1) lines.push(`from :${commit - 1}`);
  const files = commit === 1
    ? Array.from({ length: FILES }, (_, index) => index)
    : Array.from({ length: FILES_CHANGED_PER_COMMIT }, (_, index) =>
      (commit * 97 + index * 131) % FILES);
  for (const index of files) {
    const content = fileContent(index, commit);
    const mode = index % 50 === 0 ? "100755" : "100644";
    lines.push(`M ${mode} inline ${filePath(index)}`, `data ${encodedLength(content)}`, content);
  }
  return `${lines.join("\n")}\n`;
}

function filePath(index: number): string {
  return `src/module-${String(index % 40).padStart(2, "0")}/file-${
    String(index).padStart(4, "0")
  }.txt`;
}

// About 2 kB of text per file, different for each file and commit.
function fileContent(index: number, commit: number): string {
  const line = `file ${index} revision ${commit}: the quick brown fox jumps over the lazy dog\n`;
  return line.repeat(28);
}

function encodedLength(text: string): number {
  return new TextEncoder().encode(text).length;
}

/** Resolves and loads `url` at main with a fresh store in `root`, as a first build does. */
async function loadOnce(url: string, root: string): Promise<void> {
  const store = await openStore(root);
  try {
    const context = createPluginContext({
      store,
      registry: undefined as never,
      sink: new RecordingSink(),
      signal: new AbortController().signal,
      platform: { os: "linux", architecture: "amd64" },
    });
    const args = {
      identifier: `git://${url}`,
      scheme: "git",
      path: url,
      attrs: { ref: "main" },
      platform: context.platform,
    };
    const { pin } = await gitSource.onResolve(args, context);
    await gitSource.onLoad({ ...args, pin }, context);
  } finally {
    await store.close();
  }
}

// `tsbuild version` measures process start-up; the build that follows ADDs the repository
// with everything already cached, so it costs start-up, one ref listing and cache lookups.
async function timeCachedBuilds(
  dir: string,
  server: GitServer,
  url: string,
  rounds: number,
): Promise<Timing[]> {
  const context = join(dir, "context");
  await Deno.mkdir(context);
  await Deno.writeTextFile(join(context, "Dockerfile"), `FROM scratch\nADD ${url}#main /src\n`);
  const root = join(dir, "store-cli");
  const build = () =>
    run(Deno.execPath(), [
      "run",
      ...TSBUILD_DENO_FLAGS,
      "--config",
      CONFIG,
      CLI,
      "build",
      "--root",
      root,
      "--progress",
      "quiet",
      context,
    ]);
  await build();
  const fetches = server.counts().fetch;

  const startup = await time(
    "tsbuild version (process start-up)",
    rounds,
    () =>
      run(Deno.execPath(), [
        "run",
        ...TSBUILD_DENO_FLAGS,
        "--config",
        CONFIG,
        CLI,
        "version",
      ]),
  );
  const cached = await time("tsbuild build, all cached (process)", rounds, build);
  if (server.counts().fetch !== fetches) throw new Error("a cached build fetched from the server");
  return [startup, cached];
}

async function time(
  name: string,
  rounds: number,
  fn: (round: number) => Promise<void>,
): Promise<Timing> {
  const runsMs: number[] = [];
  for (let round = 0; round < rounds; round++) runsMs.push(await measure(() => fn(round)));
  const medianMs = median(runsMs);
  console.error(`${name}: ${medianMs.toFixed(0)} ms`);
  return { name, medianMs, runsMs };
}

async function measure(fn: () => Promise<void>): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

async function run(command: string, args: string[]): Promise<void> {
  const output = await new Deno.Command(command, {
    args,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!output.success) {
    throw new Error(
      `${command} ${args.join(" ")} failed: ${new TextDecoder().decode(output.stderr)}`,
    );
  }
}

function formatTimings(timings: Timing[]): string {
  const width = Math.max(...timings.map((timing) => timing.name.length));
  return timings
    .map((timing) =>
      `${timing.name.padEnd(width)}  median ${timing.medianMs.toFixed(0).padStart(6)} ms  runs ${
        timing.runsMs.map((ms) => ms.toFixed(0)).join(", ")
      }`
    )
    .join("\n");
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

if (import.meta.main) {
  exitOnHelp(
    Deno.args,
    `Usage: deno task bench:git [--rounds N]

Times the git source against native git on a repository served on loopback.
  --rounds N   rounds to run (default 5)`,
  );
  Deno.exit(await main(Deno.args));
}
