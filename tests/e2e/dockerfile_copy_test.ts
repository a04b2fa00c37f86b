/**
 * End-to-end tests of COPY and ADD: owners, modes, `--link`, `--from`,
 * `--exclude`, `--parents`, local archives and downloads, checked on the
 * exported image's files.
 *
 * @module
 */

import { assert, assertEquals, assertStringIncludes } from "../_assert.ts";
import { sharedRegistry } from "../_fixtures/shared_registry.ts";
import { startLoopbackServer } from "../_fixtures/loopback_server.ts";
import { createTempDir, runTool, writeFiles } from "./_build.ts";
import {
  buildContext,
  type DockerfileBuild,
  fileText,
  type ImageContents,
  readImage,
} from "./_dockerfile_fixture.ts";

interface Built {
  image: ImageContents;
  build: DockerfileBuild;
}

async function buildDir(
  dir: string,
  files: Record<string, string>,
  options: { buildArgs?: Record<string, string>; name?: string } = {},
): Promise<Built> {
  const context = `${dir}/context`;
  await writeFiles(context, files);
  const out = `${dir}/${options.name ?? "image"}`;
  const build = await buildContext({
    root: `${dir}/root`,
    context,
    buildArgs: options.buildArgs,
    outputs: [{ type: "oci", attrs: { dest: out, tar: "false" } }],
  });
  return { image: await readImage(out), build };
}

function ownerAndMode(image: ImageContents, path: string): string {
  const entry = image.files.get(path);
  if (!entry) throw new Error(`"${path}" is not in the image`);
  return `${entry.uid}:${entry.gid} ${(entry.mode & 0o7777).toString(8)}`;
}

Deno.test("COPY --chown resolves names in the target stage and takes numbers as given", async () => {
  const { busyboxRef } = await sharedRegistry();
  await using temp = await createTempDir();
  const { image } = await buildDir(temp.path, {
    "Dockerfile": `FROM ${busyboxRef}
RUN echo 'svc:x:2000:3000::/srv:/bin/sh' >> /etc/passwd && echo 'svcgrp:x:3000:' >> /etc/group && \\
    echo 'extra:x:4000:' >> /etc/group
COPY --chown=app:app a.txt /by-name.txt
COPY --chown=svc b/ /svc/
COPY --chown=svc:extra a.txt /svc-extra.txt
COPY --chown=1234 a.txt /by-uid.txt
COPY --chown=1234:5678 a.txt /by-ids.txt
COPY --chown=:extra a.txt /group-only.txt
COPY --chmod=0751 a.txt /mode.txt
COPY --chown=app --chmod=700 b/ /deep/new/dir/
`,
    "a.txt": "a\n",
    "b/c.txt": "c\n",
  });
  assertEquals(ownerAndMode(image, "by-name.txt"), "1000:1000 644");
  assertEquals(ownerAndMode(image, "svc/c.txt"), "2000:3000 644");
  assertEquals(ownerAndMode(image, "svc-extra.txt"), "2000:4000 644");
  assertEquals(ownerAndMode(image, "by-uid.txt"), "1234:1234 644");
  assertEquals(ownerAndMode(image, "by-ids.txt"), "1234:5678 644");
  assertEquals(ownerAndMode(image, "group-only.txt"), "0:4000 644");
  assertEquals(ownerAndMode(image, "mode.txt"), "0:0 751");
  assertEquals(ownerAndMode(image, "deep/new/dir/c.txt"), "1000:1000 700");
  // As in BuildKit, directories the copy creates get its owner and mode.
  assertEquals(ownerAndMode(image, "deep/new"), "1000:1000 700");
});

Deno.test("COPY --chown names an unknown user in its error", async () => {
  const { busyboxRef } = await sharedRegistry();
  await using temp = await createTempDir();
  const error = await buildDir(temp.path, {
    "Dockerfile": `FROM ${busyboxRef}\nCOPY --chown=ghost:app a.txt /a.txt\n`,
    "a.txt": "a\n",
  }).catch((error) => error as Error);
  assert(error instanceof Error);
  assertStringIncludes(
    error.message,
    'Failed to resolve user "ghost": no such user in /etc/passwd of the target',
  );
  assertStringIncludes(error.message, "Dockerfile:2");
});

