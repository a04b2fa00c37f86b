/**
 * End-to-end tests of failing builds: each bad input gives a non-zero exit and an error on stderr
 * that names the file, line, flag or reference, and leaves a store the next build can use.
 *
 * @module
 */

import { assert, assertEquals, assertStringIncludes } from "../_assert.ts";
import { type CliResult, runCli } from "../_fixtures/cli.ts";
import { closedLoopbackPort } from "../_fixtures/loopback_server.ts";
import { sharedRegistry } from "../_fixtures/shared_registry.ts";
import { buildTar, sha256 } from "../core/oci/_layer_fixtures.ts";
import { startCraftedRegistry } from "./_crafted_registry.ts";
import { createTempDir, writeFiles } from "./_build.ts";

/** Builds `files` (a context with its Dockerfile) in `dir/context` with the store `dir/root`. */
async function buildContext(dir: string, files: Record<string, string>): Promise<CliResult> {
  const context = `${dir}/context`;
  await Deno.remove(context, { recursive: true }).catch(() => {});
  await writeFiles(context, files);
  return await runCli([
    "build",
    "--root",
    `${dir}/root`,
    "--progress",
    "plain",
    "--output",
    `type=local,dest=${dir}/out`,
    context,
  ]);
}

/** Returns the text from the last line starting with "ERROR: " to the end of stderr. */
function finalError(result: CliResult): string {
  const start = result.stderr.lastIndexOf("\nERROR: ");
  assert(start >= 0 || result.stderr.startsWith("ERROR: "), `no ERROR line in:\n${result.stderr}`);
  return result.stderr.slice(start + 1).trimEnd();
}

/** Asserts that the build failed with exit status 1 and printed no "exported" line. */
function assertFailed(result: CliResult): void {
  assertEquals(result.code, 1, `exit status ${result.code}, stderr:\n${result.stderr}`);
  assert(!result.stderr.includes("\nexported "), result.stderr);
}

/** Asserts that a good build with the store `dir/root` succeeds and exports its file. */
async function assertNextBuildWorks(dir: string): Promise<void> {
  const registry = await sharedRegistry();
  await Deno.remove(`${dir}/out`, { recursive: true }).catch(() => {});
  const result = await buildContext(dir, {
    "Dockerfile": `FROM ${registry.busyboxRef}\nRUN echo ok > /ok.txt\n`,
  });
  assertEquals(result.code, 0, result.stderr);
  assertEquals(await Deno.readTextFile(`${dir}/out/ok.txt`), "ok\n");
}

Deno.test("errors: unknown flag names the line", async () => {
  const registry = await sharedRegistry();
  await using temp = await createTempDir();

  const result = await buildContext(temp.path, {
    "Dockerfile": `FROM ${registry.busyboxRef}\nCOPY --frm=build a.txt /a.txt\n`,
    "a.txt": "a\n",
  });

  assertFailed(result);
  assertEquals(finalError(result), 'ERROR: Dockerfile:2: unknown flag "--frm" for COPY');
  await assertNextBuildWorks(temp.path);
});

Deno.test("errors: unknown instruction names the line", async () => {
  const registry = await sharedRegistry();
  await using temp = await createTempDir();

  const result = await buildContext(temp.path, {
    "Dockerfile": `FROM ${registry.busyboxRef}\nRUN true\nFOO bar\n`,
  });

  assertFailed(result);
  assertEquals(finalError(result), 'ERROR: Dockerfile:3: unknown instruction "FOO"');
  await assertNextBuildWorks(temp.path);
});

Deno.test("errors: unknown RUN mount type names the line", async () => {
  const registry = await sharedRegistry();
  await using temp = await createTempDir();

  const result = await buildContext(temp.path, {
    "Dockerfile": `FROM ${registry.busyboxRef}\nRUN --mount=type=bogus,target=/x true\n`,
  });

  assertFailed(result);
  const message = finalError(result);
  assertStringIncludes(message, "Dockerfile:2");
  assertStringIncludes(message, '"bogus"');
  await assertNextBuildWorks(temp.path);
});

Deno.test("errors: missing COPY source names the path", async () => {
  const registry = await sharedRegistry();
  await using temp = await createTempDir();

  const result = await buildContext(temp.path, {
    "Dockerfile": `FROM ${registry.busyboxRef}\nCOPY missing.txt /x\n`,
  });

  assertFailed(result);
  const message = finalError(result);
  assert(message.startsWith("ERROR: Dockerfile:2: "), message);
  assertStringIncludes(message, '"missing.txt"');
  assertStringIncludes(message, "not found");
  await assertNextBuildWorks(temp.path);
});

Deno.test("errors: COPY or WORKDIR through a file names the image path", async () => {
  const registry = await sharedRegistry();
  await using temp = await createTempDir();
  const cases = [
    {
      line: "COPY a.txt /etc/passwd/x",
      expected:
        'Failed to copy "a.txt" to "/etc/passwd/x": a path component of it is not a directory',
    },
    {
      line: "WORKDIR /etc/passwd",
      expected: 'Failed to create directory "/etc/passwd": a file or directory is already there',
    },
  ];

  for (const { line, expected } of cases) {
    const result = await buildContext(temp.path, {
      "Dockerfile": `FROM ${registry.busyboxRef}\n${line}\n`,
      "a.txt": "a\n",
    });

    assertFailed(result);
    const message = finalError(result);
    assertEquals(message, `ERROR: Dockerfile:2: [2/2] ${line}: ${expected}`);
  }
  await assertNextBuildWorks(temp.path);
});

