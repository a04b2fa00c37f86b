/**
 * Tests of tsbuild.json: plugin entries with grants, unknown keys rejected by name, and the
 * merge with --plugin and --plugin-allow.
 *
 * @module
 */

import { assertEquals, assertRejects } from "../../_assert.ts";
import { InvalidInputError, NotFoundError } from "../../../core/errors.ts";
import { readProjectConfig, resolvePluginSpecs } from "../../../core/plugin/config_file.ts";
import { noPermissions } from "../../../core/plugin/sandbox_permissions.ts";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "tsbuild-config-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("readProjectConfig() reads plugins with grants relative to the file", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(
      `${dir}/tsbuild.json`,
      JSON.stringify({
        plugins: [
          "./a.ts",
          { path: "plugins/b.ts", allow: { read: ["data"], net: ["127.0.0.1:8080"] } },
        ],
      }),
    );
    const config = await readProjectConfig(undefined, dir);
    assertEquals(config?.plugins, [
      { file: "./a.ts", path: `${dir}/a.ts`, granted: noPermissions() },
      {
        file: "plugins/b.ts",
        path: `${dir}/plugins/b.ts`,
        granted: { ...noPermissions(), read: [`${dir}/data`], net: ["127.0.0.1:8080"] },
      },
    ]);
  });
});

Deno.test("readProjectConfig() returns nothing without tsbuild.json", async () => {
  await withDir(async (dir) => {
    assertEquals(await readProjectConfig(undefined, dir), undefined);
    await assertRejects(
      () => readProjectConfig("other.json", dir),
      NotFoundError,
      `Failed to read config file "other.json" (--config): not found`,
    );
  });
});

Deno.test("readProjectConfig() rejects unknown keys by name", async () => {
  const cases: [unknown, string][] = [
    [{ plugin: [] }, `unknown key "plugin" in the top level (allowed: plugins)`],
    [
      { plugins: [{ path: "a.ts", grant: {} }] },
      `unknown key "grant" in plugins[0] (allowed: path, allow)`,
    ],
    [
      { plugins: [{ path: "a.ts", allow: { sys: ["x"] } }] },
      `unknown key "sys" in plugins[0].allow (allowed: read, write, net, run, env)`,
    ],
    [{ plugins: "a.ts" }, `"plugins" must be a list`],
    [{ plugins: [{ allow: {} }] }, `"plugins[0].path" must be the plugin file's path`],
    [
      { plugins: [{ path: "a.ts", allow: { read: "/etc" } }] },
      `"plugins[0].allow.read" must be a list of non-empty strings`,
    ],
  ];
  await withDir(async (dir) => {
    for (const [json, problem] of cases) {
      await Deno.writeTextFile(`${dir}/tsbuild.json`, JSON.stringify(json));
      await assertRejects(
        () => readProjectConfig(undefined, dir),
        InvalidInputError,
        `Invalid config file "tsbuild.json": ${problem}`,
      );
    }
  });
});

Deno.test("readProjectConfig() names a file that is not JSON", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/custom.json`, `{ "plugins": [ }`);
    await assertRejects(
      () => readProjectConfig("custom.json", dir),
      InvalidInputError,
      `Invalid config file "custom.json": not JSON:`,
    );
  });
});

Deno.test("resolvePluginSpecs() puts config plugins first and adds --plugin-allow to all", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(
      `${dir}/tsbuild.json`,
      JSON.stringify({ plugins: [{ path: "a.ts", allow: { env: ["HOME"] } }] }),
    );
    const specs = await resolvePluginSpecs({
      plugins: ["./b.ts"],
      allow: ["read=/etc"],
      cwd: dir,
    });
    assertEquals(specs, [
      {
        file: "a.ts",
        path: `${dir}/a.ts`,
        granted: { ...noPermissions(), read: ["/etc"], env: ["HOME"] },
      },
      { file: "./b.ts", path: `${dir}/b.ts`, granted: { ...noPermissions(), read: ["/etc"] } },
    ]);
  });
});