Deno.test("COPY --from takes a stage name, a stage index or an image", async () => {
  const { busyboxRef } = await sharedRegistry();
  await using temp = await createTempDir();
  const { image } = await buildDir(temp.path, {
    "Dockerfile": `FROM ${busyboxRef} AS builder
RUN echo built > /artifact
FROM scratch
COPY --from=builder /artifact /by-name
COPY --from=0 /artifact /by-index
COPY --from=${busyboxRef} /etc/group /by-image
COPY --from=builder --chown=root:root /artifact /root-owned
`,
  });
  assertEquals(fileText(image, "by-name"), "built\n");
  assertEquals(fileText(image, "by-index"), "built\n");
  assertEquals(fileText(image, "by-image"), "root:x:0:\napp:x:1000:\nnobody:x:65534:\n");
  // scratch has no /etc/passwd, but "root" needs none, as in BuildKit.
  assertEquals(ownerAndMode(image, "root-owned"), "0:0 644");
  assertEquals(image.layerCount, 4);
});

Deno.test("COPY --exclude and --parents select what is copied", async () => {
  const { busyboxRef } = await sharedRegistry();
  await using temp = await createTempDir();
  const { image } = await buildDir(temp.path, {
    "Dockerfile": `FROM ${busyboxRef}
COPY --exclude=*.md --exclude=tmp app/ /excluded/
COPY --exclude=**/*.md app/ /excluded-deep/
COPY --parents services/*/config.yaml /parents/
COPY --parents ./deep/./keep/one.txt /pivot/
COPY serv*/api/config.yaml /single-match.yaml
COPY services/*/config.yaml /several/
`,
    "app/main.sh": "main\n",
    "app/README.md": "doc\n",
    "app/sub/notes.md": "doc\n",
    "app/sub/code.sh": "code\n",
    "app/tmp/scratch.txt": "tmp\n",
    "services/api/config.yaml": "api\n",
    "services/api/other.txt": "other\n",
    "services/web/config.yaml": "web\n",
    "deep/keep/one.txt": "one\n",
  });
  const under = (prefix: string) =>
    [...image.files.keys()].filter((path) => path.startsWith(prefix)).sort();
  // As in .dockerignore, "*" stops at a "/", so "*.md" leaves sub/notes.md.
  assertEquals(under("excluded/"), [
    "excluded/main.sh",
    "excluded/sub",
    "excluded/sub/code.sh",
    "excluded/sub/notes.md",
  ]);
  assertEquals(under("excluded-deep/"), [
    "excluded-deep/main.sh",
    "excluded-deep/sub",
    "excluded-deep/sub/code.sh",
    "excluded-deep/tmp",
    "excluded-deep/tmp/scratch.txt",
  ]);
  assertEquals(under("parents/"), [
    "parents/services",
    "parents/services/api",
    "parents/services/api/config.yaml",
    "parents/services/web",
    "parents/services/web/config.yaml",
  ]);
  assertEquals(under("pivot/"), ["pivot/keep", "pivot/keep/one.txt"]);
  assertEquals(fileText(image, "single-match.yaml"), "api\n");
  assertEquals(under("several/"), ["several/config.yaml"]);
});

Deno.test("COPY --link keeps its layer when the stage below changes", async () => {
  const { busyboxRef } = await sharedRegistry();
  await using temp = await createTempDir();
  const files = {
    "Dockerfile": `FROM ${busyboxRef}
ARG VERSION
RUN echo "$VERSION" > /version
COPY --link --chown=1000:1000 app/ /app/
`,
    "app/run.sh": "#!/bin/sh\necho run\n",
  };
  const first = await buildDir(temp.path, files, { buildArgs: { VERSION: "1" }, name: "one" });
  const second = await buildDir(temp.path, files, { buildArgs: { VERSION: "2" }, name: "two" });

  assertEquals(fileText(second.image, "version"), "2\n");
  assertEquals(ownerAndMode(second.image, "app/run.sh"), "1000:1000 644");
  const lastLayer = (built: Built) => built.image.manifest.layers.at(-1)!.digest;
  assertEquals(lastLayer(first), lastLayer(second));
  assertEquals(first.image.layerCount, 3);
  // The copy itself came from the cache; only the stacking ran again.
  const names = (built: Built, type: string) =>
    built.build.events.filter((event) => event.type === type).map((event) =>
      "vertex" in event ? event.vertex!.name : ""
    );
  assert(
    names(second, "vertex.cached").some((name) =>
      name.endsWith("] COPY --link --chown=1000:1000 app/ /app/")
    ),
  );
  assert(names(second, "vertex.started").some((name) => name.includes("LINK COPY --link")));
});

