/**
 * Tests of plugin loading: a plugin's hooks run in its worker against a real store, and every
 * load or hook error names the plugin file and, for hooks, the hook.
 *
 * @module
 */

import { assert, assertEquals, assertRejects, assertStringIncludes } from "../../_assert.ts";
import { CancelledError, InvalidInputError } from "../../../core/errors.ts";
import { hostPlatform } from "../../../core/oci/platform.ts";
import { createPluginContext } from "../../../core/plugin/context.ts";
import { createFrontendContext } from "../../../core/plugin/frontend_context.ts";
import { loadPlugins, pluginSpec } from "../../../core/plugin/loader.ts";
import { PluginRegistry } from "../../../core/plugin/registry.ts";
import { PluginHookError, PluginPermissionError } from "../../../core/plugin/sandbox_errors.ts";
import {
  noPermissions,
  type ResolvedPermissions,
} from "../../../core/plugin/sandbox_permissions.ts";
import type { PluginContext } from "../../../core/plugin/types.ts";
import { RecordingSink } from "../../../core/progress/events.ts";
import { createRegistryClient } from "../../../core/registry/client.ts";
import { openStore, type Store } from "../../../core/store/store.ts";
import { BUILTIN_PLUGINS } from "../../../plugins/builtin.ts";
import { MOD_PATH, writeTree } from "./_fixtures.ts";

interface Harness {
  dir: string;
  store: Store;
  sink: RecordingSink;
  registry: PluginRegistry;
  context(signal?: AbortSignal): PluginContext;
  load(file: string, granted?: ResolvedPermissions): ReturnType<typeof loadPlugins>;
}

