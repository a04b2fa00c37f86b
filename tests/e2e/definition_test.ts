/**
 * End-to-end tests of build programs. A program using the graph builder, piped into
 * `tsbuild build`, gives the image that an equivalent Dockerfile gives. `tsbuild debug
 * dump-definition` prints both definitions, and examples/build-self.ts builds tsbuild's sources.
 *
 * @module
 */

import { assert, assertEquals, assertStringIncludes } from "../_assert.ts";
import { runCli } from "../_fixtures/cli.ts";
import { sharedRegistry } from "../_fixtures/shared_registry.ts";
import { formatReference, parseReference } from "../../core/oci/reference.ts";
import { createRegistryClient } from "../../core/registry/client.ts";
import { hostPlatform } from "../../core/oci/platform.ts";
import { MOD_PATH, runCliWithInput, runProgram, writeTree } from "../core/plugin/_fixtures.ts";
import { createTempDir } from "./_build.ts";

const REPOSITORY = new URL("../..", import.meta.url).pathname;
const SOURCE_DATE_EPOCH = "1700000000";

const DOCKERFILE = (base: string) =>
  `FROM ${base}
COPY app.sh /app/app.sh
RUN chmod +x /app/app.sh
CMD ["/app/app.sh"]
`;

// The same build as DOCKERFILE, op for op. The frontend pins the base image to its digest and
// the platform, and copies with Docker's COPY options. It runs RUN with the base image's
// environment, and keeps the base image's config and history with one entry per instruction.
const PROGRAM = `import { copy, image, local, writeDefinition } from "${MOD_PATH}";

const base = JSON.parse(Deno.env.get("BASE_CONFIG")!);
const platform = JSON.parse(Deno.env.get("PLATFORM")!);
const settings = base.config ?? {};
const context = local("context");

const result = image(Deno.env.get("PINNED")!, { platform })
  .file(copy(context, "app.sh", "/app/app.sh", {
    followSymlinks: true,
    dirContentsOnly: true,
    allowWildcard: true,
    allowEmptyWildcard: true,
    createDestPath: true,
    excludePatterns: [],
  }))
  .run({
    args: ["/bin/sh", "-c", "chmod +x /app/app.sh"],
    env: settings.Env ?? [],
    cwd: settings.WorkingDir || "/",
    user: settings.User ?? "",
  });

await writeDefinition(result, {
  imageConfig: {
    config: { ...settings, Cmd: ["/app/app.sh"] },
    history: [
      ...(base.history ?? []),
      { created_by: "COPY app.sh /app/app.sh", comment: "tsbuild" },
      { created_by: "RUN /bin/sh -c chmod +x /app/app.sh", comment: "tsbuild" },
      { created_by: 'CMD ["/app/app.sh"]', comment: "tsbuild", empty_layer: true },
    ],
  },
});
`;

interface Fixture {
  dir: string;
  root: string;
  definition: Uint8Array;
  base: string;
}

async function prepare(dir: string): Promise<Fixture> {
  const registry = await sharedRegistry();
  const resolved = await createRegistryClient().resolve(registry.busyboxRef, hostPlatform());
  await writeTree(dir, {
    "context/Dockerfile": DOCKERFILE(registry.busyboxRef),
    "context/app.sh": "#!/bin/sh\necho hello from the app\n",
    "program.ts": PROGRAM,
  });
  const definition = await runProgram(`${dir}/program.ts`, [], {
    env: {
      PINNED: formatReference({ ...parseReference(registry.busyboxRef), digest: resolved.digest }),
      BASE_CONFIG: JSON.stringify(resolved.config),
      PLATFORM: JSON.stringify(hostPlatform()),
    },
  });
  return { dir, root: `${dir}/root`, definition, base: registry.busyboxRef };
}

function exportedDigest(stderr: string): string {
  const match = stderr.match(/exported oci: (sha256:[a-f0-9]{64})/);
  assert(match, `no "exported oci" line in:\n${stderr}`);
  return match[1];
}

