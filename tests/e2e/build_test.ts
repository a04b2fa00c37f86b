/**
 * End-to-end tests of `tsbuild build`: a multi-stage image run by containerd, cache reuse
 * across builds, and independent stages running in parallel.
 *
 * @module
 */

import { assert, assertEquals } from "../_assert.ts";
import { runCli } from "../_fixtures/cli.ts";
import { hasContainerd, startContainerd } from "../_fixtures/containerd.ts";
import { sharedRegistry } from "../_fixtures/shared_registry.ts";
import {
  buildDockerfile,
  cachedSteps,
  createTempDir,
  ranSteps,
  skopeoInspect,
  stepInterval,
  writeFiles,
} from "./_build.ts";

const MULTI_STAGE_DOCKERFILE = `ARG BASE
FROM \${BASE} AS build
WORKDIR /src
COPY greeting.txt .
RUN tr a-z A-Z < greeting.txt > shout.txt && echo "built by $(id -un)" >> shout.txt

FROM \${BASE}
LABEL org.example.suite="e2e" org.example.case="multi-stage"
ENV GREETING_FILE=/app/shout.txt MODE=test
WORKDIR /app
COPY --from=build /src/shout.txt ./shout.txt
COPY greeting.txt ./
EXPOSE 8080 9090/udp
USER app
CMD ["sh", "-c", "cat $GREETING_FILE greeting.txt; echo \\"user=$(id -un) uid=$(id -u) dir=$(pwd) mode=$MODE\\""]
`;

Deno.test({
  name: "build: multi-stage image runs in containerd",
  ignore: !hasContainerd(),
  async fn() {
    const registry = await sharedRegistry();
    await using temp = await createTempDir();
    const context = `${temp.path}/context`;
    await writeFiles(context, {
      "Dockerfile": MULTI_STAGE_DOCKERFILE,
      "greeting.txt": "hello e2e\n",
    });
    const archive = `${temp.path}/image.tar`;

    const built = await runCli([
      "build",
      "--root",
      `${temp.path}/root`,
      "--progress",
      "plain",
      "--build-arg",
      `BASE=${registry.busyboxRef}`,
      "-t",
      "e2e/multi:1",
      "--output",
      `type=oci,dest=${archive}`,
      context,
    ]);
    assertEquals(built.code, 0, built.stderr);

    const inspected = await skopeoInspect(`oci-archive:${archive}`);
    assertEquals(inspected.Architecture, Deno.build.arch === "x86_64" ? "amd64" : "arm64");
    assertEquals(inspected.Os, "linux");
    const config = (await skopeoInspect(`oci-archive:${archive}`, { config: true }))
      .config as Record<string, unknown>;
    assertEquals(config.Env, [
      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      "GREETING_FILE=/app/shout.txt",
      "MODE=test",
    ]);
    assertEquals(config.Cmd, [
      "sh",
      "-c",
      'cat $GREETING_FILE greeting.txt; echo "user=$(id -un) uid=$(id -u) dir=$(pwd) mode=$MODE"',
    ]);
    assertEquals(config.User, "app");
    assertEquals(config.WorkingDir, "/app");
    assertEquals(config.Labels, { "org.example.suite": "e2e", "org.example.case": "multi-stage" });
    assertEquals(config.ExposedPorts, { "8080/tcp": {}, "9090/udp": {} });

    await using containerd = await startContainerd({ namespace: "buildkit" });
    await containerd.ctr(["images", "import", archive]);
    const output = await containerd.ctr(["run", "--rm", "docker.io/e2e/multi:1", "e2e-multi"]);
    assertEquals(
      output,
      "HELLO E2E\nbuilt by root\nhello e2e\nuser=app uid=1000 dir=/app mode=test\n",
    );
  },
});

// Stage "other" copies only a.txt, so changing b.txt must leave it cached.
const CACHE_DOCKERFILE = `ARG BASE
FROM \${BASE} AS other
COPY a.txt /only-a.txt
RUN wc -c < /only-a.txt > /count

FROM \${BASE}
RUN echo start > /start
COPY a.txt /a.txt
COPY b.txt /b.txt
RUN cat /a.txt /b.txt > /both
COPY --from=other /count /count
`;

Deno.test("build: second run is all cache hits", async () => {
  const registry = await sharedRegistry();
  await using temp = await createTempDir();
  const context = `${temp.path}/context`;
  await writeFiles(context, { "Dockerfile": CACHE_DOCKERFILE, "a.txt": "a\n", "b.txt": "b\n" });
  const options = {
    root: `${temp.path}/root`,
    context,
    buildArgs: { BASE: registry.busyboxRef },
    outputs: [{ type: "oci", attrs: { dest: `${temp.path}/image.tar` } }],
  };

  const first = await buildDockerfile(options);
  const second = await buildDockerfile(options);

  assert(first.report.stats.runs.size > 0, "the first build ran nothing");
  assertEquals(ranSteps(second), []);
  assertEquals(cachedSteps(second), ranSteps(first));
  assertEquals(second.report.exports[0].result.digest, first.report.exports[0].result.digest);
});

Deno.test("build: changed file reruns only dependent steps", async () => {
  const registry = await sharedRegistry();
  await using temp = await createTempDir();
  const context = `${temp.path}/context`;
  await writeFiles(context, { "Dockerfile": CACHE_DOCKERFILE, "a.txt": "a\n", "b.txt": "b\n" });
  const options = {
    root: `${temp.path}/root`,
    context,
    buildArgs: { BASE: registry.busyboxRef },
    outputs: [{ type: "local", attrs: { dest: `${temp.path}/out` } }],
  };
  await buildDockerfile(options);

  await Deno.writeTextFile(`${context}/b.txt`, "b changed\n");
  const rebuilt = await buildDockerfile({
    ...options,
    outputs: [{ type: "local", attrs: { dest: `${temp.path}/out2` } }],
  });

  assertEquals(ranSteps(rebuilt), [
    "COPY --from=other /count /count",
    "COPY b.txt /b.txt",
    "RUN cat /a.txt /b.txt > /both",
    "load build context",
  ]);
  const cached = cachedSteps(rebuilt);
  for (const step of ["COPY a.txt /a.txt", "COPY a.txt /only-a.txt", "RUN echo start > /start"]) {
    assert(cached.includes(step), `"${step}" is not among the cache hits: ${cached.join(", ")}`);
  }
  assertEquals(await Deno.readTextFile(`${temp.path}/out2/both`), "a\nb changed\n");
  assertEquals(await Deno.readTextFile(`${temp.path}/out2/count`), "2\n");
});

Deno.test("build: independent stages run in parallel", async () => {
  const registry = await sharedRegistry();
  await using temp = await createTempDir();
  const context = `${temp.path}/context`;
  await writeFiles(context, {
    "Dockerfile": `ARG BASE
FROM \${BASE} AS left
RUN sleep 1 && echo left > /left

FROM \${BASE} AS right
RUN sleep 1 && echo right > /right

FROM \${BASE}
COPY --from=left /left /left
COPY --from=right /right /right
`,
  });

  const { events } = await buildDockerfile({
    root: `${temp.path}/root`,
    context,
    buildArgs: { BASE: registry.busyboxRef },
  });

  const left = stepInterval(events, "RUN sleep 1 && echo left > /left");
  const right = stepInterval(events, "RUN sleep 1 && echo right > /right");
  assert(
    left.started < right.completed && right.started < left.completed,
    `the RUN steps did not overlap: left ${JSON.stringify(left)}, right ${JSON.stringify(right)}`,
  );
});
