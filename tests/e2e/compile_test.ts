/**
 * End-to-end test of the single binary: `deno task compile` writes dist/tsbuild, which then loads
 * a plugin from a temporary directory and builds with it.
 *
 * `deno compile` needs denort, Deno's runtime without the tooling. It downloads denort unless
 * DENORT_BIN names one, and where no download is possible this test cannot run, so it is
 * ignored, with the reason in its name, unless DENORT_BIN is set.
 *
 * @module
 */

import { assertEquals, assertStringIncludes } from "../_assert.ts";
import { sharedRegistry } from "../_fixtures/shared_registry.ts";
import { MOD_PATH, runProgram, sha256Of, writeTree } from "../core/plugin/_fixtures.ts";
import { createTempDir } from "./_build.ts";

const REPOSITORY = new URL("../..", import.meta.url).pathname;
const BINARY = `${REPOSITORY}dist/tsbuild`;
const DENORT_BIN = Deno.env.get("DENORT_BIN");

Deno.test({
  name: DENORT_BIN
    ? "compile: the binary loads a plugin and builds"
    : "compile: the binary loads a plugin and builds (ignored: DENORT_BIN is not set, and " +
      "deno compile cannot download denort here)",
  ignore: !DENORT_BIN,
  async fn() {
    const compiled = await new Deno.Command(Deno.execPath(), {
      args: ["task", "compile"],
      cwd: REPOSITORY,
      env: { DENORT_BIN: DENORT_BIN! },
      stdin: "null",
    }).output();
    assertEquals(compiled.code, 0, new TextDecoder().decode(compiled.stderr));

    const version = await runBinary(["--version"]);
    assertEquals(version.code, 0, version.stderr);
    assertStringIncludes(version.stdout, "tsbuild ");

    const registry = await sharedRegistry();
    await using temp = await createTempDir();
    await writeTree(temp.path, {
      "plugins/inline.ts": await Deno.readTextFile(
        `${REPOSITORY}examples/plugins/inline_source.ts`,
      ),
      "plugins/list.ts": await Deno.readTextFile(`${REPOSITORY}examples/plugins/file_list.ts`),
      "plugins/_tar_files.ts": await Deno.readTextFile(
        `${REPOSITORY}examples/plugins/_tar_files.ts`,
      ),
      "program.ts": `import { copy, image, source, writeDefinition } from "${MOD_PATH}";
const files = source("inline://note", { "file:/note.txt": "compiled\\n" });
await writeDefinition(image(Deno.env.get("BASE")!).file(copy(files, "/note.txt", "/note.txt")));
`,
    });
    const definition = await runProgram(`${temp.path}/program.ts`, [], {
      env: { BASE: registry.busyboxRef },
    });
    const built = await runBinary([
      "build",
      "--root",
      `${temp.path}/root`,
      "--progress",
      "plain",
      "--plugin",
      "./plugins/inline.ts",
      "--plugin",
      "./plugins/list.ts",
      "--plugin-allow",
      `write=${temp.path}/files.txt`,
      "--output",
      `type=file-list,dest=${temp.path}/files.txt`,
    ], { cwd: temp.path, stdin: definition });
    assertEquals(built.code, 0, built.stderr);
    assertStringIncludes(
      await Deno.readTextFile(`${temp.path}/files.txt`),
      `${await sha256Of("compiled\n")} 9 /note.txt\n`,
    );
  },
});

async function runBinary(
  args: string[],
  options: { cwd?: string; stdin?: Uint8Array } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(BINARY, {
    args,
    cwd: options.cwd,
    env: { NO_COLOR: "1" },
    stdin: options.stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (options.stdin) {
    const writer = child.stdin.getWriter();
    await writer.write(options.stdin);
    await writer.close();
  }
  const output = await child.output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}
