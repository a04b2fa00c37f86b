// deno-lint-ignore-file no-console -- a command-line script prints its results
/**
 * The tsbuild demo, offline: makes a busybox base image, serves it from a
 * registry on loopback, builds examples/hello into an OCI archive, runs the
 * result with containerd, then builds again to show every step cached.
 *
 * Run it with `deno task demo`. Everything it starts listens on loopback or
 * a socket in a temporary directory, and is stopped when it ends.
 *
 * @module
 */

import { pushBusybox } from "../tests/_fixtures/push_busybox.ts";
import { startRegistry } from "../tests/_fixtures/registry.ts";
import { startContainerd } from "../tests/_fixtures/containerd.ts";
import { TSBUILD_DENO_FLAGS } from "../tools/deno_flags.ts";

const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const work = await Deno.makeTempDir({ prefix: "tsbuild-demo-" });
const store = Deno.env.get("TSBUILD_ROOT") ?? `${work}/store`;

function step(title: string): void {
  console.log(`\n==> ${title}`);
}

async function tsbuild(args: string[]): Promise<void> {
  console.log(`$ tsbuild ${args.join(" ")}`);
  const { success } = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...TSBUILD_DENO_FLAGS, `${root}/cli.ts`, ...args],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!success) throw new Error(`tsbuild ${args[0]} failed`);
}

try {
  step("Starting a registry on loopback and pushing a busybox base image to it");
  await using registry = await startRegistry();
  const digest = await pushBusybox(registry.host, "busybox:1");
  console.log(`${registry.host}/busybox:1 is ${digest}`);

  const buildArgs = [
    "build",
    "--root",
    store,
    "--progress",
    "plain",
    "--build-arg",
    `BASE=${registry.host}/busybox:1`,
    "-t",
    "demo:1",
    "--output",
    `type=oci,dest=${work}/demo.tar`,
    `${root}/examples/hello`,
  ];
  step("Building examples/hello into an OCI archive");
  await tsbuild(buildArgs);

  step("Importing the archive into a private containerd and running it");
  await using containerd = await startContainerd();
  console.log(await containerd.ctr(["images", "import", `${work}/demo.tar`]));
  console.log(await containerd.ctr(["run", "--rm", "docker.io/library/demo:1", "tsbuild-demo"]));

  step("Building again: every step comes from the cache");
  await tsbuild(buildArgs);
} finally {
  await Deno.remove(work, { recursive: true }).catch(() => {});
}
