/**
 * End-to-end tests of the build context (the `local` source) and `COPY . /app` across
 * rebuilds: only changed files are read and copied, unchanged results stay cached, symlinks
 * stay links, the context digest depends only on content, and bad input fails clearly. Each
 * result is read back from the exported image.
 *
 * @module
 */

import { build } from "../../core/build.ts";
import { createRuncExecutor } from "../../core/exec/runc.ts";
import { encodeDefinition } from "../../core/graph/definition.ts";
import { copy, local, scratch } from "../../core/graph/builder.ts";
import { hostPlatform } from "../../core/oci/platform.ts";
import { PluginRegistry } from "../../core/plugin/registry.ts";
import type { ProgressEvent } from "../../core/progress/events.ts";
import { RecordingSink } from "../../core/progress/events.ts";
import { createRegistryClient } from "../../core/registry/client.ts";
import { BUILTIN_PLUGINS } from "../../plugins/builtin.ts";
import {
  assert,
  assertEquals,
  assertNotEquals,
  assertRejects,
  assertStringIncludes,
} from "../_assert.ts";
import { runCli } from "../_fixtures/cli.ts";
import { sharedRegistry } from "../_fixtures/shared_registry.ts";
import { settle } from "../plugins/sources/_local_fixture.ts";
import {
  buildDockerfile,
  cachedSteps,
  createTempDir,
  type LibraryBuild,
  ranSteps,
  runTool,
  writeFiles,
} from "./_build.ts";

const COPY_ALL = "ARG BASE\nFROM ${BASE}\nCOPY . /app\n";

/** Writes `count` small files spread over ten directories, plus the Dockerfile. */
function manyFiles(count: number, dockerfile: string): Record<string, string> {
  const files: Record<string, string> = { Dockerfile: dockerfile };
  for (let i = 0; i < count; i++) files[`dir${i % 10}/file${i}.txt`] = `content of file ${i}\n`;
  return files;
}

/** Builds `context` with an OCI archive output and returns the build and the archive's path. */
async function buildImage(
  root: string,
  context: string,
  archive: string,
): Promise<LibraryBuild> {
  const registry = await sharedRegistry();
  return await buildDockerfile({
    root,
    context,
    buildArgs: { BASE: registry.busyboxRef },
    outputs: [{ type: "oci", attrs: { dest: archive } }],
  });
}

/** Returns the last status message of the step named `name`. */
function lastStatus(events: ProgressEvent[], name: string): string | undefined {
  const statuses = events.filter((event) =>
    event.type === "vertex.status" && event.vertex.name === name
  );
  const last = statuses.at(-1);
  return last?.type === "vertex.status" ? last.message : undefined;
}

/**
 * Unpacks the top layer of the OCI archive `archive` into a new directory under `dir` with
 * GNU tar, keeping numeric owners, and returns that directory.
 */
async function unpackTopLayer(archive: string, dir: string): Promise<string> {
  const layout = await Deno.makeTempDir({ dir, prefix: "layout-" });
  await runTool("tar", ["-xf", archive, "-C", layout]);
  const index = JSON.parse(await Deno.readTextFile(`${layout}/index.json`));
  const blob = (digest: string) => `${layout}/blobs/sha256/${digest.slice("sha256:".length)}`;
  const manifest = JSON.parse(await Deno.readTextFile(blob(index.manifests[0].digest)));
  const top = manifest.layers.at(-1).digest;
  const target = await Deno.makeTempDir({ dir, prefix: "layer-" });
  await runTool("tar", ["--numeric-owner", "-xf", blob(top), "-C", target]);
  return target;
}

Deno.test("local context: a rebuild after one change reads and copies one file of 301", async () => {
  await using temp = await createTempDir();
  const context = `${temp.path}/context`;
  await writeFiles(context, manyFiles(300, COPY_ALL));
  await Deno.chmod(`${context}/dir3/file3.txt`, 0o750);
  await settle(temp.path);
  const first = await buildImage(`${temp.path}/root`, context, `${temp.path}/one.tar`);
  assertEquals(
    lastStatus(first.events, "[internal] load local context"),
    "301 of 301 files read, 0 reused, 0 skipped, 0 excluded",
  );

  await Deno.writeTextFile(`${context}/dir7/file17.txt`, "changed\n");
  const second = await buildImage(`${temp.path}/root`, context, `${temp.path}/two.tar`);

  assertEquals(
    lastStatus(second.events, "[internal] load local context"),
    "1 of 301 files read, 300 reused, 0 skipped, 0 excluded",
  );
  assertEquals(
    lastStatus(second.events, "[internal] snapshot local context"),
    "1 of 301 files copied, 300 linked",
  );
  assertEquals(ranSteps(second), ["COPY . /app", "load build context"]);
  const layer = await unpackTopLayer(`${temp.path}/two.tar`, temp.path);
  assertEquals(await Deno.readTextFile(`${layer}/app/dir7/file17.txt`), "changed\n");
  assertEquals(await Deno.readTextFile(`${layer}/app/dir9/file299.txt`), "content of file 299\n");
  const info = await Deno.lstat(`${layer}/app/dir3/file3.txt`);
  assertEquals([info.mode! & 0o7777, info.uid, info.gid], [0o750, 0, 0]);
  const names = await Array.fromAsync(Deno.readDir(`${layer}/app`), (entry) => entry.name);
  assertEquals(names.length, 11);
});