Deno.test("definition: a build program gives the Dockerfile's image digest", async () => {
  await using temp = await createTempDir();
  const fixture = await prepare(temp.path);
  const env = { SOURCE_DATE_EPOCH };

  const fromDockerfile = await runCli([
    "build",
    "--root",
    fixture.root,
    "--progress",
    "plain",
    "--output",
    `type=oci,dest=${temp.path}/dockerfile.tar`,
    `${temp.path}/context`,
  ], { env });
  assertEquals(fromDockerfile.code, 0, fromDockerfile.stderr);

  const fromProgram = await runCliWithInput(
    [
      "build",
      "--root",
      fixture.root,
      "--progress",
      "plain",
      "--frontend",
      "definition",
      "--local",
      `context=${temp.path}/context`,
      "--output",
      `type=oci,dest=${temp.path}/program.tar`,
    ],
    fixture.definition,
    { env },
  );
  assertEquals(fromProgram.code, 0, fromProgram.stderr);

  assertEquals(exportedDigest(fromProgram.stderr), exportedDigest(fromDockerfile.stderr));
  assertEquals(
    await Deno.readFile(`${temp.path}/program.tar`),
    await Deno.readFile(`${temp.path}/dockerfile.tar`),
  );
});

Deno.test("definition: dump-definition prints the same ops for both", async () => {
  await using temp = await createTempDir();
  const fixture = await prepare(temp.path);

  const dockerfile = await runCli([
    "debug",
    "dump-definition",
    "--root",
    fixture.root,
    `${temp.path}/context`,
  ]);
  assertEquals(dockerfile.code, 0, dockerfile.stderr);
  const program = await runCliWithInput(
    ["debug", "dump-definition", "--root", fixture.root],
    fixture.definition,
  );
  assertEquals(program.code, 0, program.stderr);

  const fromDockerfile = JSON.parse(dockerfile.stdout);
  const fromProgram = JSON.parse(program.stdout);
  const digests = (json: { ops: { digest: string }[] }) => json.ops.map((op) => op.digest).sort();
  assertEquals(digests(fromProgram), digests(fromDockerfile));
  assertEquals(fromProgram.output, fromDockerfile.output);
  assertEquals(fromProgram.imageConfig, fromDockerfile.imageConfig);
  const source = fromDockerfile.ops.find((op: { op: { source?: unknown } }) => op.op.source);
  assertStringIncludes(JSON.stringify(source), `docker-image://${fixture.base}@sha256:`);
});

Deno.test("definition: dump-definition rejects an empty standard input", async () => {
  await using temp = await createTempDir();
  const result = await runCliWithInput(
    ["debug", "dump-definition", "--root", `${temp.path}/root`],
    new Uint8Array(0),
  );
  assertEquals(result.code, 1);
  assertEquals(
    result.stderr.trim(),
    "ERROR: Failed to read the build definition: standard input was empty (did the program writing it fail, or is the build context missing? tsbuild build [flags] DIR)",
  );
});

Deno.test("definition: dump-definition rejects flags that only build", async () => {
  await using temp = await createTempDir();
  for (const flag of ["--push", "--no-cache"]) {
    const result = await runCliWithInput(
      ["debug", "dump-definition", "--root", `${temp.path}/root`, flag],
      new Uint8Array(0),
    );
    assertEquals(result.code, 1);
    assertStringIncludes(result.stderr, `Unknown flag "${flag}"`);
  }
});

Deno.test("definition: examples/build-self.ts builds tsbuild's sources", async () => {
  const registry = await sharedRegistry();
  await using temp = await createTempDir();
  const definition = await runProgram(`${REPOSITORY}examples/build-self.ts`, [registry.busyboxRef]);

  const built = await runCliWithInput([
    "build",
    "--root",
    `${temp.path}/root`,
    "--progress",
    "plain",
    "--frontend",
    "definition",
    "--local",
    `context=${REPOSITORY}`,
    "--output",
    `type=local,dest=${temp.path}/fs`,
  ], definition);
  assertEquals(built.code, 0, built.stderr);

  const sums = await Deno.readTextFile(`${temp.path}/fs/app/SOURCES.sha256`);
  assertStringIncludes(sums, "  ./cli.ts\n");
  assertStringIncludes(sums, "  ./core/plugin/loader.ts\n");
  assertEquals(sums.includes("_test.ts"), false, "tests are left out");
  assertEquals(
    await Deno.readTextFile(`${temp.path}/fs/app/mod.ts`),
    await Deno.readTextFile(`${REPOSITORY}mod.ts`),
  );
});
