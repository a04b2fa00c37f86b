/**
 * The tsbuild side of the benchmark: a fresh `deno run cli.ts build` process per build.
 *
 * @module
 */

import { join } from "../../core/deps.ts";
import { TSBUILD_DENO_FLAGS } from "../../tools/deno_flags.ts";
import { removeTree, runCommand } from "./processes.ts";
import { type BenchTool, once, type ToolSetup } from "./tool.ts";

const REPO_ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");

// The same Deno flags as the `tsbuild` task in deno.json.
const DENO_ARGS = [
  "run",
  ...TSBUILD_DENO_FLAGS,
  "--config",
  join(REPO_ROOT, "deno.json"),
  join(REPO_ROOT, "cli.ts"),
];

/**
 * Prepares tsbuild for the bench. Each cold build gets a new empty `--root`, so it pulls the
 * base image from the registry and runs every step. Each build exports an OCI tarball.
 */
export async function startTsbuild(setup: ToolSetup): Promise<BenchTool> {
  const deno = Deno.execPath();
  // The first run fills Deno's module cache, which would otherwise be timed in the first build.
  const version = await runCommand(deno, [...DENO_ARGS, "version"], { cwd: REPO_ROOT });

  let generation = 0;
  const root = () => join(setup.dir, `root-${generation}`);
  const imagePath = join(setup.dir, "image.tar");

  return {
    name: "tsbuild",
    version: version.stdout.trim(),
    notes: [
      `deno run ${TSBUILD_DENO_FLAGS.join(" ")} cli.ts build --progress quiet`,
      "each build exports an OCI tarball (--output type=oci,dest=...)",
      "cold: a new empty --root, so the base image is pulled again",
    ],
    async reset() {
      await removeTree(root());
      generation++;
    },
    async build(contextDir) {
      const result = await runCommand(deno, [
        ...DENO_ARGS,
        "build",
        "--root",
        root(),
        "--progress",
        "quiet",
        "--build-arg",
        `BASE=${setup.baseImage}`,
        "--output",
        `type=oci,dest=${imagePath}`,
        contextDir,
      ], { cwd: REPO_ROOT });
      return result.seconds;
    },
    close: once(() => removeTree(setup.dir)),
  };
}
