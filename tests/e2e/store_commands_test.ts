/**
 * End-to-end tests of `tsbuild du`, `tsbuild prune`, `tsbuild version` and the help of each
 * command.
 *
 * @module
 */

import denoConfig from "../../deno.json" with { type: "json" };
import { assert, assertEquals, assertStringIncludes } from "../_assert.ts";
import { type CliResult, runCli } from "../_fixtures/cli.ts";
import { sharedRegistry } from "../_fixtures/shared_registry.ts";
import { createTempDir, skopeoInspect, writeFiles } from "./_build.ts";

const SIZE_UNITS: Record<string, number> = { B: 1, kB: 1e3, MB: 1e6, GB: 1e9 };

/** The numbers of one `tsbuild du` table. */
interface DuTable {
  blobs: number;
  snapshots: number;
  cacheRecords: number;
  /** The total size in bytes, as precise as the printed value. */
  totalBytes: number;
}

/** Parses the table `tsbuild du` prints. */
function parseDu(stdout: string): DuTable {
  const count = (label: string) => {
    const match = new RegExp(`^${label} +(\\d+)`, "m").exec(stdout);
    assert(match, `no "${label}" row in:\n${stdout}`);
    return Number(match[1]);
  };
  const total = /^total +([\d.]+) (B|kB|MB|GB)$/m.exec(stdout);
  assert(total, `no "total" row in:\n${stdout}`);
  return {
    blobs: count("blobs"),
    snapshots: count("snapshots"),
    cacheRecords: count("cache records"),
    totalBytes: Number(total[1]) * SIZE_UNITS[total[2]],
  };
}

async function du(root: string): Promise<DuTable> {
  const result = await runCli(["du", "--root", root]);
  assertEquals(result.code, 0, result.stderr);
  assertStringIncludes(result.stdout, `store: ${root}\n`);
  return parseDu(result.stdout);
}

/** Builds a small image into `dir/image.tar` with the store `dir/root`. */
async function buildImage(dir: string): Promise<CliResult> {
  const registry = await sharedRegistry();
  await writeFiles(`${dir}/context`, {
    "Dockerfile": `FROM ${registry.busyboxRef}\nRUN echo du > /du.txt\nCOPY a.txt /a.txt\n`,
    "a.txt": "a\n",
  });
  const result = await runCli([
    "build",
    "--root",
    `${dir}/root`,
    "--progress",
    "plain",
    "--output",
    `type=oci,dest=${dir}/image.tar`,
    `${dir}/context`,
  ]);
  assertEquals(result.code, 0, result.stderr);
  return result;
}

function countFiles(dir: string): number {
  let count = 0;
  try {
    for (const entry of Deno.readDirSync(dir)) {
      count += entry.isDirectory ? countFiles(`${dir}/${entry.name}`) : 1;
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return count;
}

Deno.test("du: shows usage after a build", async () => {
  await using temp = await createTempDir();

  await buildImage(temp.path);

  const usage = await du(`${temp.path}/root`);
  assert(usage.totalBytes > 0, `total is ${usage.totalBytes}`);
  assert(usage.blobs > 0, `blobs: ${usage.blobs}`);
  assert(usage.snapshots > 0, `snapshots: ${usage.snapshots}`);
  assert(usage.cacheRecords > 0, `cache records: ${usage.cacheRecords}`);
  // find(1) lists every file of the measured parts with its inode, so each inode counts once.
  const root = `${temp.path}/root`;
  const listed = await new Deno.Command("find", {
    args: [
      `${root}/blobs`,
      `${root}/snapshots`,
      `${root}/data`,
      "-type",
      "f",
      "-printf",
      "%i %s\n",
    ],
  }).output();
  const sizes = new Map<string, number>();
  for (const line of new TextDecoder().decode(listed.stdout).trim().split("\n")) {
    const [inode, size] = line.split(" ");
    sizes.set(inode, Number(size));
  }
  const expected = [...sizes.values()].reduce((sum, size) => sum + size, 0);
  assert(
    Math.abs(usage.totalBytes - expected) <= expected * 0.01,
    `du total ${usage.totalBytes} bytes, files on disk ${expected} bytes`,
  );
});

Deno.test("prune: reclaims space and next build works", async () => {
  await using temp = await createTempDir();
  const root = `${temp.path}/root`;
  await buildImage(temp.path);
  const before = await du(root);
  const linkedBefore = countFiles(`${root}/data/local/links`);

  const pruned = await runCli(["prune", "--root", root]);

  assertEquals(pruned.code, 0, pruned.stderr);
  assertStringIncludes(pruned.stdout, "reclaimed");
  assert(linkedBefore > 0, "the build linked no context file into the store");
  assertStringIncludes(pruned.stdout, ` ${linkedBefore} shared files no snapshot used`);
  assertEquals(countFiles(`${root}/data/local/links`), 0);
  const after = await du(root);
  assert(
    after.totalBytes < before.totalBytes,
    `du total went from ${before.totalBytes} to ${after.totalBytes} bytes`,
  );
  assert(
    after.snapshots < before.snapshots,
    `snapshots: ${before.snapshots} -> ${after.snapshots}`,
  );

  const rebuilt = await buildImage(temp.path);
  const digest = /^exported oci: (sha256:[0-9a-f]{64})$/m.exec(rebuilt.stderr)?.[1];
  assertEquals((await skopeoInspect(`oci-archive:${temp.path}/image.tar`)).Digest, digest);
  assertEquals((await du(root)).totalBytes > after.totalBytes, true);
});

Deno.test("version: prints the version", async () => {
  const result = await runCli(["version"]);

  assertEquals(result.code, 0, result.stderr);
  assertEquals(
    result.stdout,
    `tsbuild ${denoConfig.version} (deno ${Deno.version.deno}, ${Deno.build.os}/${Deno.build.arch})\n`,
  );
});

Deno.test("help: build, du and prune print their flags", async () => {
  const expected: Record<string, string[]> = {
    build: ["--output", "--tag", "--build-arg", "--progress", "--root", "--no-cache"],
    du: ["--root"],
    prune: ["--root", "--all", "--keep-duration"],
  };
  for (const [command, flags] of Object.entries(expected)) {
    const result = await runCli([command, "--help"]);

    assertEquals(result.code, 0, `${command}: ${result.stderr}`);
    assert(result.stdout.startsWith(`Usage: tsbuild ${command} [flags]`), result.stdout);
    for (const flag of flags) assertStringIncludes(result.stdout, flag, `${command}: ${flag}`);
  }
});

Deno.test("help: unknown command exits 2 and names it", async () => {
  const result = await runCli(["bulid"]);

  assertEquals(result.code, 2);
  assert(result.stderr.startsWith('ERROR: Unknown command "bulid"\n'), result.stderr);
  assertStringIncludes(result.stderr, "Usage: tsbuild COMMAND");
});
