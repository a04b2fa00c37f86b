/**
 * End-to-end tests of `RUN --mount` (cache, bind, tmpfs) and `RUN --network`,
 * built with runc from the loopback registry's busybox.
 *
 * @module
 */

import { assert, assertEquals } from "../_assert.ts";
import { sharedRegistry } from "../_fixtures/shared_registry.ts";
import { createTempDir, writeFiles } from "./_build.ts";
import { buildContext, fileText, type ImageContents, readImage } from "./_dockerfile_fixture.ts";

async function buildImage(
  dir: string,
  files: Record<string, string>,
  options: { buildArgs?: Record<string, string>; name?: string } = {},
): Promise<ImageContents> {
  const context = `${dir}/context`;
  await writeFiles(context, files);
  const out = `${dir}/${options.name ?? "image"}`;
  await buildContext({
    root: `${dir}/root`,
    context,
    buildArgs: options.buildArgs,
    outputs: [{ type: "oci", attrs: { dest: out, tar: "false" } }],
  });
  return await readImage(out);
}

async function treeFiles(dir: string, prefix = ""): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = `${prefix}${entry.name}`;
    if (entry.isDirectory) found.push(...await treeFiles(`${dir}/${entry.name}`, `${path}/`));
    else found.push(path);
  }
  return found;
}

Deno.test("RUN --mount=type=cache keeps its files across builds and out of the image", async () => {
  const { busyboxRef } = await sharedRegistry();
  await using temp = await createTempDir();
  const dockerfile = `FROM ${busyboxRef}
ARG RUN_ID
RUN --mount=type=cache,target=/var/cache/app,id=app-cache \\
    echo "run $RUN_ID" >> /var/cache/app/runs && cp /var/cache/app/runs /runs.txt
`;
  const first = await buildImage(temp.path, { Dockerfile: dockerfile }, {
    buildArgs: { RUN_ID: "1" },
    name: "first",
  });
  const second = await buildImage(temp.path, { Dockerfile: dockerfile }, {
    buildArgs: { RUN_ID: "2" },
    name: "second",
  });

  assertEquals(fileText(first, "runs.txt"), "run 1\n");
  assertEquals(fileText(second, "runs.txt"), "run 1\nrun 2\n");
  for (const image of [first, second]) {
    assertEquals([...image.files.keys()].filter((path) => path.startsWith("var")), []);
  }
  const snapshotFiles = await treeFiles(`${temp.path}/root/snapshots`);
  assertEquals(snapshotFiles.filter((path) => path.endsWith("/runs")), []);
  const cacheFiles = await treeFiles(`${temp.path}/root/data/cache-mounts`);
  assertEquals(cacheFiles.filter((path) => path.endsWith("/runs")).length, 1);
});

Deno.test("RUN --mount=type=cache with uid, gid and mode starts owned as asked", async () => {
  const { busyboxRef } = await sharedRegistry();
  await using temp = await createTempDir();
  const image = await buildImage(temp.path, {
    Dockerfile: `FROM ${busyboxRef}
RUN --mount=type=cache,target=/cache,uid=1000,gid=1000,mode=0750 stat -c '%u %g %a' /cache > /perm
USER app
RUN --mount=type=cache,target=/cache,uid=1000,gid=1000,mode=0750 touch /cache/by-app && id -u > /tmp/uid
`,
  });
  assertEquals(fileText(image, "perm"), "1000 1000 750\n");
  assertEquals(fileText(image, "tmp/uid"), "1000\n");
});

Deno.test("RUN --mount=type=cache starts from a stage's directory when given from", async () => {
  const { busyboxRef } = await sharedRegistry();
  await using temp = await createTempDir();
  const image = await buildImage(temp.path, {
    Dockerfile: `FROM ${busyboxRef} AS seed
RUN mkdir -p /seed/pkg && echo seeded > /seed/pkg/index && chown -R 1000:1000 /seed
FROM ${busyboxRef}
RUN --mount=type=cache,id=seeded,target=/c,from=seed,source=/seed \
    cat /c/pkg/index > /first && stat -c '%u' /c/pkg > /owner && echo added > /c/pkg/extra
ARG AGAIN=1
RUN --mount=type=cache,id=seeded,target=/c,from=seed,source=/seed cat /c/pkg/extra > /second
RUN --mount=type=cache,id=seeded,target=/c ls /c > /without-from
`,
  });
  assertEquals(fileText(image, "first"), "seeded\n");
  assertEquals(fileText(image, "owner"), "1000\n");
  assertEquals(fileText(image, "second"), "added\n");
  // The same id without a base is another cache, which starts empty.
  assertEquals(fileText(image, "without-from"), "");
});

Deno.test("RUN --mount=type=cache,sharing=locked runs one holder at a time", async () => {
  const { busyboxRef } = await sharedRegistry();
  await using temp = await createTempDir();
  const step = (name: string) =>
    `RUN --mount=type=cache,id=lock,target=/c,sharing=locked echo start-${name} >> /c/log && sleep 1 && echo end-${name} >> /c/log && touch /${name}`;
  const image = await buildImage(temp.path, {
    Dockerfile: `FROM ${busyboxRef} AS a
${step("a")}
FROM ${busyboxRef} AS b
${step("b")}
FROM ${busyboxRef}
COPY --from=a /a /a
COPY --from=b /b /b
RUN --mount=type=cache,id=lock,target=/c,sharing=locked cp /c/log /log
`,
  });
  const lines = fileText(image, "log").trim().split("\n");
  assertEquals(lines.length, 4);
  // Each holder's start and end are adjacent, so no other holder ran in between.
  assertEquals(lines[0].replace("start", "end"), lines[1]);
  assertEquals(lines[2].replace("start", "end"), lines[3]);
});

