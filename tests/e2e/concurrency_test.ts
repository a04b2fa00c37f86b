/**
 * End-to-end test of two tsbuild processes sharing one store.
 *
 * @module
 */

import { assertEquals } from "../_assert.ts";
import { runCli } from "../_fixtures/cli.ts";
import { sharedRegistry } from "../_fixtures/shared_registry.ts";
import { createTempDir, writeFiles } from "./_build.ts";

Deno.test("concurrency: two processes share one store", async () => {
  const registry = await sharedRegistry();
  await using temp = await createTempDir();
  const root = `${temp.path}/root`;
  // Both builds pull the same base image into the new store at the same time.
  const names = ["first", "second"];
  for (const name of names) {
    await writeFiles(`${temp.path}/${name}`, {
      "Dockerfile": `FROM ${registry.busyboxRef}
COPY ${name}.txt /${name}.txt
RUN sleep 1 && cat /${name}.txt > /result.txt && echo built >> /result.txt
`,
      [`${name}.txt`]: `${name}\n`,
    });
  }

  const results = await Promise.all(names.map((name) =>
    runCli([
      "build",
      "--root",
      root,
      "--progress",
      "plain",
      "--output",
      `type=local,dest=${temp.path}/out-${name}`,
      `${temp.path}/${name}`,
    ])
  ));

  for (const [index, name] of names.entries()) {
    assertEquals(results[index].code, 0, `${name}: ${results[index].stderr}`);
    assertEquals(
      await Deno.readTextFile(`${temp.path}/out-${name}/result.txt`),
      `${name}\nbuilt\n`,
    );
  }
});
