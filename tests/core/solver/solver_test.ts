/**
 * Tests of the solver's cache records, which are written while later steps
 * run: solve() returns only once they are on disk, after a failure too.
 *
 * @module
 */

import { assertEquals, assertRejects } from "../../_assert.ts";
import { sharedRegistry } from "../../_fixtures/shared_registry.ts";
import {
  buildDockerfile,
  cachedSteps,
  createTempDir,
  ranSteps,
  writeFiles,
} from "../../e2e/_build.ts";

const DOCKERFILE = (last: string) =>
  `ARG BASE
FROM \${BASE}
WORKDIR /app
COPY a.txt ./
RUN wc -c a.txt > size.txt
RUN ${last}
`;

Deno.test("Solver.solve() keeps the records of the steps before a failure", async () => {
  const registry = await sharedRegistry();
  await using temp = await createTempDir();
  const context = `${temp.path}/context`;
  await writeFiles(context, { "Dockerfile": DOCKERFILE("exit 3"), "a.txt": "a\n" });
  const options = { root: `${temp.path}/root`, context, buildArgs: { BASE: registry.busyboxRef } };
  await assertRejects(() => buildDockerfile(options), Error, "exit code 3");

  await Deno.writeTextFile(`${context}/Dockerfile`, DOCKERFILE("true"));
  const fixed = await buildDockerfile(options);

  // The context contains the Dockerfile, so it is loaded again. The copy is keyed by a.txt alone.
  assertEquals(ranSteps(fixed), ["RUN true", "load build context"]);
  assertEquals(
    cachedSteps(fixed),
    [
      "COPY a.txt ./",
      `FROM ${registry.busyboxRef}@${registry.busyboxDigest}`,
      "RUN wc -c a.txt > size.txt",
      "WORKDIR /app",
    ].sort(),
  );
});