Deno.test("RUN --mount=type=cache,sharing=private gives concurrent holders their own directory", async () => {
  const { busyboxRef } = await sharedRegistry();
  await using temp = await createTempDir();
  const step = (name: string) =>
    `RUN --mount=type=cache,id=private,target=/c,sharing=private touch /c/${name} && sleep 1 && ls /c > /${name}`;
  const image = await buildImage(temp.path, {
    Dockerfile: `FROM ${busyboxRef} AS a
${step("a")}
FROM ${busyboxRef} AS b
${step("b")}
FROM ${busyboxRef}
COPY --from=a /a /a
COPY --from=b /b /b
`,
  });
  assertEquals([fileText(image, "a"), fileText(image, "b")].sort(), ["a\n", "b\n"]);
});

Deno.test("RUN --mount=type=bind mounts the context, a stage and an image", async () => {
  const { busyboxRef } = await sharedRegistry();
  await using temp = await createTempDir();
  const image = await buildImage(temp.path, {
    "Dockerfile": `FROM ${busyboxRef} AS tools
RUN mkdir /out && echo tool > /out/tool.txt
FROM ${busyboxRef}
RUN --mount=target=/ctx cat /ctx/src/a.txt > /from-context && \\
    (touch /ctx/new 2>/dev/null && echo writable || echo read-only) > /ro
RUN --mount=target=/ctx,rw touch /ctx/new && ls /ctx > /rw-listing
RUN --mount=target=/ctx ls /ctx > /after-rw
RUN --mount=from=tools,source=/out,target=/tools cat /tools/tool.txt > /from-stage
RUN --mount=from=${busyboxRef},source=/etc/passwd,target=/p grep -c : /p > /from-image
RUN --mount=source=src,target=/src cat /src/a.txt > /from-subdir
`,
    "src/a.txt": "context file\n",
  });
  assertEquals(fileText(image, "from-context"), "context file\n");
  assertEquals(fileText(image, "ro"), "read-only\n");
  assertEquals(fileText(image, "rw-listing"), "Dockerfile\nnew\nsrc\n");
  assertEquals(fileText(image, "after-rw"), "Dockerfile\nsrc\n");
  assertEquals(fileText(image, "from-stage"), "tool\n");
  assertEquals(fileText(image, "from-image"), "3\n");
  assertEquals(fileText(image, "from-subdir"), "context file\n");
  assert(!(await Deno.stat(`${temp.path}/context/new`).catch(() => undefined)));
  assertEquals([...image.files.keys()].filter((path) => /^(ctx|tools|p|src)(\/|$)/.test(path)), []);
});

Deno.test("RUN --mount=type=bind reports a missing source with the step", async () => {
  const { busyboxRef } = await sharedRegistry();
  await using temp = await createTempDir();
  const error = await buildImage(temp.path, {
    Dockerfile: `FROM ${busyboxRef}\nRUN --mount=source=missing.txt,target=/m true\n`,
  }).catch((error) => error as Error);
  assert(error instanceof Error);
  assertEquals(
    error.message.endsWith(
      'Failed to mount "/missing.txt" at "/m": not found in the mounted source',
    ),
    true,
    error.message,
  );
});

Deno.test("RUN --mount=type=tmpfs mounts a tmpfs of the given size", async () => {
  const { busyboxRef } = await sharedRegistry();
  await using temp = await createTempDir();
  const image = await buildImage(temp.path, {
    Dockerfile: `FROM ${busyboxRef}
RUN --mount=type=tmpfs,target=/scratch,size=1m grep ' /scratch ' /proc/mounts | cut -d' ' -f3,4 > /mount && \\
    echo data > /scratch/file
`,
  });
  assertEquals(fileText(image, "mount"), "tmpfs rw,nosuid,nodev,relatime,size=1024k\n");
  assertEquals([...image.files.keys()].filter((path) => path.startsWith("scratch")), []);
});

Deno.test("RUN --network chooses between no network and the host's", async () => {
  const { busyboxRef } = await sharedRegistry();
  await using temp = await createTempDir();
  const interfaces = "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort";
  const image = await buildImage(temp.path, {
    Dockerfile: `FROM ${busyboxRef}
RUN --network=none ${interfaces} > /none
RUN --network=host ${interfaces} > /host
RUN ${interfaces} > /default
`,
  });
  const hostInterfaces = (await Deno.readTextFile("/proc/net/dev")).split("\n").slice(2)
    .map((line) => line.split(":")[0].trim()).filter(Boolean).sort();
  assertEquals(fileText(image, "none"), "lo\n");
  assertEquals(fileText(image, "host"), hostInterfaces.join("\n") + "\n");
  assertEquals(fileText(image, "default"), hostInterfaces.join("\n") + "\n");
});
