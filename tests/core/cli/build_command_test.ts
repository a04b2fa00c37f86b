/**
 * Tests of the plugin loading step of `tsbuild build`: nothing is loaded without plugin flags or
 * tsbuild.json, and a config file or grant that is present is still read and checked.
 *
 * @module
 */

import { assertEquals, assertRejects, assertThrows } from "../../_assert.ts";
import {
  BUILD_FLAGS,
  loadProjectPlugins,
  resolveBuildRequest,
} from "../../../core/cli/build_command.ts";
import { parseArgs } from "../../../core/cli/args.ts";
import { InvalidInputError } from "../../../core/errors.ts";
import { PluginRegistry } from "../../../core/plugin/registry.ts";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "tsbuild-build-command-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("loadProjectPlugins() loads nothing without plugin flags", async () => {
  await withDir(async (dir) => {
    const registry = new PluginRegistry();
    const loaded = await loadProjectPlugins({ plugins: [], allow: [], cwd: dir }, registry);
    assertEquals(loaded, undefined);
    assertEquals(registry.names(), { sources: [], exporters: [], frontends: [] });
  });
});

Deno.test("loadProjectPlugins() reads tsbuild.json in the directory", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/tsbuild.json`, JSON.stringify({ plugin: [] }));
    await assertRejects(
      () => loadProjectPlugins({ plugins: [], allow: [], cwd: dir }, new PluginRegistry()),
      InvalidInputError,
      `Invalid config file "tsbuild.json": unknown key "plugin" in the top level (allowed: plugins)`,
    );

    await Deno.writeTextFile(`${dir}/tsbuild.json`, JSON.stringify({ plugins: [] }));
    await using loaded = await loadProjectPlugins(
      { plugins: [], allow: [], cwd: dir },
      new PluginRegistry(),
    );
    assertEquals(loaded?.plugins, []);
  });
});

Deno.test("loadProjectPlugins() checks --plugin-allow without plugins", async () => {
  await withDir(async (dir) => {
    await assertRejects(
      () => loadProjectPlugins({ plugins: [], allow: ["sys=all"], cwd: dir }, new PluginRegistry()),
      InvalidInputError,
      `Invalid --plugin-allow "sys=all": unknown permission "sys" (expected read, write, net, run, env)`,
    );
  });
});

Deno.test("resolveBuildRequest() rejects contexts and Dockerfiles read from stdin", () => {
  const cases: [string[], string][] = [
    [["-"], "Reading the build context from standard input is not supported"],
    [["-f", "-", "."], "Reading the Dockerfile from standard input (-f -) is not supported"],
    [["file:///srv/app"], "file:// contexts are not supported"],
  ];
  for (const [argv, message] of cases) {
    assertThrows(
      () => resolveBuildRequest(parseArgs(argv, BUILD_FLAGS)),
      InvalidInputError,
      message,
    );
  }
});

Deno.test("resolveBuildRequest() takes buildctl's dockerfile.v0 as the Dockerfile frontend", () => {
  const request = resolveBuildRequest(
    parseArgs(["--frontend", "dockerfile.v0", "--local", "context=."], BUILD_FLAGS),
  );

  assertEquals(request.frontend, "dockerfile");
});

Deno.test("parseArgs() says what to use instead of --load", () => {
  assertThrows(
    () => parseArgs(["--load", "."], BUILD_FLAGS),
    InvalidInputError,
    'Unknown flag "--load": tsbuild has no Docker daemon to load into; export with -o type=docker',
  );
});

Deno.test("resolveBuildRequest() adds one registry output for --push", () => {
  const pushOnly = resolveBuildRequest(
    parseArgs(["-t", "127.0.0.1:5000/app:1", "--push", "."], BUILD_FLAGS),
  );
  const both = resolveBuildRequest(
    parseArgs(["--push", "--output", "type=registry,name=127.0.0.1:5000/app:1", "."], BUILD_FLAGS),
  );

  assertEquals(pushOnly.outputs, [{ type: "registry", attrs: {} }]);
  assertEquals(both.outputs, [{ type: "registry", attrs: { name: "127.0.0.1:5000/app:1" } }]);
});
