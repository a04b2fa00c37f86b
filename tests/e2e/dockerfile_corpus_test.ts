/**
 * Builds each case of tests/testdata/dockerfile/corpus whose case.json sets
 * "mode": "build", with busybox from the loopback registry as its BASE, and
 * checks the files, owners, modes, config and layer count case.json expects.
 * Cases that need images from the internet are only planned, by
 * tests/plugins/frontends/dockerfile/convert_corpus_test.ts.
 *
 * @module
 */

import { assert, assertEquals } from "../_assert.ts";
import { sharedRegistry } from "../_fixtures/shared_registry.ts";
import { hostPlatform } from "../../core/oci/platform.ts";
import { createTempDir, runTool } from "./_build.ts";
import { buildContext, fileText, readImage } from "./_dockerfile_fixture.ts";

const CORPUS = new URL("../testdata/dockerfile/corpus/", import.meta.url).pathname;

interface BuildCase {
  mode: "build" | "plan";
  buildArgs?: Record<string, string>;
  expect: {
    files?: Record<string, string>;
    /** "uid:gid mode" by path, the mode in octal. */
    owners?: Record<string, string>;
    /** Paths that must not be in the image, nor anything below them. */
    absent?: string[];
    /** Fields of the image config's `config` that must be equal. */
    config?: Record<string, unknown>;
    layers?: number;
  };
}

const substitutions: Record<string, string> = { HOSTARCH: hostPlatform().architecture };
const substitute = (text: string) =>
  text.replace(/\$\{(HOSTARCH)\}/g, (_, name: string) => substitutions[name]);

for (const entry of [...Deno.readDirSync(CORPUS)].sort((a, b) => (a.name < b.name ? -1 : 1))) {
  const folder = `${CORPUS}${entry.name}`;
  const testCase: BuildCase = JSON.parse(Deno.readTextFileSync(`${folder}/case.json`));
  if (testCase.mode !== "build") continue;

  Deno.test(`corpus case ${entry.name} builds as expected`, async () => {
    const { busyboxRef } = await sharedRegistry();
    await using temp = await createTempDir();
    const context = `${temp.path}/context`;
    await runTool("cp", ["-a", folder, context]);
    const out = `${temp.path}/image`;
    await buildContext({
      root: `${temp.path}/root`,
      context,
      buildArgs: { BASE: busyboxRef, ...testCase.buildArgs },
      outputs: [{ type: "oci", attrs: { dest: out, tar: "false" } }],
    });
    const image = await readImage(out);
    const expect = testCase.expect;

    for (const [path, content] of Object.entries(expect.files ?? {})) {
      assertEquals(fileText(image, path), substitute(content), path);
    }
    for (const [path, owner] of Object.entries(expect.owners ?? {})) {
      const found = image.files.get(path);
      assert(found, `"${path}" is not in the image`);
      assertEquals(`${found.uid}:${found.gid} ${(found.mode & 0o7777).toString(8)}`, owner, path);
    }
    for (const path of expect.absent ?? []) {
      const present = [...image.files.keys()].filter((key) =>
        key === path || key.startsWith(`${path}/`)
      );
      assertEquals(present, [], `"${path}" should not be in the image`);
    }
    for (const [field, value] of Object.entries(expect.config ?? {})) {
      assertEquals(image.config.config[field], value, field);
    }
    if (expect.layers !== undefined) assertEquals(image.layerCount, expect.layers);
  });
}