Deno.test("local context: COPY . merges into a directory the base already has", async () => {
  const registry = await sharedRegistry();
  await using temp = await createTempDir();
  const context = `${temp.path}/context`;
  await writeFiles(context, {
    Dockerfile: `ARG BASE
FROM \${BASE}
WORKDIR /app
COPY a.txt ./
RUN echo base > base.txt && mkdir -m 0700 sub && echo keep > sub/keep.txt && ln -s /etc sub/link
COPY . .
`,
    "a.txt": "from the context\n",
    "sub/new.txt": "new\n",
    "sub/link/inside.txt": "replaces the symlink\n",
  });

  const built = await buildDockerfile({
    root: `${temp.path}/root`,
    context,
    buildArgs: { BASE: registry.busyboxRef },
    outputs: [{ type: "tar", attrs: { dest: `${temp.path}/fs.tar` } }],
  });

  assertEquals(lastStatus(built.events, "[5/5] COPY . ."), "4 files linked, 0 copied");
  const fs = `${temp.path}/fs`;
  await Deno.mkdir(fs);
  await runTool("tar", ["--numeric-owner", "-xf", `${temp.path}/fs.tar`, "-C", fs]);
  assertEquals(await Deno.readTextFile(`${fs}/app/a.txt`), "from the context\n");
  assertEquals(await Deno.readTextFile(`${fs}/app/base.txt`), "base\n");
  assertEquals(await Deno.readTextFile(`${fs}/app/sub/keep.txt`), "keep\n");
  assertEquals(await Deno.readTextFile(`${fs}/app/sub/new.txt`), "new\n");
  assertEquals((await Deno.lstat(`${fs}/app/sub`)).mode! & 0o7777, 0o700);
  assert((await Deno.lstat(`${fs}/app/sub/link`)).isDirectory);
  assertEquals(
    await Array.fromAsync(Deno.readDir(`${fs}/app/sub/link`), (entry) => entry.name),
    ["inside.txt"],
  );
  assert((await Deno.lstat(`${fs}/etc/passwd`)).isFile);
});

Deno.test("local context: layers compressed in blocks have the same digest in two stores", async () => {
  const registry = await sharedRegistry();
  await using temp = await createTempDir();
  const context = `${temp.path}/context`;
  // More than one 512 KiB compression block, so the layer has several gzip members.
  const files = manyFiles(40, COPY_ALL);
  for (let i = 0; i < 4; i++) files[`big/${i}.bin`] = `${i}`.repeat(400_000);
  await writeFiles(context, files);

  const digests = [];
  for (const root of ["one", "two"]) {
    for (const compression of ["gzip", "zstd"]) {
      const archive = `${temp.path}/${root}-${compression}.tar`;
      const built = await buildDockerfile({
        root: `${temp.path}/${root}`,
        context,
        buildArgs: { BASE: registry.busyboxRef },
        outputs: [{ type: "oci", attrs: { dest: archive, compression } }],
        sourceDateEpoch: 1_700_000_000,
      });
      digests.push(built.report.exports[0].result.digest);
      const layer = await unpackTopLayer(archive, temp.path);
      assertEquals(await Deno.readTextFile(`${layer}/app/big/3.bin`), "3".repeat(400_000));
    }
  }

  assertEquals(digests[2], digests[0]);
  assertEquals(digests[3], digests[1]);
  assertNotEquals(digests[1], digests[0]);
});

Deno.test("local context: a deleted and an added file reach the image", async () => {
  await using temp = await createTempDir();
  const context = `${temp.path}/context`;
  await writeFiles(context, manyFiles(50, COPY_ALL));
  await settle(temp.path);
  await buildImage(`${temp.path}/root`, context, `${temp.path}/one.tar`);

  await Deno.remove(`${context}/dir4/file14.txt`);
  await writeFiles(context, { "new/added.txt": "added\n" });
  const second = await buildImage(`${temp.path}/root`, context, `${temp.path}/two.tar`);

  assertEquals(
    lastStatus(second.events, "[internal] load local context"),
    "1 of 51 files read, 50 reused, 0 skipped, 0 excluded",
  );
  const layer = await unpackTopLayer(`${temp.path}/two.tar`, temp.path);
  assertEquals(await Deno.readTextFile(`${layer}/app/new/added.txt`), "added\n");
  await assertRejects(() => Deno.lstat(`${layer}/app/dir4/file14.txt`), Deno.errors.NotFound);
  assertEquals(await Deno.readTextFile(`${layer}/app/dir4/file24.txt`), "content of file 24\n");
});

