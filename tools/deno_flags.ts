/**
 * The Deno flags of the `tsbuild` task in deno.json, so that the demo, the
 * tests and the benchmarks start the CLI exactly as the task does.
 *
 * @module
 */

import config from "../deno.json" with { type: "json" };

/** Flags between `deno run` and `cli.ts` in the `tsbuild` task, such as `--allow-all`. */
export const TSBUILD_DENO_FLAGS: readonly string[] = config.tasks.tsbuild.split(/\s+/)
  .filter((word) => word.startsWith("--"));
