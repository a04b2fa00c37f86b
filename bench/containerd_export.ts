// deno-lint-ignore-file no-console -- a command-line script prints its progress and results
/**
 * Times tsbuild's `image` exporter against `ctr images import` of the same image as an OCI
 * archive, both into a fresh private containerd, and prints the medians and their ratio.
 *
 * The image is the busybox test image plus one layer of random bytes (about 200 MB, gzip
 * level 1). It is already in tsbuild's store, as after a cached build, so the export time is
 * the time to send the blobs to containerd, unpack them and name the image. `ctr images import` reads
 * the archive tsbuild's `oci` exporter writes for the same image and unpacks it too. Every
 * round starts containerd on an empty root, so neither side finds blobs from an earlier round;
 * containerd's start-up is not timed. The rounds alternate which side goes first.
 *
 * @example Five rounds of 200 MB
 * ```sh
 * deno run --allow-all bench/containerd_export.ts --rounds 5 --megabytes 200
 * ```
 *
 * @module
 */

import { exitOnHelp } from "./compare/help.ts";
import { createContainerdClient } from "../core/containerd/client.ts";
import { randomBytes } from "../core/deps.ts";
import { imageExporter } from "../plugins/exporters/image.ts";
import { hasContainerd, startContainerd } from "../tests/_fixtures/containerd.ts";
import { createImageContext, type ImageContext } from "../tests/core/containerd/_image_context.ts";

const IMAGE_NAME = "docker.io/library/bench:export";

/** The goal from the containerd integration task: tsbuild within 1.2 times ctr's time. */
const GOAL_RATIO = 1.2;

interface BenchOptions {
  rounds: number;
  megabytes: number;
  unpack: boolean;
}

function parseFlags(args: string[]): BenchOptions {
  const options: BenchOptions = { rounds: 5, megabytes: 200, unpack: true };
  for (let index = 0; index < args.length; index++) {
    const [flag, inline] = args[index].split("=", 2);
    const value = () => inline ?? args[++index];
    if (flag === "--rounds") options.rounds = positiveInteger(flag, value());
    else if (flag === "--megabytes") options.megabytes = positiveInteger(flag, value());
    else if (flag === "--no-unpack") options.unpack = false;
    else throw new TypeError(`Unknown flag "${flag}": use --rounds N, --megabytes N, --no-unpack`);
  }
  return options;
}

function positiveInteger(flag: string, value: string | undefined): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number <= 0) {
    throw new TypeError(`Invalid ${flag} "${value}": expected a positive whole number`);
  }
  return number;
}

/** Exports the image with tsbuild into a fresh containerd and returns the seconds it took. */
async function timeTsbuild(image: ImageContext, unpack: boolean): Promise<number> {
  await using containerd = await startContainerd({ namespace: "buildkit" });
  using client = createContainerdClient({ address: containerd.address, namespace: "buildkit" });
  const context = { ...image.context, containerd: client };
  const attrs = { name: IMAGE_NAME, unpack: String(unpack) };
  const result = { imageConfig: {}, platform: context.platform, attributes: {} };

  const started = performance.now();
  await imageExporter.onExport({ attrs, names: [], result }, context);
  const seconds = (performance.now() - started) / 1000;

  await checkImported(containerd.ctr, image);
  return seconds;
}

/** Imports the archive with ctr into a fresh containerd and returns the seconds it took. */
async function timeCtr(image: ImageContext, archive: string, unpack: boolean): Promise<number> {
  await using containerd = await startContainerd({ namespace: "buildkit" });
  const args = ["images", "import"];
  if (!unpack) args.push("--no-unpack");

  const started = performance.now();
  await containerd.ctr([...args, archive]);
  const seconds = (performance.now() - started) / 1000;

  await checkImported(containerd.ctr, image);
  return seconds;
}

async function checkImported(
  ctr: (args: string[]) => Promise<string>,
  image: ImageContext,
): Promise<void> {
  const listed = await ctr(["images", "ls"]);
  const line = listed.split("\n").find((entry) => entry.startsWith(`${IMAGE_NAME} `));
  if (!line?.includes(image.image.manifest.digest)) {
    throw new Error(`The image "${IMAGE_NAME}" is missing after the import:\n${listed}`);
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function formatSeconds(values: number[]): string {
  return values.map((value) => value.toFixed(2)).join(" ");
}

async function main(): Promise<void> {
  const options = parseFlags(Deno.args);
  if (!hasContainerd()) throw new Error("containerd is not installed at /usr/bin/containerd");

  console.log(`Preparing a ${options.megabytes} MB image ...`);
  await using image = await createImageContext({
    files: { "payload.bin": randomBytes(options.megabytes * 1024 * 1024) },
    gzipLevel: 1,
  });
  const archive = `${image.dir}/image.tar`;
  // The archive's index names the image in full (io.containerd.image.name), as ctr reads it.
  await image.writeArchive(archive, IMAGE_NAME);
  const size = [image.image.manifest, image.image.config, ...image.image.layers]
    .reduce((sum, descriptor) => sum + descriptor.size, 0);
  console.log(
    `Image ${image.image.manifest.digest}: ${
      (size / 1e6).toFixed(1)
    } MB in ${image.image.layers.length} layers, unpack ${options.unpack}`,
  );

  const tsbuild: number[] = [];
  const ctr: number[] = [];
  for (let round = 1; round <= options.rounds; round++) {
    const order = round % 2 === 1 ? ["tsbuild", "ctr"] : ["ctr", "tsbuild"];
    for (const tool of order) {
      if (tool === "tsbuild") tsbuild.push(await timeTsbuild(image, options.unpack));
      else ctr.push(await timeCtr(image, archive, options.unpack));
    }
    console.log(
      `round ${round}: tsbuild ${tsbuild.at(-1)!.toFixed(2)} s, ctr ${ctr.at(-1)!.toFixed(2)} s`,
    );
  }

  const ratio = median(tsbuild) / median(ctr);
  console.log("");
  console.log(`tool      median   runs (s)`);
  console.log(`tsbuild   ${median(tsbuild).toFixed(2)} s   ${formatSeconds(tsbuild)}`);
  console.log(`ctr       ${median(ctr).toFixed(2)} s   ${formatSeconds(ctr)}`);
  console.log(
    `ratio tsbuild/ctr ${ratio.toFixed(2)} (goal <= ${GOAL_RATIO}: ${
      ratio <= GOAL_RATIO ? "met" : "missed"
    })`,
  );
}

if (import.meta.main) {
  exitOnHelp(
    Deno.args,
    `Usage: deno task bench:containerd [--rounds N] [--megabytes N] [--no-unpack]

Times the image exporter against ctr images import, both into a private containerd.
  --rounds N      rounds to run (default 5)
  --megabytes N   size of the image's layer (default 200)
  --no-unpack     do not unpack the image into a snapshotter`,
  );
  await main();
}