Deno.test("local context: a changed mtime alone rebuilds nothing", async () => {
  await using temp = await createTempDir();
  const context = `${temp.path}/context`;
  await writeFiles(context, manyFiles(20, COPY_ALL));
  await settle(temp.path);
  const first = await buildImage(`${temp.path}/root`, context, `${temp.path}/one.tar`);

  await Deno.utime(`${context}/dir1/file11.txt`, new Date(), new Date());
  const second = await buildImage(`${temp.path}/root`, context, `${temp.path}/two.tar`);

  assertEquals(ranSteps(second), []);
  assert(cachedSteps(second).includes("COPY . /app"), cachedSteps(second).join(", "));
  assertEquals(second.report.exports[0].result.digest, first.report.exports[0].result.digest);
  assertEquals(
    second.report.attributes["context.digest"],
    first.report.attributes["context.digest"],
  );
});

Deno.test("local context: COPY a.txt stays cached when b.txt changes and COPY . does not", async () => {
  await using temp = await createTempDir();
  const context = `${temp.path}/context`;
  await writeFiles(context, {
    Dockerfile: "ARG BASE\nFROM ${BASE}\nCOPY a.txt /a.txt\nCOPY . /app\n",
    "a.txt": "a\n",
    "b.txt": "b\n",
  });
  await settle(temp.path);
  await buildImage(`${temp.path}/root`, context, `${temp.path}/one.tar`);

  await Deno.writeTextFile(`${context}/b.txt`, "b changed\n");
  const second = await buildImage(`${temp.path}/root`, context, `${temp.path}/two.tar`);

  assertEquals(ranSteps(second), ["COPY . /app", "load build context"]);
  assert(cachedSteps(second).includes("COPY a.txt /a.txt"), cachedSteps(second).join(", "));
  const layer = await unpackTopLayer(`${temp.path}/two.tar`, temp.path);
  assertEquals(await Deno.readTextFile(`${layer}/app/b.txt`), "b changed\n");
});

Deno.test("local context: a symlink out of the context is copied as a link, not its target", async () => {
  await using temp = await createTempDir();
  const context = `${temp.path}/context`;
  await writeFiles(context, { Dockerfile: COPY_ALL, "inside.txt": "inside\n" });
  await writeFiles(`${temp.path}/outside`, { "secret.txt": "TOP SECRET\n" });
  await Deno.symlink("../outside/secret.txt", `${context}/up`);
  await Deno.symlink("/etc/passwd", `${context}/passwd`);

  await buildImage(`${temp.path}/root`, context, `${temp.path}/image.tar`);

  const layer = await unpackTopLayer(`${temp.path}/image.tar`, temp.path);
  assertEquals(await Deno.readLink(`${layer}/app/up`), "../outside/secret.txt");
  assertEquals(await Deno.readLink(`${layer}/app/passwd`), "/etc/passwd");
  const listing = await runTool("tar", ["-tvf", await topLayerBlob(`${temp.path}/image.tar`)]);
  assert(!listing.includes("secret.txt "), listing);
  const grep = await new Deno.Command("grep", { args: ["-r", "TOP SECRET", layer] }).output();
  assertEquals(grep.code, 1, new TextDecoder().decode(grep.stdout));
});

/** Returns the top layer blob of an OCI archive, extracted next to it. */
async function topLayerBlob(archive: string): Promise<string> {
  const layout = `${archive}.layout`;
  await Deno.mkdir(layout);
  await runTool("tar", ["-xf", archive, "-C", layout]);
  const index = JSON.parse(await Deno.readTextFile(`${layout}/index.json`));
  const blob = (digest: string) => `${layout}/blobs/sha256/${digest.slice("sha256:".length)}`;
  const manifest = JSON.parse(await Deno.readTextFile(blob(index.manifests[0].digest)));
  return blob(manifest.layers.at(-1).digest);
}

