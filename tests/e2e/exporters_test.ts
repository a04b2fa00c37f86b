/**
 * End-to-end tests of the exporters: each output of `tsbuild build` read back by a tool that
 * shares no code with tsbuild (skopeo, GNU tar, the file system), and reproducible digests with
 * SOURCE_DATE_EPOCH.
 *
 * @module
 */

import { assert, assertEquals } from "../_assert.ts";
import { type CliResult, runCli } from "../_fixtures/cli.ts";
import { sharedRegistry } from "../_fixtures/shared_registry.ts";
import { createTempDir, runTool, skopeoInspect, writeFiles } from "./_build.ts";

const DOCKERFILE = `ARG BASE
FROM \${BASE}
RUN mkdir -p /data/private && echo hello > /data/hello.txt && \\
    chmod 640 /data/hello.txt && chown 1000:1000 /data/hello.txt && \\
    ln -s hello.txt /data/link && chmod 700 /data/private
COPY --chown=app:app tool.sh /usr/local/bin/tool.sh
`;

/** Writes the test context into `dir` and builds it with `--output OUTPUT`. */
async function buildWithOutput(
  dir: string,
  output: string,
  options: { root?: string; env?: Record<string, string> } = {},
): Promise<CliResult> {
  const registry = await sharedRegistry();
  const context = `${dir}/context`;
  await writeFiles(context, { "Dockerfile": DOCKERFILE, "tool.sh": "#!/bin/sh\necho tool\n" });
  await Deno.chmod(`${context}/tool.sh`, 0o755);

  const result = await runCli([
    "build",
    "--root",
    options.root ?? `${dir}/root`,
    "--progress",
    "plain",
    "--build-arg",
    `BASE=${registry.busyboxRef}`,
    "-t",
    "e2e/exporters:1",
    "--output",
    output,
    context,
  ], { env: options.env });
  assertEquals(result.code, 0, result.stderr);
  return result;
}

/** Returns the digest from the "exported TYPE: DIGEST" line the CLI prints on stderr. */
function exportedDigest(result: CliResult, type: string): string {
  const match = new RegExp(`^exported ${type}: (sha256:[0-9a-f]{64})$`, "m").exec(result.stderr);
  assert(match, `no "exported ${type}" line in:\n${result.stderr}`);
  return match[1];
}

/** Checks the layers of an image from the test Dockerfile: busybox's one and the build's two. */
function assertImageShape(inspected: Record<string, unknown>): void {
  assertEquals((inspected.Layers as string[]).length, 3);
  assertEquals(inspected.Os, "linux");
}

Deno.test("exporters: oci archive is read by skopeo", async () => {
  await using temp = await createTempDir();
  const dest = `${temp.path}/image.tar`;

  const result = await buildWithOutput(temp.path, `type=oci,dest=${dest}`);

  const inspected = await skopeoInspect(`oci-archive:${dest}`);
  assertEquals(inspected.Digest, exportedDigest(result, "oci"));
  assertImageShape(inspected);
  const named = await skopeoInspect(`oci-archive:${dest}:1`);
  assertEquals(named.Digest, inspected.Digest);
});

Deno.test("exporters: oci tar=false is a layout directory", async () => {
  await using temp = await createTempDir();
  const dest = `${temp.path}/layout`;

  const result = await buildWithOutput(temp.path, `type=oci,tar=false,dest=${dest}`);

  const inspected = await skopeoInspect(`oci:${dest}`);
  assertEquals(inspected.Digest, exportedDigest(result, "oci"));
  assertImageShape(inspected);
  const layout = JSON.parse(await Deno.readTextFile(`${dest}/oci-layout`));
  assertEquals(layout.imageLayoutVersion, "1.0.0");
  const index = JSON.parse(await Deno.readTextFile(`${dest}/index.json`));
  assertEquals(index.manifests.length, 1);
  assertEquals(index.manifests[0].digest, inspected.Digest);
  assertEquals(
    index.manifests[0].annotations["io.containerd.image.name"],
    "docker.io/e2e/exporters:1",
  );
});

Deno.test("exporters: docker archive has the tag", async () => {
  await using temp = await createTempDir();
  const dest = `${temp.path}/image.tar`;

  const result = await buildWithOutput(temp.path, `type=docker,dest=${dest}`);

  const inspected = await skopeoInspect(`docker-archive:${dest}`);
  assertImageShape(inspected);
  const named = await skopeoInspect(`docker-archive:${dest}:e2e/exporters:1`);
  assertEquals(named.Name, "docker.io/e2e/exporters");
  const manifest = JSON.parse(await runTool("tar", ["-xOf", dest, "manifest.json"]));
  assertEquals(manifest.length, 1);
  assertEquals(manifest[0].RepoTags, ["e2e/exporters:1"]);
  // skopeo reports the digest of the manifest it generates, so the exported digest is checked
  // against the image's own OCI layout inside the archive instead.
  const index = JSON.parse(await runTool("tar", ["-xOf", dest, "index.json"]));
  assertEquals(index.manifests[0].digest, exportedDigest(result, "docker"));
});