async function makeArchives(dir: string): Promise<void> {
  const tree = `${dir}/tree`;
  await writeFiles(tree, {
    "pkg/bin/tool": "#!/bin/sh\necho tool\n",
    "pkg/share/doc.txt": "doc\n",
  });
  await Deno.chmod(`${tree}/pkg/bin/tool`, 0o755);
  const common = ["--owner=1000", "--group=1000", "--numeric-owner", "-C", tree, "pkg"];
  await runTool("tar", ["-cf", `${dir}/context/plain.tar`, ...common]);
  await runTool("tar", ["-czf", `${dir}/context/gzip.tgz`, ...common]);
  await runTool("tar", ["-cjf", `${dir}/context/bzip2.tar.bz2`, ...common]);
  await runTool("tar", ["-cJf", `${dir}/context/xz.txz`, ...common]);
  await Deno.writeTextFile(`${dir}/context/not-an-archive.tar.gz`, "plain text\n");
}

Deno.test("ADD extracts local tar archives, plain or compressed", async () => {
  const { busyboxRef } = await sharedRegistry();
  await using temp = await createTempDir();
  await Deno.mkdir(`${temp.path}/context`, { recursive: true });
  await makeArchives(temp.path);
  const { image } = await buildDir(temp.path, {
    Dockerfile: `FROM ${busyboxRef}
ADD plain.tar /plain/
ADD gzip.tgz /gzip
ADD bzip2.tar.bz2 /bzip2/
ADD xz.txz /xz/
ADD --chown=app:app gzip.tgz /owned/
ADD not-an-archive.tar.gz /copied/
ADD --unpack=false gzip.tgz /kept/
COPY gzip.tgz /copy/
`,
  });
  for (const dir of ["plain", "gzip", "bzip2", "xz"]) {
    assertEquals(fileText(image, `${dir}/pkg/bin/tool`), "#!/bin/sh\necho tool\n", dir);
    assertEquals(ownerAndMode(image, `${dir}/pkg/bin/tool`), "1000:1000 755", dir);
    assertEquals(fileText(image, `${dir}/pkg/share/doc.txt`), "doc\n", dir);
  }
  assertEquals(ownerAndMode(image, "owned/pkg/share/doc.txt"), "1000:1000 644");
  assertEquals(fileText(image, "copied/not-an-archive.tar.gz"), "plain text\n");
  assert(image.files.has("kept/gzip.tgz"));
  assert(image.files.has("copy/gzip.tgz"));
});

Deno.test("ADD downloads a URL, checks --checksum and does not extract it", async () => {
  const { busyboxRef } = await sharedRegistry();
  await using temp = await createTempDir();
  await Deno.mkdir(`${temp.path}/context`, { recursive: true });
  await makeArchives(temp.path);
  const tarball = await Deno.readFile(`${temp.path}/context/gzip.tgz`);
  const notes = new TextEncoder().encode("release notes\n");
  const lastModified = "Wed, 21 Oct 2015 07:28:00 GMT";
  const requests: string[] = [];
  await using server = startLoopbackServer((request) => {
    const path = new URL(request.url).pathname;
    requests.push(`${path}${request.headers.has("if-none-match") ? " conditional" : ""}`);
    if (path === "/dl/notes.txt") {
      if (request.headers.get("if-none-match") === '"v1"') {
        return new Response(null, { status: 304 });
      }
      return new Response(notes, { headers: { "Last-Modified": lastModified, ETag: '"v1"' } });
    }
    if (path === "/dl/tool.tgz") return new Response(tarball);
    return new Response("missing", { status: 404 });
  });
  const digest = async (bytes: Uint8Array<ArrayBuffer>) =>
    "sha256:" + Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)))
      .map((byte) => byte.toString(16).padStart(2, "0")).join("");
  const base = `http://${server.host}/dl`;
  const dockerfile = `FROM ${busyboxRef}
ADD --checksum=${await digest(notes)} ${base}/notes.txt /downloads/
ADD ${base}/tool.tgz /downloads/
ADD --unpack=true ${base}/tool.tgz /unpacked/
ADD --chmod=644 ${base}/notes.txt /downloads/renamed.txt
RUN stat -c '%a %Y' /downloads/notes.txt > /notes.stat
`;

  const { image } = await buildDir(temp.path, { Dockerfile: dockerfile }, { name: "first" });
  assertEquals(fileText(image, "downloads/notes.txt"), "release notes\n");
  assertEquals(fileText(image, "notes.stat"), `600 ${Date.parse(lastModified) / 1000}\n`);
  assertEquals(ownerAndMode(image, "downloads/tool.tgz"), "0:0 600");
  assertEquals(fileText(image, "unpacked/pkg/share/doc.txt"), "doc\n");
  assertEquals(ownerAndMode(image, "downloads/renamed.txt"), "0:0 644");

  // A checksum pins the file without asking the server; other URLs are asked, once per build
  // and conditionally when the server gave an ETag.
  requests.length = 0;
  await buildDir(temp.path, { Dockerfile: dockerfile }, { name: "second" });
  assertEquals(requests.sort(), ["/dl/notes.txt conditional", "/dl/tool.tgz"]);

  const wrong = `sha256:${"0".repeat(64)}`;
  const error = await buildDir(temp.path, {
    Dockerfile: `FROM ${busyboxRef}\nADD --checksum=${wrong} ${base}/tool.tgz /x/\n`,
  }, { name: "wrong" }).catch((error) => error as Error);
  assert(error instanceof Error);
  assertStringIncludes(error.message, `expected "${wrong}"`);
  const missing = await buildDir(temp.path, {
    Dockerfile: `FROM ${busyboxRef}\nADD ${base}/absent /x/\n`,
  }, { name: "missing" }).catch((error) => error as Error);
  assertStringIncludes(String(missing), "the server answered 404");
});