Deno.test("local context: the context digest is the same on two paths and changes with one byte", async () => {
  await using temp = await createTempDir();
  const files = {
    Dockerfile: "FROM scratch\nCOPY . /app\n",
    "a.txt": "hello\n",
    "src/main.go": "package main\n",
  };
  await writeFiles(`${temp.path}/one`, files);
  await writeFiles(`${temp.path}/two`, files);
  await Deno.utime(
    `${temp.path}/two/a.txt`,
    new Date(1_000_000_000_000),
    new Date(1_000_000_000_000),
  );

  const digestOf = async (context: string, name: string) => {
    const metadata = `${temp.path}/${name}.json`;
    const result = await runCli([
      "build",
      "--root",
      `${temp.path}/root`,
      "--progress",
      "plain",
      "--metadata-file",
      metadata,
      "--output",
      `type=oci,dest=${temp.path}/${name}.tar`,
      context,
    ]);
    assertEquals(result.code, 0, result.stderr);
    return JSON.parse(await Deno.readTextFile(metadata))["context.digest"] as string;
  };
  const one = await digestOf(`${temp.path}/one`, "one");
  const two = await digestOf(`${temp.path}/two`, "two");
  await Deno.writeTextFile(`${temp.path}/two/src/main.go`, "package mainX");
  const changed = await digestOf(`${temp.path}/two`, "changed");

  assert(/^sha256:[0-9a-f]{64}$/.test(one), one);
  assertEquals(two, one);
  assertNotEquals(changed, one);
});

Deno.test("local context: a local the build names but the command line lacks is a clear error", async () => {
  await using temp = await createTempDir();
  const definition = scratch().file(copy(local("assets"), ".", "/assets")).marshal();
  const plugins = new PluginRegistry();
  for (const plugin of BUILTIN_PLUGINS) plugins.register(plugin);

  const error = await assertRejects(() =>
    build({
      root: `${temp.path}/root`,
      frontend: "definition",
      frontendOptions: {},
      locals: { context: temp.path },
      outputs: [],
      names: [],
      platform: hostPlatform(),
      plugins,
      executor: createRuncExecutor({ stateRoot: `${temp.path}/runc` }),
      registry: createRegistryClient(),
      sink: new RecordingSink(),
      signal: new AbortController().signal,
      stdin: ReadableStream.from([encodeDefinition(definition)]),
    })
  );

  assertStringIncludes(
    (error as Error).message,
    `Failed to read local "assets": no directory was given for it (use --local assets=DIR)`,
  );
});

Deno.test("local context: a missing context directory is a clear error", async () => {
  await using temp = await createTempDir();
  const missing = `${temp.path}/missing`;
  await writeFiles(temp.path, { Dockerfile: "FROM scratch\nCOPY . /app\n" });

  const result = await runCli([
    "build",
    "--root",
    `${temp.path}/root`,
    "--progress",
    "plain",
    "--file",
    `${temp.path}/Dockerfile`,
    missing,
  ]);

  assertEquals(result.code, 1, result.stderr);
  // The command line checks the context before the local source would report it.
  assertStringIncludes(
    result.stderr,
    `ERROR: Failed to read the build context "${missing}": no such directory`,
  );
});

Deno.test("local context: an unreadable file is a clear error naming it", async () => {
  await using temp = await createTempDir();
  const context = `${temp.path}/context`;
  await writeFiles(context, {
    Dockerfile: "FROM scratch\nCOPY . /app\n",
    "keys/key.pem": "secret",
  });
  await Deno.chmod(`${context}/keys/key.pem`, 0o000);

  // Root reads any file, so tsbuild runs without the capabilities that bypass file permissions.
  const capabilities = "-dac_override,-dac_read_search";
  const output = await new Deno.Command("/usr/bin/setpriv", {
    args: [
      `--inh-caps=${capabilities}`,
      `--bounding-set=${capabilities}`,
      Deno.execPath(),
      "run",
      "--allow-all",
      "--unstable-worker-options",
      "--config",
      new URL("../../deno.json", import.meta.url).pathname,
      new URL("../../cli.ts", import.meta.url).pathname,
      "build",
      "--root",
      `${temp.path}/root`,
      "--progress",
      "plain",
      context,
    ],
    env: { NO_COLOR: "1" },
    stdin: "null",
  }).output();
  const stderr = new TextDecoder().decode(output.stderr);

  assertEquals(output.code, 1, stderr);
  assertStringIncludes(
    stderr,
    `ERROR: Failed to read local "context": cannot read "keys/key.pem": Permission denied`,
  );
});

Deno.test("local context: an invalid .dockerignore pattern is a clear error naming its line", async () => {
  await using temp = await createTempDir();
  const context = `${temp.path}/context`;
  await writeFiles(context, {
    Dockerfile: "FROM scratch\nCOPY . /app\n",
    ".dockerignore": "*.log\n[z\n",
    "a.txt": "a",
  });

  const result = await runCli([
    "build",
    "--root",
    `${temp.path}/root`,
    "--progress",
    "plain",
    context,
  ]);

  assertEquals(result.code, 1, result.stderr);
  assertStringIncludes(
    result.stderr,
    `ERROR: .dockerignore:2: invalid pattern "[z": unterminated character class`,
  );
});
