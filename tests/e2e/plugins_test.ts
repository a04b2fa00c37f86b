/**
 * End-to-end tests of third-party plugins loaded with --plugin or tsbuild.json. Plugins with
 * imports of their own serve as a source and an exporter in real builds. They get only the
 * permissions they declare and the user grants, and a failing hook is reported by name.
 *
 * @module
 */

import { assert, assertEquals, assertStringIncludes } from "../_assert.ts";
import { sharedRegistry } from "../_fixtures/shared_registry.ts";
import { encodeDefinition } from "../../core/graph/definition.ts";
import { scratch } from "../../mod.ts";
import {
  MOD_PATH,
  runCliWithInput,
  runProgram,
  sha256Of,
  writeTree,
} from "../core/plugin/_fixtures.ts";
import { createTempDir } from "./_build.ts";

const EXAMPLES = new URL("../../examples/plugins/", import.meta.url).pathname;
// The directory Deno.makeTempDir() creates test directories in, as Rust's temp_dir() picks it;
// the test plugins declare they may write there.
const TEMP_ROOT = Deno.env.get("TMPDIR") || "/tmp";

// A source ("greeting://") and an exporter ("listing") in one plugin, with a helper module of
// its own imported by relative path.
const GREETING_PLUGIN = `import type { ExportArgs, ExporterContext, Plugin, PluginContext,
  SourceLoadArgs, SourceResolveArgs } from "${MOD_PATH}";
import { digestText, listingLine } from "./lib/text.ts";

const plugin: Plugin = {
  apiVersion: 1,
  name: "greeting",
  permissions: { read: [${JSON.stringify(TEMP_ROOT)}], write: [${JSON.stringify(TEMP_ROOT)}] },
  sources: [{
    schemes: ["greeting"],
    async onResolve(args: SourceResolveArgs) {
      return { pin: await digestText(args.attrs.text ?? "") };
    },
    async onLoad(args: SourceLoadArgs, context: PluginContext) {
      const snapshot = await context.content.createSnapshot({ kind: "greeting" }, async (dir) => {
        await Deno.writeTextFile(dir + "/greeting.txt", args.attrs.text);
      });
      return { snapshot };
    },
  }],
  exporters: [{
    name: "listing",
    async onExport(args: ExportArgs, context: ExporterContext) {
      const root = args.attrs.dest + ".root";
      await context.writeFilesystem(root);
      const lines = [];
      for (const name of ["greeting.txt", "copy.txt"]) {
        lines.push(listingLine(name, await Deno.readTextFile(root + "/" + name)));
      }
      await Deno.writeTextFile(args.attrs.dest, (await Promise.all(lines)).join(""));
      return { metadata: { "listing.lines": lines.length } };
    },
  }],
};
export default plugin;
`;

const GREETING_HELPER = `export async function digestText(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return "sha256:" + [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

export async function listingLine(name: string, text: string): Promise<string> {
  return name + " " + await digestText(text) + "\\n";
}
`;

const GREETING_PROGRAM = `import { copy, image, source, writeDefinition } from "${MOD_PATH}";

const greeting = source("greeting://hello", { text: Deno.env.get("GREETING")! });
const result = image(Deno.env.get("BASE")!)
  .file(copy(greeting, "/greeting.txt", "/greeting.txt"))
  .run({ args: "cp /greeting.txt /copy.txt", env: ["PATH=/bin:/usr/bin"] });
await writeDefinition(result);
`;

