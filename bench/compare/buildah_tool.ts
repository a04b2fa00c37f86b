/**
 * The buildah side of the benchmark: `buildah bud --layers` with its own storage root.
 *
 * @module
 */

import { join } from "../../core/deps.ts";
import { findExecutable, removeTree, runCommand } from "./processes.ts";
import { type BenchTool, once, type ToolSetup, ToolUnavailableError } from "./tool.ts";

const IMAGE_NAME = "tsbuild-bench:latest";
// buildah checks every pull against a signature policy; the bench accepts any image so that
// it does not depend on /etc/containers/policy.json.
const ACCEPT_ANYTHING_POLICY = '{"default":[{"type":"insecureAcceptAnything"}]}\n';
// Native overlay first; vfs copies each layer in full but works on any file system.
const STORAGE_DRIVERS = ["overlay", "vfs"];

/**
 * Finds buildah on PATH and picks the first storage driver that works with a root in
 * `setup.dir`.
 *
 * @throws {ToolUnavailableError} when buildah is not installed or no storage driver works.
 */
export async function startBuildah(setup: ToolSetup): Promise<BenchTool> {
  const buildah = findExecutable("buildah");
  if (!buildah) {
    throw new ToolUnavailableError("buildah not found on PATH: install Debian's buildah package");
  }

  const policyPath = join(setup.dir, "policy.json");
  const registriesPath = join(setup.dir, "registries.conf");
  await Deno.writeTextFile(policyPath, ACCEPT_ANYTHING_POLICY);
  // An empty registries.conf keeps host mirrors and search registries out of the measurement.
  await Deno.writeTextFile(registriesPath, "");
  const driver = await pickStorageDriver(buildah, setup.dir, registriesPath);
  const globalArgs = [
    "--root",
    join(setup.dir, "root"),
    "--runroot",
    join(setup.dir, "runroot"),
    "--storage-driver",
    driver,
    "--registries-conf",
    registriesPath,
  ];
  const run = (args: string[]) => runCommand(buildah, [...globalArgs, ...args]);
  const version = await runCommand(buildah, ["--version"]);

  return {
    name: "buildah",
    version: `${version.stdout.trim()}, storage driver ${driver}`,
    notes: [
      "buildah bud --layers --network none --tls-verify=false -q (stages run one at a time, --jobs 1)",
      "each build stores the image in buildah's own storage root",
      "cold: buildah rmi --all --force, so the base image is pulled again",
    ],
    async reset() {
      await run(["rm", "--all"]);
      await run(["rmi", "--all", "--force"]);
    },
    async build(contextDir) {
      const result = await run([
        "bud",
        "--signature-policy",
        policyPath,
        "--layers",
        "--network",
        "none",
        "--tls-verify=false",
        "--quiet",
        "--build-arg",
        `BASE=${setup.baseImage}`,
        "--tag",
        IMAGE_NAME,
        contextDir,
      ]);
      return result.seconds;
    },
    close: once(() => removeTree(setup.dir)),
  };
}

async function pickStorageDriver(
  buildah: string,
  dir: string,
  registriesPath: string,
): Promise<string> {
  const failures: string[] = [];
  for (const driver of STORAGE_DRIVERS) {
    const probeRoot = join(dir, `probe-${driver}`);
    const result = await runCommand(buildah, [
      "--root",
      join(probeRoot, "root"),
      "--runroot",
      join(probeRoot, "runroot"),
      "--storage-driver",
      driver,
      "--registries-conf",
      registriesPath,
      "images",
    ], { allowFailure: true });
    await removeTree(probeRoot);
    if (result.code === 0) return driver;
    failures.push(`${driver}: ${result.stderr.trim()}`);
  }
  throw new ToolUnavailableError(`No buildah storage driver works here: ${failures.join("; ")}`);
}
