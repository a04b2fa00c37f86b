/**
 * End-to-end tests of heredocs in RUN and COPY, ONBUILD triggers of a base
 * image, and the notices for parser directives.
 *
 * @module
 */

import { assertEquals } from "../_assert.ts";
import { sharedRegistry } from "../_fixtures/shared_registry.ts";
import { createTempDir, runTool, writeFiles } from "./_build.ts";
import { buildContext, fileText, readImage, warnings } from "./_dockerfile_fixture.ts";

Deno.test("RUN and COPY heredocs run scripts and write files", async () => {
  const { busyboxRef } = await sharedRegistry();
  await using temp = await createTempDir();
  const context = `${temp.path}/context`;
  await writeFiles(context, {
    Dockerfile: `FROM ${busyboxRef}
ARG NAME=world
RUN <<EOF
echo "hello $NAME" > /shell
echo "second line" >> /shell
EOF
RUN <<EOF
#!/bin/sh
echo "script $0 for $NAME" > /shebang
EOF
RUN cat <<A > /a && cat <<'B' > /b
one $NAME
A
two $NAME
B
RUN <<-EOF
\t\techo tabs removed > /chomped
\tEOF
RUN 3<<EOF cat <&3 > /fd3
from descriptor 3
EOF
COPY <<EOF /copy-expanded
name=$NAME "quoted"
EOF
COPY --chmod=755 <<'EOF' /copy-literal
name=$NAME
EOF
COPY <<first.txt <<second.txt /docs/
first
first.txt
second
second.txt
`,
  });
  const out = `${temp.path}/image`;
  await buildContext({
    root: `${temp.path}/root`,
    context,
    outputs: [{ type: "oci", attrs: { dest: out, tar: "false" } }],
  });
  const image = await readImage(out);
  assertEquals(fileText(image, "shell"), "hello world\nsecond line\n");
  assertEquals(fileText(image, "shebang"), "script /dev/pipes/EOF for world\n");
  assertEquals(fileText(image, "a"), "one world\n");
  assertEquals(fileText(image, "b"), "two $NAME\n");
  assertEquals(fileText(image, "chomped"), "tabs removed\n");
  assertEquals(fileText(image, "fd3"), "from descriptor 3\n");
  assertEquals(fileText(image, "copy-expanded"), 'name=world "quoted"\n');
  assertEquals(fileText(image, "copy-literal"), "name=$NAME\n");
  assertEquals(image.files.get("copy-literal")?.mode, 0o755);
  assertEquals(image.files.get("copy-expanded")?.mode, 0o644);
  assertEquals(fileText(image, "docs/first.txt"), "first\n");
  assertEquals(fileText(image, "docs/second.txt"), "second\n");
  assertEquals([...image.files.keys()].filter((path) => path.startsWith("dev")), []);
});

async function pushLayout(layout: string, tag: string, reference: string): Promise<void> {
  const policy = `${layout}.policy.json`;
  await Deno.writeTextFile(policy, '{"default":[{"type":"insecureAcceptAnything"}]}');
  await runTool("skopeo", [
    "--policy",
    policy,
    "copy",
    "--quiet",
    "--dest-tls-verify=false",
    `oci:${layout}:${tag}`,
    `docker://${reference}`,
  ]);
}

Deno.test("ONBUILD triggers of a base image run in the image built FROM it", async () => {
  const registry = await sharedRegistry();
  await using temp = await createTempDir();
  const baseContext = `${temp.path}/base`;
  await writeFiles(baseContext, {
    Dockerfile: `FROM ${registry.busyboxRef}
WORKDIR /app
ONBUILD COPY app.conf /app/
ONBUILD RUN wc -l < /app/app.conf > /app/lines
ONBUILD ENV TRIGGERED=yes
`,
  });
  const baseLayout = `${temp.path}/base-layout`;
  await buildContext({
    root: `${temp.path}/root`,
    context: baseContext,
    names: ["onbuild-base:1"],
    outputs: [{ type: "oci", attrs: { dest: baseLayout, tar: "false" } }],
  });
  const base = await readImage(baseLayout);
  assertEquals(base.config.config.OnBuild, [
    "COPY app.conf /app/",
    "RUN wc -l < /app/app.conf > /app/lines",
    "ENV TRIGGERED=yes",
  ]);
  const baseRef = `${registry.host}/e2e-onbuild-base:1`;
  await pushLayout(baseLayout, "1", baseRef);

  const childContext = `${temp.path}/child`;
  await writeFiles(childContext, {
    "Dockerfile": `FROM ${baseRef}\nRUN echo "child sees $TRIGGERED" > /app/child\n`,
    "app.conf": "a=1\nb=2\n",
  });
  const childLayout = `${temp.path}/child-layout`;
  await buildContext({
    root: `${temp.path}/root`,
    context: childContext,
    outputs: [{ type: "oci", attrs: { dest: childLayout, tar: "false" } }],
  });
  const child = await readImage(childLayout);
  assertEquals(fileText(child, "app/app.conf"), "a=1\nb=2\n");
  assertEquals(fileText(child, "app/lines"), "2\n");
  assertEquals(fileText(child, "app/child"), "child sees yes\n");
  assertEquals(child.config.config.OnBuild, undefined);
  assertEquals((child.config.config.Env as string[]).includes("TRIGGERED=yes"), true);
});

Deno.test("parser directives tsbuild ignores are reported as warnings", async () => {
  await using temp = await createTempDir();
  const context = `${temp.path}/context`;
  await writeFiles(context, {
    Dockerfile:
      "# syntax=example.com/frontends/custom:1\n# check=error=true\nFROM scratch\nCOPY Dockerfile /\n",
  });
  const { events } = await buildContext({ root: `${temp.path}/root`, context });
  assertEquals(warnings(events), [
    'Dockerfile:1: ignoring "# syntax=example.com/frontends/custom:1": tsbuild cannot load frontend images and builds with its built-in Dockerfile frontend',
    'Dockerfile:2: ignoring "# check=error=true": tsbuild does not run Dockerfile checks',
  ]);
});