Deno.test("plugins: a source and an exporter from a temporary directory", async () => {
  const registry = await sharedRegistry();
  await using temp = await createTempDir();
  await writeTree(temp.path, {
    "plugin/greeting.ts": GREETING_PLUGIN,
    "plugin/lib/text.ts": GREETING_HELPER,
    "program.ts": GREETING_PROGRAM,
  });
  const definition = await runProgram(`${temp.path}/program.ts`, [], {
    env: { BASE: registry.busyboxRef, GREETING: "hello from a plugin\n" },
  });
  const dest = `${temp.path}/out/listing.txt`;
  await Deno.mkdir(`${temp.path}/out`);
  const args = [
    "build",
    "--root",
    `${temp.path}/root`,
    "--progress",
    "plain",
    "--plugin",
    "./plugin/greeting.ts",
    "--plugin-allow",
    `read=${temp.path}/out,write=${temp.path}/out`,
    "--output",
    `type=listing,dest=${dest}`,
  ];

  const first = await runCliWithInput(args, definition, { cwd: temp.path });
  assertEquals(first.code, 0, first.stderr);
  assertMatchCount(first.stderr, /exporting to type=listing\n#\d+ DONE/g, 1, "the export's step");
  const digest = await sha256Of("hello from a plugin\n");
  assertEquals(
    await Deno.readTextFile(dest),
    `greeting.txt ${digest}\ncopy.txt ${digest}\n`,
  );

  await Deno.remove(dest);
  await Deno.remove(`${dest}.root`, { recursive: true });
  const second = await runCliWithInput(args, definition, { cwd: temp.path });
  assertEquals(second.code, 0, second.stderr);
  assertMatchCount(second.stderr, /CACHED/g, 3, "the image, the greeting and the RUN are cached");
  assertEquals(await Deno.readTextFile(dest), `greeting.txt ${digest}\ncopy.txt ${digest}\n`);
});

Deno.test("plugins: the examples listed in tsbuild.json", async () => {
  const registry = await sharedRegistry();
  await using temp = await createTempDir();
  const out = `${temp.path}/out`;
  await Deno.mkdir(out);
  await writeTree(temp.path, {
    "tsbuild.json": JSON.stringify({
      plugins: [
        `${EXAMPLES}inline_source.ts`,
        { path: `${EXAMPLES}file_list.ts`, allow: { write: ["./out"] } },
      ],
    }),
    "program.ts": `import { copy, image, source, writeDefinition } from "${MOD_PATH}";
const files = source("inline://motd", { "file:/etc/motd": "welcome\\n", "file:/bin/hello": "#!/bin/sh\\necho hi\\n", "mode:/bin/hello": "755" });
await writeDefinition(image(Deno.env.get("BASE")!).file(copy(files, "/", "/", { dirContentsOnly: true })));
`,
  });
  const definition = await runProgram(`${temp.path}/program.ts`, [], {
    env: { BASE: registry.busyboxRef },
  });

  const built = await runCliWithInput(
    [
      "build",
      "--root",
      `${temp.path}/root`,
      "--progress",
      "plain",
      "--output",
      `type=file-list,dest=${out}/files.txt`,
    ],
    definition,
    { cwd: temp.path },
  );
  assertEquals(built.code, 0, built.stderr);
  const lines = (await Deno.readTextFile(`${out}/files.txt`)).split("\n");
  assertEquals(
    lines.includes(`${await sha256Of("welcome\n")} 8 /etc/motd`),
    true,
    lines.join("\n"),
  );
  assert(lines.some((line) => / \/bin\/busybox$/.test(line)), "the base image's files are listed");
  const hello = lines.find((line) => line.endsWith(" /bin/hello"));
  assertEquals(hello, `${await sha256Of("#!/bin/sh\necho hi\n")} 18 /bin/hello`);
});

const READER_PLUGIN = (declared: string) =>
  `import type { ExportArgs, Plugin } from "${MOD_PATH}";

const plugin: Plugin = {
  apiVersion: 1,
  name: "reader",
  permissions: { read: [${JSON.stringify(declared)}], write: [${JSON.stringify(TEMP_ROOT)}] },
  exporters: [{
    name: "passwd",
    async onExport(args: ExportArgs) {
      await Deno.writeTextFile(args.attrs.dest, await Deno.readTextFile("/etc/passwd"));
      return {};
    },
  }],
};
export default plugin;
`;

async function buildWithReader(dir: string, grants: string[]) {
  const args = [
    "build",
    "--root",
    `${dir}/root`,
    "--progress",
    "quiet",
    "--plugin",
    "./reader.ts",
    ...grants.flatMap((grant) => ["--plugin-allow", grant]),
    "--output",
    `type=passwd,dest=${dir}/passwd.txt`,
  ];
  return await runCliWithInput(args, EMPTY_DEFINITION, { cwd: dir });
}

// A definition with no op, whose result is an empty filesystem; the attribute keeps the encoded
// message from being empty, which the definition frontend rejects.
const EMPTY_DEFINITION = encodeDefinition(scratch().marshal({ attributes: { test: "empty" } }));

Deno.test("plugins: a plugin reads /etc/passwd only when granted", async () => {
  await using temp = await createTempDir();
  await Deno.writeTextFile(`${temp.path}/reader.ts`, READER_PLUGIN("/etc"));

  const denied = await buildWithReader(temp.path, [`write=${temp.path}`]);
  assertEquals(denied.code, 1);
  assertEquals(
    denied.stderr.trim().split("\n").at(-1),
    `ERROR: Plugin "reader" (./reader.ts) was denied read access to "/etc/passwd" in onExport ` +
      `of exporter "passwd": grant it with --plugin-allow read=/etc/passwd`,
  );

  const allowed = await buildWithReader(temp.path, [`read=/etc,write=${temp.path}`]);
  assertEquals(allowed.code, 0, allowed.stderr);
  assertStringIncludes(await Deno.readTextFile(`${temp.path}/passwd.txt`), "root:");
});

Deno.test("plugins: a grant wider than the declaration gives no more", async () => {
  await using temp = await createTempDir();
  await Deno.writeTextFile(`${temp.path}/reader.ts`, READER_PLUGIN("/etc/hostname"));

  const denied = await buildWithReader(temp.path, [`read=/etc,write=${temp.path}`]);
  assertEquals(denied.code, 1);
  assertEquals(
    denied.stderr.trim().split("\n").at(-1),
    `ERROR: Plugin "reader" (./reader.ts) was denied read access to "/etc/passwd" in onExport ` +
      `of exporter "passwd": the plugin does not declare it in "permissions.read", so it cannot ` +
      `be granted`,
  );
});

Deno.test("plugins: the host checks paths a plugin hands it", async () => {
  await using temp = await createTempDir();
  await Deno.writeTextFile(
    `${temp.path}/writer.ts`,
    `export default {
  apiVersion: 1,
  name: "writer",
  permissions: { write: [${JSON.stringify(TEMP_ROOT)}] },
  exporters: [{
    name: "tree",
    async onExport(args, context) {
      await context.writeFilesystem(args.attrs.dest);
      return {};
    },
  }],
};
`,
  );
  const result = await runCliWithInput(
    [
      "build",
      "--root",
      `${temp.path}/root`,
      "--progress",
      "quiet",
      "--plugin",
      "./writer.ts",
      "--output",
      `type=tree,dest=${temp.path}/tree`,
    ],
    EMPTY_DEFINITION,
    { cwd: temp.path },
  );

  assertEquals(result.code, 1);
  assertEquals(
    result.stderr.trim().split("\n").at(-1),
    `ERROR: Plugin "writer" (./writer.ts) was denied write access to "${temp.path}/tree" through ` +
      `context.writeFilesystem in onExport of exporter "tree": grant it with --plugin-allow ` +
      `write=${temp.path}/tree`,
  );
  assertEquals(await exists(`${temp.path}/tree`), false);
});

Deno.test("plugins: a hook that throws fails the build and leaves the store whole", async () => {
  const registry = await sharedRegistry();
  await using temp = await createTempDir();
  await writeTree(temp.path, {
    "thrower.ts": `import type { Plugin } from "${MOD_PATH}";
import { fail } from "./fail.ts";

const plugin: Plugin = {
  apiVersion: 1,
  name: "thrower",
  exporters: [{ name: "boom", onExport: () => fail("listing failed on purpose") }],
};
export default plugin;
`,
    "fail.ts": `export function fail(message: string): never {
  throw new Error(message);
}
`,
    "program.ts": `import { image, writeDefinition } from "${MOD_PATH}";
await writeDefinition(image(Deno.env.get("BASE")!).run({ args: "echo built > /built.txt" }));
`,
  });
  const definition = await runProgram(`${temp.path}/program.ts`, [], {
    env: { BASE: registry.busyboxRef },
  });
  const root = `${temp.path}/root`;

  const failed = await runCliWithInput(
    [
      "build",
      "--root",
      root,
      "--progress",
      "plain",
      "--plugin",
      "./thrower.ts",
      "--output",
      "type=boom",
    ],
    definition,
    { cwd: temp.path },
  );
  assertEquals(failed.code, 1);
  assertEquals(
    failed.stderr.trim().split("\n").at(-1),
    `ERROR: Plugin "thrower" (./thrower.ts) failed in onExport of exporter "boom": listing ` +
      `failed on purpose (at ./fail.ts:2)`,
  );
  assertEquals([...Deno.readDirSync(`${root}/tmp`)], [], "no temporary directory is left");
  assertEquals(
    [...Deno.readDirSync(`${root}/data/plugin-thrower/.staging`)],
    [],
    "no staging directory is left",
  );

  const rebuilt = await runCliWithInput(
    [
      "build",
      "--root",
      root,
      "--progress",
      "plain",
      "--output",
      `type=local,dest=${temp.path}/fs`,
    ],
    definition,
    { cwd: temp.path },
  );
  assertEquals(rebuilt.code, 0, rebuilt.stderr);
  assertStringIncludes(rebuilt.stderr, "CACHED");
  assertEquals(await Deno.readTextFile(`${temp.path}/fs/built.txt`), "built\n");
});

Deno.test("plugins: an exporter's onCheck runs before the build", async () => {
  await using temp = await createTempDir();
  await writeTree(temp.path, {
    "checked.ts": `import type { Plugin } from "${MOD_PATH}";

const plugin: Plugin = {
  apiVersion: 1,
  name: "checked",
  exporters: [{
    name: "checked",
    onCheck(args) {
      if (!args.attrs.dest) throw new Error('missing "dest"');
    },
    onExport: async () => ({}),
  }],
};
export default plugin;
`,
    "context/Dockerfile": "FROM 127.0.0.1:1/nothing:1\nRUN true\n",
  });

  const result = await runCliWithInput(
    [
      "build",
      "--root",
      `${temp.path}/root`,
      "--progress",
      "plain",
      "--plugin",
      "./checked.ts",
      "--output",
      "type=checked",
      "context",
    ],
    new Uint8Array(0),
    { cwd: temp.path },
  );

  assertEquals(result.code, 1);
  assertStringIncludes(
    result.stderr,
    'Plugin "checked" (./checked.ts) failed in onCheck of exporter "checked": missing "dest"',
  );
  // The base image does not exist, so a check after the build would have failed on it instead.
  assert(!result.stderr.includes("nothing"), result.stderr);
});

function assertMatchCount(text: string, pattern: RegExp, count: number, message: string): void {
  assertEquals([...text.matchAll(pattern)].length >= count, true, `${message}:\n${text}`);
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}
