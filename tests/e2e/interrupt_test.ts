/**
 * End-to-end tests of interrupted builds: SIGINT during a RUN step and SIGKILL during the
 * export, each followed by a build that must work with the same store.
 *
 * @module
 */

import { assert, assertEquals } from "../_assert.ts";
import { type CliProcess, type CliResult, runCli, spawnCli } from "../_fixtures/cli.ts";
import { sharedRegistry } from "../_fixtures/shared_registry.ts";
import { createTempDir, mountPointsUnder, runTool, skopeoInspect, writeFiles } from "./_build.ts";

/** One container as `runc list --format json` describes it. */
interface RuncContainer {
  id: string;
  pid: number;
  status: string;
  bundle: string;
}

/** Lists the containers in the store's runc state directory. */
async function runcContainers(root: string): Promise<RuncContainer[]> {
  const output = await runTool("runc", ["--root", `${root}/runc`, "list", "--format", "json"]);
  return JSON.parse(output) ?? [];
}

/** Polls runc until a container is running in the store, and returns it. */
async function waitForRunningContainer(root: string, timeoutMs = 30_000): Promise<RuncContainer> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const running = (await runcContainers(root)).filter((container) =>
      container.status === "running"
    );
    if (running.length > 0) return running[0];
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`No runc container was running in "${root}" within ${timeoutMs} ms`);
}

/**
 * Returns the process's result, or kills it and rejects when it has not exited `timeoutMs` after
 * the call, so that a hung tsbuild fails the test instead of the whole run.
 */
async function resultWithin(process: CliProcess, timeoutMs: number): Promise<CliResult> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      killQuietly(process, "SIGKILL");
      reject(new Error(`tsbuild did not exit within ${timeoutMs} ms of the signal`));
    }, timeoutMs);
  });
  try {
    return await Promise.race([process.result, timeout]);
  } finally {
    clearTimeout(timer);
    await process.result.catch(() => {});
  }
}

function killQuietly(process: CliProcess, signal: Deno.Signal): void {
  try {
    process.kill(signal);
  } catch {
    // The process has exited already.
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** Returns whether process `pid` still runs `command` (a pid may be reused by another process). */
async function isRunning(pid: number, command: string): Promise<boolean> {
  try {
    const cmdline = await Deno.readTextFile(`/proc/${pid}/cmdline`);
    return cmdline.split("\0").join(" ").includes(command);
  } catch {
    return false;
  }
}

/** Returns the `tsbuild build` arguments for `dir/context` with the store `dir/root` and `output`. */
function buildArgs(dir: string, output?: string): string[] {
  return [
    "build",
    "--root",
    `${dir}/root`,
    "--progress",
    "plain",
    ...(output ? ["--output", output] : []),
    `${dir}/context`,
  ];
}

Deno.test("interrupt: SIGINT stops a long RUN and cleans up", async () => {
  const registry = await sharedRegistry();
  await using temp = await createTempDir();
  const root = `${temp.path}/root`;
  await writeFiles(`${temp.path}/context`, {
    "Dockerfile": `FROM ${registry.busyboxRef}\nRUN sleep 30\n`,
  });

  const process = spawnCli(buildArgs(temp.path));
  let container: RuncContainer;
  try {
    await process.waitForStderr(/RUN sleep 30\n/);
    container = await waitForRunningContainer(root);
  } catch (error) {
    killQuietly(process, "SIGKILL");
    await process.result;
    throw error;
  }
  process.kill("SIGINT");
  // The RUN step would take 30 s; a build that honours SIGINT ends long before.
  const result = await resultWithin(process, 15_000);

  assertEquals(result.code, 130, result.stderr);
  assert(result.stderr.endsWith("ERROR: Build cancelled\n"), result.stderr);
  assertEquals(await runcContainers(root), []);
  assertEquals(await isRunning(container.pid, "sleep 30"), false);
  assertEquals(mountPointsUnder(root), []);
  assertEquals(mountPointsUnder(container.bundle), []);
  assertEquals(await exists(container.bundle), false);

  await Deno.writeTextFile(
    `${temp.path}/context/Dockerfile`,
    `FROM ${registry.busyboxRef}\nRUN echo after > /after.txt\n`,
  );
  const next = await runCli(buildArgs(temp.path, `type=local,dest=${temp.path}/out`));
  assertEquals(next.code, 0, next.stderr);
  assertEquals(await Deno.readTextFile(`${temp.path}/out/after.txt`), "after\n");
});

// 50 MB of random data does not compress, so exporting it takes long enough to be interrupted.
const LARGE_DOCKERFILE = (base: string) =>
  `FROM ${base}\nRUN head -c 50000000 /dev/urandom > /big\n`;

/**
 * Starts an OCI export of the large image, kills the process with SIGKILL once stderr matches
 * `killAt`, and returns the destination path. The process may have finished by then, which the
 * callers' checks allow.
 */
async function killDuringExport(dir: string, killAt: RegExp): Promise<string> {
  const registry = await sharedRegistry();
  await writeFiles(`${dir}/context`, { "Dockerfile": LARGE_DOCKERFILE(registry.busyboxRef) });
  const dest = `${dir}/out/image.tar`;

  const process = spawnCli(buildArgs(dir, `type=oci,dest=${dest}`));
  try {
    await process.waitForStderr(killAt);
  } finally {
    killQuietly(process, "SIGKILL");
  }
  const result = await process.result;
  assert(result.signal === "SIGKILL" || result.code === 0, result.stderr);
  return dest;
}

/** Asserts that `archive` is absent or a whole OCI archive whose blobs all match their digests. */
async function assertAbsentOrWhole(archive: string, scratch: string): Promise<void> {
  if (!(await exists(archive))) return;
  await runTool("skopeo", ["copy", `oci-archive:${archive}`, `oci:${scratch}`]);
}

/** Asserts that a build with the same store exports a whole image to `dest`. */
async function assertNextExportWorks(dir: string, dest: string): Promise<void> {
  const next = await runCli(buildArgs(dir, `type=oci,dest=${dest}`));
  assertEquals(next.code, 0, next.stderr);

  const exported = /^exported oci: (sha256:[0-9a-f]{64})$/m.exec(next.stderr)?.[1];
  const inspected = await skopeoInspect(`oci-archive:${dest}`);
  assertEquals(inspected.Digest, exported);
  assertEquals((inspected.Layers as string[]).length, 2);
  await runTool("skopeo", ["copy", `oci-archive:${dest}`, `oci:${dir}/copy`]);
  assertEquals(await runcContainers(`${dir}/root`), []);
  assertEquals(mountPointsUnder(`${dir}/root`), []);
}

Deno.test("interrupt: SIGKILL while writing dest leaves no partial file", async () => {
  await using temp = await createTempDir();

  const dest = await killDuringExport(temp.path, /#\d+ writing /);

  await assertAbsentOrWhole(dest, `${temp.path}/killed-copy`);
  await assertNextExportWorks(temp.path, dest);
});

Deno.test("interrupt: SIGKILL while packing layers leaves a usable store", async () => {
  await using temp = await createTempDir();

  const dest = await killDuringExport(temp.path, /exporting layers\n/);

  await assertAbsentOrWhole(dest, `${temp.path}/killed-copy`);
  await assertNextExportWorks(temp.path, dest);
});