Deno.test("exporters: local writes files with modes and owners", async () => {
  await using temp = await createTempDir();
  const dest = `${temp.path}/out`;

  await buildWithOutput(temp.path, `type=local,dest=${dest}`);

  assertEquals(await Deno.readTextFile(`${dest}/data/hello.txt`), "hello\n");
  const hello = await Deno.lstat(`${dest}/data/hello.txt`);
  assertEquals(hello.mode! & 0o7777, 0o640);
  assertEquals([hello.uid, hello.gid], [1000, 1000]);
  const tool = await Deno.lstat(`${dest}/usr/local/bin/tool.sh`);
  assertEquals(tool.mode! & 0o7777, 0o755);
  assertEquals([tool.uid, tool.gid], [1000, 1000]);
  const privateDir = await Deno.lstat(`${dest}/data/private`);
  assert(privateDir.isDirectory);
  assertEquals(privateDir.mode! & 0o7777, 0o700);
  assertEquals(await Deno.readLink(`${dest}/data/link`), "hello.txt");
  assert((await Deno.lstat(`${dest}/bin/busybox`)).isFile);
});

/** One line of `tar --numeric-owner -tvf`. */
interface TarListingEntry {
  mode: string;
  owner: string;
  size: number;
  target?: string;
}

/** Parses the listing of `tar --numeric-owner -tvf` by path, without "./" or a final "/". */
function parseTarListing(listing: string): Map<string, TarListingEntry> {
  const entries = new Map<string, TarListingEntry>();
  for (const line of listing.split("\n")) {
    const match = /^(\S+) (\d+\/\d+) +(\d+) \S+ \S+ (.+?)(?: -> (.*))?$/.exec(line);
    if (!match) continue;
    const path = match[4].replace(/^\.\//, "").replace(/\/$/, "");
    entries.set(path, {
      mode: match[1],
      owner: match[2],
      size: Number(match[3]),
      target: match[5],
    });
  }
  return entries;
}

Deno.test("exporters: tar archive lists files for GNU tar", async () => {
  await using temp = await createTempDir();
  const dest = `${temp.path}/fs.tar`;

  await buildWithOutput(temp.path, `type=tar,dest=${dest}`);

  const entries = parseTarListing(await runTool("tar", ["--numeric-owner", "-tvf", dest]));
  assertEquals(entries.get("data/hello.txt"), {
    mode: "-rw-r-----",
    owner: "1000/1000",
    size: 6,
    target: undefined,
  });
  assertEquals(entries.get("usr/local/bin/tool.sh"), {
    mode: "-rwxr-xr-x",
    owner: "1000/1000",
    size: 20,
    target: undefined,
  });
  assertEquals(entries.get("data/private")?.mode, "drwx------");
  assertEquals(entries.get("data/link")?.mode, "lrwxrwxrwx");
  assertEquals(entries.get("data/link")?.target, "hello.txt");
  assertEquals(entries.get("bin/busybox")?.mode.slice(0, 1), "-");
});

Deno.test("exporters: SOURCE_DATE_EPOCH makes digests reproducible", async () => {
  await using temp = await createTempDir();
  const env = { SOURCE_DATE_EPOCH: "0" };

  const first = await buildWithOutput(temp.path, `type=oci,dest=${temp.path}/first.tar`, {
    root: `${temp.path}/root1`,
    env,
  });
  // A new modification time on the context file and a later clock for the RUN step must not
  // change the image.
  await Deno.utime(`${temp.path}/context/tool.sh`, 2_000_000_000, 2_000_000_000);
  await new Promise((resolve) => setTimeout(resolve, 1100));
  const second = await buildWithOutput(temp.path, `type=oci,dest=${temp.path}/second.tar`, {
    root: `${temp.path}/root2`,
    env,
  });

  assertEquals(exportedDigest(second, "oci"), exportedDigest(first, "oci"));
  const config = await skopeoInspect(`oci-archive:${temp.path}/second.tar`, { config: true });
  assertEquals(config.created, "1970-01-01T00:00:00Z");
});

// BuildKit's tar and local exporters set the files' timestamps to SOURCE_DATE_EPOCH, so their
// output is as reproducible as an image's.
Deno.test("exporters: SOURCE_DATE_EPOCH clamps tar timestamps", async () => {
  await using temp = await createTempDir();
  const dest = `${temp.path}/fs.tar`;

  await buildWithOutput(temp.path, `type=tar,dest=${dest}`, { env: { SOURCE_DATE_EPOCH: "0" } });

  const listing = await runTool("tar", ["--full-time", "--numeric-owner", "-tvf", dest]);
  const late = listing.trimEnd().split("\n").filter((line) =>
    !line.includes(" 1970-01-01 00:00:00 ")
  );
  assert(
    late.length === 0,
    `${late.length} entries are newer than SOURCE_DATE_EPOCH=0, such as:\n${
      late.slice(0, 5).join("\n")
    }`,
  );
});

Deno.test("exporters: SOURCE_DATE_EPOCH clamps local mtimes", async () => {
  await using temp = await createTempDir();
  const dest = `${temp.path}/out`;

  await buildWithOutput(temp.path, `type=local,dest=${dest}`, { env: { SOURCE_DATE_EPOCH: "0" } });

  const late: string[] = [];
  for (const path of ["data", "data/hello.txt", "usr/local/bin/tool.sh", "bin/busybox"]) {
    const mtime = (await Deno.lstat(`${dest}/${path}`)).mtime!.getTime();
    if (mtime > 0) late.push(`${path}: ${new Date(mtime).toISOString()}`);
  }
  assertEquals(late, [], `files newer than SOURCE_DATE_EPOCH=0:\n${late.join("\n")}`);
});