Deno.test("errors: failing RUN shows exit code and output", async () => {
  const registry = await sharedRegistry();
  await using temp = await createTempDir();

  const result = await buildContext(temp.path, {
    "Dockerfile": `FROM ${registry.busyboxRef}\nRUN echo line1; echo line2 >&2; exit 1\n`,
  });

  assertFailed(result);
  const message = finalError(result);
  assert(message.startsWith("ERROR: Dockerfile:2: "), message);
  assertStringIncludes(
    message,
    'Process "/bin/sh -c echo line1; echo line2 >&2; exit 1" did not complete successfully: exit code 1\n',
  );
  // stdout and stderr come through separate pipes, so their relative order is not fixed.
  const tail = message.split("\n").slice(1).sort();
  assertEquals(tail, ["  > line1", "  > line2"]);
  await assertNextBuildWorks(temp.path);
});

Deno.test("errors: failing RUN keeps the last output lines", async () => {
  const registry = await sharedRegistry();
  await using temp = await createTempDir();

  const result = await buildContext(temp.path, {
    "Dockerfile": `FROM ${registry.busyboxRef}\nRUN seq 1 500; exit 3\n`,
  });

  assertFailed(result);
  const message = finalError(result);
  assertStringIncludes(message, "exit code 3");
  assert(message.endsWith("\n  > 499\n  > 500"), message);
  assert(
    !message.includes("\n  > 1\n"),
    `the message should keep only the last lines:\n${message}`,
  );
  await assertNextBuildWorks(temp.path);
});

Deno.test("errors: unknown image tag names the reference", async () => {
  const registry = await sharedRegistry();
  await using temp = await createTempDir();
  const reference = `${registry.host}/busybox:no-such-tag`;

  const result = await buildContext(temp.path, { "Dockerfile": `FROM ${reference}\nRUN true\n` });

  assertFailed(result);
  const message = finalError(result);
  assertStringIncludes(message, "Dockerfile:1");
  assertStringIncludes(message, `"${reference}"`);
  assertStringIncludes(message, "manifest not found");
  await assertNextBuildWorks(temp.path);
});

Deno.test("errors: unreachable registry names the host", async () => {
  await using temp = await createTempDir();
  const host = `127.0.0.1:${closedLoopbackPort()}`;

  const result = await buildContext(temp.path, {
    "Dockerfile": `FROM ${host}/busybox:1\nRUN true\n`,
  });

  assertFailed(result);
  const message = finalError(result);
  assertStringIncludes(message, "Dockerfile:1");
  assertStringIncludes(message, `"${host}/busybox:1"`);
  assertStringIncludes(message, `registry "${host}" is unreachable`);
  await assertNextBuildWorks(temp.path);
});

Deno.test("errors: layer with a wrong digest is rejected", async () => {
  await using temp = await createTempDir();
  const layer = await buildTar([{ header: { name: "hello.txt", mode: 0o644 }, data: "hello\n" }]);
  // The same size with one byte changed, so only the digest can tell.
  const servedLayer = layer.slice();
  servedLayer[512] ^= 0xff;
  await using server = startCraftedRegistry({ "crafted/bad-digest": { layer, servedLayer } });

  const result = await buildContext(temp.path, {
    "Dockerfile": `FROM ${server.host}/crafted/bad-digest\nRUN true\n`,
  });

  assertFailed(result);
  const message = finalError(result);
  assertStringIncludes(message, `Failed to fetch layer "${sha256(layer)}"`);
  assertStringIncludes(
    message,
    `content hashes to "${sha256(servedLayer)}", expected "${sha256(layer)}"`,
  );
  await assertNextBuildWorks(temp.path);
});

Deno.test("errors: layer with a ../ entry is rejected", async () => {
  await using temp = await createTempDir();
  // Enough "../" to reach "/" from any directory, then the test's own directory: a tsbuild that
  // followed the entry would create this file.
  const escapeTarget = `${temp.path}/escaped.txt`;
  const entryName = `${"../".repeat(40)}${escapeTarget.slice(1)}`;
  const layer = await buildTar([
    { header: { name: "ok.txt", mode: 0o644 }, data: "ok\n" },
    { header: { name: entryName, mode: 0o644 }, data: "escaped\n" },
  ]);
  await using server = startCraftedRegistry({ "crafted/escape": { layer } });

  const result = await buildContext(temp.path, {
    "Dockerfile": `FROM ${server.host}/crafted/escape\nRUN true\n`,
  });

  assertFailed(result);
  const message = finalError(result);
  assertStringIncludes(message, `Failed to unpack layer "${sha256(layer)}"`);
  assertStringIncludes(message, `at entry "${entryName}"`);
  assertStringIncludes(message, "leads outside the layer root");
  assertEquals(await exists(escapeTarget), false);
  await assertNextBuildWorks(temp.path);
});

Deno.test("errors: layer writing through a symlink is rejected", async () => {
  await using temp = await createTempDir();
  const layer = await buildTar([
    {
      header: {
        name: "evil",
        type: "symlink",
        linkname: `${"../".repeat(40)}${temp.path.slice(1)}`,
      },
    },
    { header: { name: "evil/escaped.txt", mode: 0o644 }, data: "escaped\n" },
  ]);
  await using server = startCraftedRegistry({ "crafted/symlink": { layer } });

  const result = await buildContext(temp.path, {
    "Dockerfile": `FROM ${server.host}/crafted/symlink\nRUN true\n`,
  });

  assertFailed(result);
  const message = finalError(result);
  assertStringIncludes(message, `at entry "evil/escaped.txt"`);
  assertStringIncludes(message, `parent "evil" is a symlink`);
  assertEquals(await exists(`${temp.path}/escaped.txt`), false);
  await assertNextBuildWorks(temp.path);
});

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}