Deno.test("WORKDIR keeps the mode and owner of a directory that exists", async () => {
  const { busyboxRef } = await sharedRegistry();
  await using temp = await createTempDir();
  const { image } = await buildDir(temp.path, {
    "Dockerfile": `FROM ${busyboxRef}
RUN mkdir -p -m 700 /secret /tmp && chmod 1777 /tmp && chown 1000:1000 /secret
WORKDIR /tmp
WORKDIR /secret
WORKDIR /secret/new
`,
  });

  assertEquals(ownerAndMode(image, "tmp"), "0:0 1777");
  assertEquals(ownerAndMode(image, "secret"), "1000:1000 700");
  assertEquals(ownerAndMode(image, "secret/new"), "0:0 755");
});

Deno.test("COPY follows a source symlink and keeps the source's name", async () => {
  const { busyboxRef } = await sharedRegistry();
  await using temp = await createTempDir();
  const context = `${temp.path}/context`;
  await writeFiles(context, {
    "Dockerfile": `FROM ${busyboxRef}\nCOPY foo /\nCOPY sub/l* /alllinks/\n`,
    "bar": "bar content\n",
    "sub/subfile": "subfile content\n",
    "sub/baz": "baz content\n",
  });
  await Deno.symlink("bar", `${context}/foo`);
  await Deno.symlink("subfile", `${context}/sub/l0`);
  await Deno.symlink("second", `${context}/sub/l1`);
  await Deno.symlink("baz", `${context}/sub/second`);
  const out = `${temp.path}/image`;
  await buildContext({
    root: `${temp.path}/root`,
    context,
    outputs: [{ type: "oci", attrs: { dest: out, tar: "false" } }],
  });
  const image = await readImage(out);

  assertEquals(fileText(image, "foo"), "bar content\n");
  assertEquals(image.files.has("bar"), false);
  assertEquals(fileText(image, "alllinks/l0"), "subfile content\n");
  assertEquals(fileText(image, "alllinks/l1"), "baz content\n");
});

Deno.test("COPY of one context file to two places gives two separate files", async () => {
  const { busyboxRef } = await sharedRegistry();
  await using temp = await createTempDir();
  const { image } = await buildDir(temp.path, {
    "Dockerfile": `FROM ${busyboxRef} AS build
COPY shared /app/a/shared
COPY shared /app/b/shared
FROM ${busyboxRef}
COPY --from=build /app /app
COPY --from=build /app/*/shared /libs/
`,
    "shared/lib.txt": "library\n",
  });

  for (const path of ["app/a/shared/lib.txt", "app/b/shared/lib.txt", "libs/lib.txt"]) {
    assertEquals(image.files.get(path)?.type, "file", path);
    assertEquals(fileText(image, path), "library\n");
  }
});
