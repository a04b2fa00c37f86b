/**
 * End-to-end tests of input that is rejected before or early in a build: output options, the
 * store path, the metadata file, secrets that are not regular files, and runaway expansion.
 *
 * @module
 */

import { assert, assertEquals, assertStringIncludes } from "../_assert.ts";
import { runCli } from "../_fixtures/cli.ts";
import { sharedRegistry } from "../_fixtures/shared_registry.ts";
import { createTempDir, writeFiles } from "./_build.ts";

async function context(dir: string, dockerfile: string): Promise<string> {
  await writeFiles(`${dir}/context`, { Dockerfile: dockerfile });
  return `${dir}/context`;
}

Deno.test("input: output options fail before the build runs", async () => {
  await using temp = await createTempDir();
  // The image does not exist: if the output were checked only after the build, the error would
  // be about the image instead.
  const dir = await context(temp.path, "FROM 127.0.0.1:1/nothing:1\nRUN true\n");

  const missingDest = await runCli(["build", "--root", `${temp.path}/root`, "-o", "type=oci", dir]);
  const badTag = await runCli([
    "build",
    "--root",
    `${temp.path}/root`,
    "-t",
    "BAD TAG",
    "-o",
    `type=oci,dest=${temp.path}/x.tar`,
    dir,
  ]);

  assertEquals(missingDest.code, 1);
  assertStringIncludes(missingDest.stderr, 'Invalid output "type=oci": missing "dest"');
  assertEquals(badTag.code, 1);
  assertStringIncludes(badTag.stderr, 'Invalid image reference "BAD TAG"');
});

Deno.test("input: a file output into a directory and a missing containerd fail first", async () => {
  await using temp = await createTempDir();
  const dir = await context(temp.path, "FROM 127.0.0.1:1/nothing:1\nRUN true\n");
  await Deno.mkdir(`${temp.path}/out`);

  const intoDirectory = await runCli([
    "build",
    "--root",
    `${temp.path}/root`,
    "-o",
    `type=oci,dest=${temp.path}/out`,
    dir,
  ]);
  const noContainerd = await runCli([
    "build",
    "--root",
    `${temp.path}/root`,
    "--containerd-address",
    `${temp.path}/no.sock`,
    "-o",
    "type=image,name=app:1",
    dir,
  ]);

  assertEquals(intoDirectory.code, 1);
  assertStringIncludes(
    intoDirectory.stderr,
    `Failed to export to "${temp.path}/out": the path is a directory, but type=oci writes a file (set tar=false to write a directory)`,
  );
  assertEquals(noContainerd.code, 1);
  assertStringIncludes(
    noContainerd.stderr,
    `containerd socket "${temp.path}/no.sock" does not exist`,
  );
  assert(!noContainerd.stderr.includes("nothing"), "the build did not start");
});

Deno.test("input: a store path that is a file is rejected", async () => {
  await using temp = await createTempDir();
  const dir = await context(temp.path, "FROM scratch\n");
  await Deno.writeTextFile(`${temp.path}/file`, "not a store");

  const build = await runCli(["build", "--root", `${temp.path}/file`, dir]);
  const empty = await runCli(["build", "--root", "", dir]);

  assertEquals(build.code, 1);
  assertStringIncludes(build.stderr, `store at "${temp.path}/file": it is a file`);
  assertEquals(await Deno.readTextFile(`${temp.path}/file`), "not a store");
  assertEquals(empty.code, 1);
  assertStringIncludes(empty.stderr, 'Invalid --root ""');
});

Deno.test("input: a metadata file in a missing directory fails first", async () => {
  await using temp = await createTempDir();
  const dir = await context(temp.path, "FROM scratch\n");

  const result = await runCli([
    "build",
    "--root",
    `${temp.path}/root`,
    "--metadata-file",
    `${temp.path}/missing/meta.json`,
    dir,
  ]);

  assertEquals(result.code, 1);
  assertStringIncludes(result.stderr, `Invalid --metadata-file "${temp.path}/missing/meta.json"`);
});

Deno.test("input: a secret that is not a regular file is rejected", async () => {
  const registry = await sharedRegistry();
  await using temp = await createTempDir();
  const dir = await context(
    temp.path,
    `FROM ${registry.busyboxRef}\nRUN --mount=type=secret,id=token cat /run/secrets/token\n`,
  );

  const result = await runCli([
    "build",
    "--root",
    `${temp.path}/root`,
    "--secret",
    "id=token,src=/dev/zero",
    dir,
  ]);

  assertEquals(result.code, 1);
  assertStringIncludes(result.stderr, 'secret "token" from "/dev/zero": not a regular file');
});

Deno.test("input: a variable that doubles itself stops at the size limit", async () => {
  const registry = await sharedRegistry();
  await using temp = await createTempDir();
  const doublings = Array.from({ length: 30 }, () => "ENV A=$A$A").join("\n");
  const dir = await context(
    temp.path,
    `FROM ${registry.busyboxRef}\nENV A=xxxxxxxx\n${doublings}\n`,
  );

  const result = await runCli(["build", "--root", `${temp.path}/root`, dir]);

  assertEquals(result.code, 1);
  assertStringIncludes(result.stderr, "the result is longer than 1048576 characters");
  assert(/Dockerfile:\d+:/.test(result.stderr), result.stderr);
});
