/**
 * Tests of the plugin bundler: relative imports and node: built-ins in one module, type-only
 * imports erased, and errors that name the file and line.
 *
 * @module
 */

import { assertEquals, assertRejects, assertStringIncludes } from "../../_assert.ts";
import { bundlePlugin, bundleUrl, mapBundleStack } from "../../../core/plugin/_bundle.ts";
import { InvalidInputError } from "../../../core/errors.ts";
import { writeTree } from "./_fixtures.ts";

async function withTree(
  files: Record<string, string>,
  fn: (dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "tsbuild-bundle-" });
  try {
    await writeTree(dir, files);
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("bundlePlugin() joins relative imports and node: built-ins into one module", async () => {
  await withTree({
    "plugin.ts": `import type { Plugin } from "../../nowhere/mod.ts";
import { shout } from "./lib/shout.ts";
import * as path from "node:path";
import posixDefault from "node:path";
const plugin: Plugin = { apiVersion: 1, name: shout("x") + path.join("a", "b") + posixDefault.sep };
export default plugin;
`,
    "lib/shout.ts": `import { suffix } from "../suffix.ts";
export function shout(text: string): string { return text.toUpperCase() + suffix; }
`,
    "suffix.ts": `export const suffix: string = "!";\n`,
  }, async (dir) => {
    const bundle = await bundlePlugin(`${dir}/plugin.ts`, "./plugin.ts");

    assertEquals(bundle.files, [`${dir}/plugin.ts`, `${dir}/lib/shout.ts`, `${dir}/suffix.ts`]);
    const module = await import(bundleUrl(bundle));
    assertEquals(module.moduleExports.default, { apiVersion: 1, name: "X!a/b/" });
  });
});

Deno.test("bundlePlugin() keeps a missing default export observable", async () => {
  await withTree({ "plugin.ts": `export const other = 1;\n` }, async (dir) => {
    const module = await import(bundleUrl(await bundlePlugin(`${dir}/plugin.ts`, "./plugin.ts")));
    assertEquals(Object.hasOwn(module.moduleExports, "default"), false);
    assertEquals(module.moduleExports.other, 1);
  });
});

Deno.test("bundlePlugin() names the file, line and column of a syntax error", async () => {
  await withTree({
    "plugin.ts": `import { helper } from "./helper.ts";\nexport default helper;\n`,
    "helper.ts": `export const helper = {\n  a: 1\n  b: 2,\n};\n`,
  }, async (dir) => {
    const error = await assertRejects(
      () => bundlePlugin(`${dir}/plugin.ts`, "./plugin.ts"),
      InvalidInputError,
    );
    assertEquals(
      error.message.replace(dir, "DIR"),
      `Failed to load plugin from "./plugin.ts": syntax error at DIR/helper.ts:3:3: ` +
        `Unexpected token, expected ","`,
    );
  });
});

Deno.test("bundlePlugin() rejects an import it cannot bundle", async () => {
  await withTree({
    "plugin.ts": `import pad from "npm:left-pad@1.3.0";\nexport default { name: pad("x", 2) };\n`,
  }, async (dir) => {
    await assertRejects(
      () => bundlePlugin(`${dir}/plugin.ts`, "./plugin.ts"),
      InvalidInputError,
      `Failed to load plugin from "./plugin.ts": ./plugin.ts:1 imports "npm:left-pad@1.3.0", ` +
        `which a plugin cannot load`,
    );
  });
});

Deno.test("bundlePlugin() names the importer of a missing file", async () => {
  await withTree({
    "plugin.ts": `\nimport { helper } from "./helper";\nexport default helper;\n`,
  }, async (dir) => {
    const error = await assertRejects(
      () => bundlePlugin(`${dir}/plugin.ts`, "./plugin.ts"),
      InvalidInputError,
    );
    assertStringIncludes(
      error.message.replace(dir, "DIR"),
      `./plugin.ts:2 imports "DIR/helper", which does not exist`,
    );
  });
});

Deno.test("mapBundleStack() maps bundle lines back to plugin files", async () => {
  await withTree({
    "plugin.ts": `import { fail } from "./fail.ts";\nexport default { run: () => fail() };\n`,
    "fail.ts": `export function fail(): never {\n  throw new Error("failed");\n}\n`,
  }, async (dir) => {
    const bundle = await bundlePlugin(`${dir}/plugin.ts`, "./plugin.ts");
    const module = await import(bundleUrl(bundle));
    let stack = "";
    try {
      module.moduleExports.default.run();
    } catch (error) {
      stack = (error as Error).stack ?? "";
    }
    const mapped = mapBundleStack(stack, bundle.lines);
    assertStringIncludes(mapped, `at fail (${dir}/fail.ts:2:`);
    assertStringIncludes(mapped, "./plugin.ts:2:");
  });
});

Deno.test("bundlePlugin() rejects imports outside the plugin's directory", async () => {
  await withTree({
    "plugin/plugin.ts": `import secret from "../secret.ts";
export default { apiVersion: 1, name: secret };
`,
    "secret.ts": `export default "not for plugins";\n`,
    "plugin/linked.ts": `import secret from "./link/secret.ts";
export default { apiVersion: 1, name: secret };
`,
  }, async (dir) => {
    await Deno.symlink(dir, `${dir}/plugin/link`);
    const parent = await assertRejects(
      () => bundlePlugin(`${dir}/plugin/plugin.ts`, "./plugin.ts"),
      InvalidInputError,
    );
    assertStringIncludes(parent.message, "outside the plugin's directory");
    const linked = await assertRejects(
      () => bundlePlugin(`${dir}/plugin/linked.ts`, "./linked.ts"),
      InvalidInputError,
    );
    assertStringIncludes(linked.message, "outside the plugin's directory");
  });
});

Deno.test("bundlePlugin() explains a value import of tsbuild's mod.ts", async () => {
  await withTree({
    "plugin/plugin.ts": `import { PLUGIN_API_VERSION } from "../mod.ts";
export default { apiVersion: PLUGIN_API_VERSION, name: "x" };
`,
    "mod.ts": `export const PLUGIN_API_VERSION = 1;\n`,
  }, async (dir) => {
    const error = await assertRejects(
      () => bundlePlugin(`${dir}/plugin/plugin.ts`, "./plugin.ts"),
      InvalidInputError,
    );
    assertStringIncludes(error.message, "import tsbuild's API with import type");
  });
});
