/**
 * Helpers of the end-to-end tests: an in-process build with recorded progress events, context
 * directories written from a file map, and external tools run with their output checked.
 *
 * @module
 */

import { build, type BuildReport } from "../../core/build.ts";
import { createRuncExecutor } from "../../core/exec/runc.ts";
import { hostPlatform } from "../../core/oci/platform.ts";
import { PluginRegistry } from "../../core/plugin/registry.ts";
import { type ProgressEvent, RecordingSink } from "../../core/progress/events.ts";
import { createRegistryClient } from "../../core/registry/client.ts";
import type { OutputSpec } from "../../core/cli/output_spec.ts";
import { BUILTIN_PLUGINS } from "../../plugins/builtin.ts";

/** Options for {@link buildDockerfile}. */
export interface LibraryBuildOptions {
  /** Store directory. */
  root: string;
  /** Context directory, which also contains the Dockerfile. */
  context: string;
  outputs?: OutputSpec[];
  names?: string[];
  buildArgs?: Record<string, string>;
  sourceDateEpoch?: number;
}

/** A finished in-process build: its report and every progress event it emitted. */
export interface LibraryBuild {
  report: BuildReport;
  events: ProgressEvent[];
}

/**
 * Builds `context/Dockerfile` with `build()` and the options the CLI would pass, recording the
 * progress events.
 */
export async function buildDockerfile(options: LibraryBuildOptions): Promise<LibraryBuild> {
  const plugins = new PluginRegistry();
  for (const plugin of BUILTIN_PLUGINS) plugins.register(plugin);
  const frontendOptions: Record<string, string> = {};
  for (const [name, value] of Object.entries(options.buildArgs ?? {})) {
    frontendOptions[`build-arg:${name}`] = value;
  }
  const sink = new RecordingSink();

  const report = await build({
    root: options.root,
    frontend: "dockerfile",
    frontendOptions,
    locals: { context: options.context, dockerfile: options.context },
    outputs: options.outputs ?? [],
    names: options.names ?? [],
    platform: hostPlatform(),
    plugins,
    executor: createRuncExecutor({ stateRoot: `${options.root}/runc` }),
    registry: createRegistryClient(),
    sink,
    signal: new AbortController().signal,
    sourceDateEpoch: options.sourceDateEpoch,
  });
  return { report, events: sink.events };
}

/**
 * Returns the name of each op that ran, as many times as it ran, sorted. Names come from the
 * progress events, with the "[stage n/m] " prefix removed, e.g. "COPY b.txt /b.txt".
 */
export function ranSteps({ report, events }: LibraryBuild): string[] {
  const names = vertexNames(events);
  const steps: string[] = [];
  for (const [digest, count] of report.stats.runs) {
    const name = stepName(names.get(digest) ?? digest);
    for (let i = 0; i < count; i++) steps.push(name);
  }
  return steps.sort();
}

/** Returns the name of each op that was a cache hit, sorted, named as in {@link ranSteps}. */
export function cachedSteps({ report, events }: LibraryBuild): string[] {
  const names = vertexNames(events);
  return [...report.stats.cacheHits.keys()].map((digest) => stepName(names.get(digest) ?? digest))
    .sort();
}

/** The time an op started and completed, from its progress events. */
export interface StepInterval {
  started: number;
  completed: number;
}

/**
 * Returns when the op whose name ends with `suffix` started and completed.
 *
 * @throws {Error} when no such op, or more than one, has both events.
 */
export function stepInterval(events: ProgressEvent[], suffix: string): StepInterval {
  const intervals = new Map<string, Partial<StepInterval>>();
  for (const event of events) {
    if (event.type !== "vertex.started" && event.type !== "vertex.completed") continue;
    if (!event.vertex.name.endsWith(suffix)) continue;
    const interval = intervals.get(event.vertex.id) ?? {};
    if (event.type === "vertex.started") interval.started = event.time;
    else interval.completed = event.time;
    intervals.set(event.vertex.id, interval);
  }
  const found = [...intervals.values()].filter((interval): interval is StepInterval =>
    interval.started !== undefined && interval.completed !== undefined
  );
  if (found.length !== 1) {
    throw new Error(
      `Expected one started and completed step named "…${suffix}", found ${found.length}`,
    );
  }
  return found[0];
}

function vertexNames(events: ProgressEvent[]): Map<string, string> {
  const names = new Map<string, string>();
  for (const event of events) {
    if ("vertex" in event && event.vertex) names.set(event.vertex.id, event.vertex.name);
  }
  return names;
}

function stepName(name: string): string {
  return name.replace(/^\[[^\]]*\] /, "");
}

/** Creates `dir` and writes each file of `files` (paths relative to `dir`) into it. */
export async function writeFiles(dir: string, files: Record<string, string>): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    const full = `${dir}/${path}`;
    await Deno.mkdir(full.slice(0, full.lastIndexOf("/")), { recursive: true });
    await Deno.writeTextFile(full, content);
  }
}

/** Runs `command` with `args` and returns its standard output; rejects quoting stderr on failure. */
export async function runTool(command: string, args: string[]): Promise<string> {
  const output = await new Deno.Command(command, { args, stdin: "null" }).output();
  const decoder = new TextDecoder();
  if (!output.success) {
    throw new Error(
      `${command} ${args.join(" ")} exited with ${output.code}: ${decoder.decode(output.stderr)}`,
    );
  }
  return decoder.decode(output.stdout);
}

/** Runs `skopeo inspect [--config] TRANSPORT:PATH` and parses its JSON output. */
export async function skopeoInspect(
  image: string,
  options: { config?: boolean } = {},
): Promise<Record<string, unknown>> {
  const args = ["inspect", ...(options.config ? ["--config"] : []), image];
  return JSON.parse(await runTool("skopeo", args));
}

/**
 * Creates a temporary directory for one test; remove it with `await using`. Removal first
 * detaches any mount left below the directory, so that a mount leaked by a failed build cannot
 * make the recursive removal reach into the files mounted there.
 */
export async function createTempDir(
  prefix = "tsbuild-e2e-",
): Promise<AsyncDisposable & { path: string }> {
  const path = await Deno.makeTempDir({ prefix });
  return {
    path,
    [Symbol.asyncDispose]: async () => {
      for (const mountPoint of mountPointsUnder(path).reverse()) {
        await new Deno.Command("umount", { args: ["-l", mountPoint], stderr: "null" }).output();
      }
      if (mountPointsUnder(path).length > 0) return;
      await Deno.remove(path, { recursive: true }).catch(() => {});
    },
  };
}

/** Returns the mount points at or below `dir`, from /proc/self/mountinfo, shallowest first. */
export function mountPointsUnder(dir: string): string[] {
  const mountinfo = Deno.readTextFileSync("/proc/self/mountinfo");
  return mountinfo.split("\n")
    .map((line) => line.split(" ")[4]?.replace(/\\040/g, " "))
    .filter((point): point is string =>
      point !== undefined && (point === dir || point.startsWith(`${dir}/`))
    )
    .sort((a, b) => a.length - b.length);
}