async function withHarness(
  files: Record<string, string>,
  fn: (harness: Harness) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "tsbuild-loader-" });
  try {
    await writeTree(dir, files);
    await using store = await openStore(`${dir}/root`);
    const sink = new RecordingSink();
    const registry = new PluginRegistry();
    for (const plugin of BUILTIN_PLUGINS) registry.register(plugin);
    await fn({
      dir,
      store,
      sink,
      registry,
      context: (signal = new AbortController().signal) =>
        createPluginContext({
          store,
          registry: createRegistryClient(),
          sink,
          signal,
          platform: hostPlatform(),
        }),
      load: (file, granted = noPermissions()) =>
        loadPlugins([pluginSpec(file, dir, granted)], registry),
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const SOURCE_PLUGIN = `import type { Plugin, PluginContext, SourceLoadArgs } from "${MOD_PATH}";
import { lines } from "./lines.ts";

const plugin: Plugin = {
  apiVersion: 1,
  name: "notes",
  sources: [{
    schemes: ["notes"],
    async onResolve(args) {
      return {
        pin: "notes-" + args.path,
        selectionDigest: async (patterns: string[]) => "sha256:" + patterns.join(",").padEnd(64, "0"),
      };
    },
    async onLoad(args: SourceLoadArgs, context: PluginContext) {
      context.logger.warn("loading notes", { path: args.path });
      const snapshot = await context.progress.step("writing notes", async (progress) => {
        progress.status("1 file");
        return await context.content.createSnapshot({ kind: "notes" }, async (dir) => {
          await Deno.mkdir(dir + "/notes");
          await Deno.writeTextFile(dir + "/notes/" + args.path + ".txt", lines(args.attrs));
        });
      });
      return { snapshot };
    },
  }],
};
export default plugin;
`;

const LINES_HELPER = `export function lines(attrs: Record<string, string>): string {
  return Object.entries(attrs).map(([key, value]) => key + "=" + value + "\\n").join("");
}
`;

Deno.test("loadPlugins() runs a source's hooks in its worker against the store", async () => {
  await withHarness({ "notes.ts": SOURCE_PLUGIN, "lines.ts": LINES_HELPER }, async (harness) => {
    await using _loaded = await harness.load("./notes.ts");
    const source = harness.registry.source("notes");
    assert(source, "the scheme is registered");
    assertEquals(source.origin, { file: "./notes.ts", plugin: "notes" });

    const args = {
      identifier: "notes://todo",
      scheme: "notes",
      path: "todo",
      attrs: { a: "1", b: "2" },
      platform: hostPlatform(),
    };
    const context = harness.context();
    const resolved = await source.source.onResolve(args, context);
    assertEquals(resolved.pin, "notes-todo");
    assertEquals(await resolved.selectionDigest!(["x", "y"]), `sha256:${"x,y".padEnd(64, "0")}`);

    const loaded = await source.source.onLoad({ ...args, pin: resolved.pin }, context);
    const diff = harness.store.snapshots.diffDir(loaded.snapshot!);
    assertEquals(await Deno.readTextFile(`${diff}/notes/todo.txt`), "a=1\nb=2\n");

    const messages = harness.sink.events.map((event) =>
      event.type === "warning"
        ? event.message
        : `${event.type} ${"vertex" in event ? event.vertex?.name : ""}`
    );
    assertEquals(messages, [
      `loading notes {"path":"todo"}`,
      "vertex.started writing notes",
      "vertex.status writing notes",
      "vertex.completed writing notes",
    ]);
  });
});

const LOAD_ERRORS: [string, string, string][] = [
  [
    "a syntax error",
    `import type { Plugin } from "${MOD_PATH}";\n\nconst plugin: Plugin = {\n  name: "x" "y",\n};\nexport default plugin;\n`,
    `Failed to load plugin from "./plugin.ts": syntax error at ./plugin.ts:4:13: Unexpected token, expected ","`,
  ],
  [
    "no default export",
    `export const plugin = { apiVersion: 1, name: "x" };\n`,
    `Failed to load plugin from "./plugin.ts": the module has no default export (expected "export default { apiVersion, name, ... }")`,
  ],
  [
    "a function as the default export",
    `export default function plugin() {}\n`,
    `Failed to load plugin from "./plugin.ts": the default export is a function, not a plugin object`,
  ],
  [
    "exporters that are not a list",
    `export default { apiVersion: 1, name: "x", exporters: { name: "y" } };\n`,
    `Failed to load plugin from "./plugin.ts": "exporters" must be a list`,
  ],
  [
    "an exporter without onExport",
    `export default { apiVersion: 1, name: "x", exporters: [{ name: "y" }] };\n`,
    `Failed to load plugin from "./plugin.ts": an exporter of plugin "x" needs "name" and "onExport"`,
  ],
  [
    "another API version",
    `export default { apiVersion: 2, name: "future" };\n`,
    `Failed to load plugin from "./plugin.ts": plugin "future" was written for plugin API version 2, but this tsbuild implements version 1`,
  ],
  [
    "a name that clashes with a built-in",
    `export default { apiVersion: 1, name: "mine", exporters: [{ name: "oci", onExport: async () => ({}) }] };\n`,
    `Failed to load plugin "mine" from "./plugin.ts": exporter "oci" is already provided by plugin "builtin-exporters" (built-in)`,
  ],
  [
    "an unknown key",
    `export default { apiVersion: 1, name: "x", hooks: [] };\n`,
    `Failed to load plugin from "./plugin.ts": unknown key "hooks" in the default export (allowed: apiVersion, name, sources, exporters, frontends, permissions)`,
  ],
  [
    "a permission kind that does not exist",
    `export default { apiVersion: 1, name: "x", permissions: { sys: ["hostname"] } };\n`,
    `Failed to load plugin from "./plugin.ts": unknown permission "sys" in "permissions" (allowed: read, write, net, run, env)`,
  ],
  [
    "a top-level await",
    `const value = await Promise.resolve(1);\nexport default { apiVersion: 1, name: "x", value };\n`,
    "(top-level await is not supported in plugins; move it into a hook)",
  ],
  [
    "top-level code that throws",
    `const config = JSON.parse("{");\nexport default { apiVersion: 1, name: "x", config };\n`,
    `Failed to load plugin from "./plugin.ts": evaluating the module threw: Expected property name or '}' in JSON at position 1 (line 1 column 2) (at ./plugin.ts:1)`,
  ],
];

for (const [name, text, message] of LOAD_ERRORS) {
  Deno.test(`loadPlugins() reports ${name}`, async () => {
    await withHarness({ "plugin.ts": text }, async (harness) => {
      const error = await assertRejects(() => harness.load("./plugin.ts"), InvalidInputError);
      assertStringIncludes(error.message, message);
    });
  });
}

const FAILING_PLUGIN = `import type { Plugin } from "${MOD_PATH}";

const plugin: Plugin = {
  apiVersion: 1,
  name: "failing",
  sources: [{
    schemes: ["failing"],
    async onResolve(args) {
      if (args.path === "throw") throw new RangeError("no such thing: " + args.path);
      if (args.path === "passwd") return { pin: await Deno.readTextFile("/etc/passwd") };
      if (args.path === "escape") return { pin: "x" };
      return await new Promise(() => {});
    },
    async onLoad(_args, context) {
      return { snapshot: await context.content.createSnapshot({ kind: "x", id: "../../escape" }, async () => {}) };
    },
  }],
};
export default plugin;
`;

function failingArgs(path: string) {
  return {
    identifier: `failing://${path}`,
    scheme: "failing",
    path,
    attrs: {},
    platform: hostPlatform(),
  };
}

Deno.test("a hook that throws becomes a PluginHookError naming plugin, file and hook", async () => {
  await withHarness({ "failing.ts": FAILING_PLUGIN }, async (harness) => {
    await using _loaded = await harness.load("./failing.ts");
    const source = harness.registry.source("failing")!.source;

    const error = await assertRejects(
      () => source.onResolve(failingArgs("throw"), harness.context()),
      PluginHookError,
    );
    assertEquals(
      error.message,
      `Plugin "failing" (./failing.ts) failed in onResolve of source "failing": no such thing: throw (at ./failing.ts:9)`,
    );
    assertEquals(error.data.hook, `onResolve of source "failing"`);
    assertEquals((error.cause as Error).name, "RangeError");
  });
});

Deno.test("a hook that reads a file it was not granted gets a PluginPermissionError", async () => {
  await withHarness({ "failing.ts": FAILING_PLUGIN }, async (harness) => {
    await using _loaded = await harness.load("./failing.ts");
    const source = harness.registry.source("failing")!.source;

    const error = await assertRejects(
      () => source.onResolve(failingArgs("passwd"), harness.context()),
      PluginPermissionError,
    );
    assertEquals(
      error.message,
      `Plugin "failing" (./failing.ts) was denied read access to "/etc/passwd" in onResolve of source "failing": the plugin does not declare it in "permissions.read", so it cannot be granted`,
    );
    assertEquals([error.data.kind, error.data.target], ["read", "/etc/passwd"]);
  });
});

Deno.test("a snapshot id from a plugin cannot leave the store", async () => {
  await withHarness({ "failing.ts": FAILING_PLUGIN }, async (harness) => {
    await using _loaded = await harness.load("./failing.ts");
    const source = harness.registry.source("failing")!.source;

    const error = await assertRejects(
      () => source.onLoad({ ...failingArgs("escape"), pin: "x" }, harness.context()),
      PluginHookError,
    );
    assertStringIncludes(
      error.message,
      `failed in onLoad of source "failing": Invalid snapshot id "../../escape"`,
    );
    assertEquals(
      [...Deno.readDirSync(`${harness.dir}/root`)].some((e) => e.name === "escape"),
      false,
    );
  });
});

Deno.test("an aborted build stops waiting for a hook that never returns", async () => {
  await withHarness({ "failing.ts": FAILING_PLUGIN }, async (harness) => {
    await using _loaded = await harness.load("./failing.ts");
    const source = harness.registry.source("failing")!.source;
    const abort = new AbortController();

    const pending = source.onResolve(failingArgs("forever"), harness.context(abort.signal));
    setTimeout(() => abort.abort(), 50);
    await assertRejects(() => pending, CancelledError);
  });
});

const FRONTEND_PLUGIN =
  `import type { FrontendBuildArgs, FrontendContext, Plugin } from "${MOD_PATH}";

const plugin: Plugin = {
  apiVersion: 1,
  name: "echo-frontend",
  frontends: [{
    name: "echo",
    async onBuild(args: FrontendBuildArgs, context: FrontendContext) {
      const text = await new Response(args.stdin).text();
      const file = await context.readLocalFile("context", "name.txt");
      return {
        definition: {
          ops: [],
          metadata: {},
          attributes: { stdin: text, name: new TextDecoder().decode(file) },
        },
      };
    },
  }],
};
export default plugin;
`;

Deno.test("a frontend reads stdin and local files through the host", async () => {
  await withHarness({
    "echo.ts": FRONTEND_PLUGIN,
    "context/name.txt": "tsbuild",
  }, async (harness) => {
    await using _loaded = await harness.load("./echo.ts");
    const frontend = harness.registry.frontend("echo")!.frontend;
    const locals = { context: `${harness.dir}/context` };
    const context = createFrontendContext({
      store: harness.store,
      registry: createRegistryClient(),
      sink: harness.sink,
      signal: new AbortController().signal,
      platform: hostPlatform(),
      locals,
    });

    const result = await frontend.onBuild({
      options: {},
      locals,
      stdin: ReadableStream.from([
        new TextEncoder().encode("from "),
        new TextEncoder().encode("stdin"),
      ]),
    }, context);
    assertEquals(result.definition.attributes, { stdin: "from stdin", name: "tsbuild" });
    assertEquals(result.definition.ops, []);
  });
});
