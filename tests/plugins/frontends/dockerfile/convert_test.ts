/**
 * Tests of convertDockerfile(): variables, platforms, stages, ONBUILD and
 * parser directives, checked on the definition it produces.
 *
 * @module
 */

import { assert, assertEquals, assertMatch } from "../../../_assert.ts";
import { DockerfileSyntaxError } from "../../../../core/errors.ts";
import {
  AMD64,
  envOf,
  execAt,
  fileOpAt,
  inputOp,
  opsAt,
  plan,
  planError,
} from "./_convert_fixture.ts";

const ARM64 = { os: "linux", architecture: "arm64", variant: "v8" };

Deno.test("convertDockerfile() gives FROM the automatic platform ARGs", async () => {
  const result = await plan("FROM --platform=$BUILDPLATFORM img-$TARGETARCH\nRUN true\n", {
    platform: ARM64,
    buildPlatform: AMD64,
  });
  assertEquals(result.resolved, [{ reference: "img-arm64", platform: AMD64 }]);
});

Deno.test("convertDockerfile() hides platform ARGs in a stage until declared", async () => {
  const result = await plan(
    "FROM img\nRUN echo $TARGETARCH\nARG TARGETARCH\nRUN echo $TARGETARCH\nARG TARGETPLATFORM\nRUN env\n",
    { platform: ARM64 },
  );
  assertEquals(envOf(execAt(result, 2), "TARGETARCH"), undefined);
  assertEquals(envOf(execAt(result, 4), "TARGETARCH"), "arm64");
  assertEquals(envOf(execAt(result, 6), "TARGETPLATFORM"), "linux/arm64/v8");
});

Deno.test("convertDockerfile() keeps TARGETPLATFORM for a stage FROM another platform", async () => {
  const result = await plan(
    "FROM --platform=linux/amd64 img\nARG TARGETPLATFORM\nARG BUILDARCH\nRUN true\n",
    { platform: ARM64, buildPlatform: AMD64 },
  );
  const exec = execAt(result, 4);
  assertEquals(envOf(exec, "TARGETPLATFORM"), "linux/arm64/v8");
  assertEquals(envOf(exec, "BUILDARCH"), "amd64");
  assertEquals(exec.vertex.op.platform?.architecture, "amd64");
});

Deno.test("convertDockerfile() keeps a platform ARG redeclared globally without a value", async () => {
  const result = await plan("ARG TARGETOS\nARG TARGETARCH\nFROM img-${TARGETOS}-${TARGETARCH}\n", {
    platform: ARM64,
  });
  assertEquals(result.resolved[0].reference, "img-linux-arm64");
});

Deno.test("convertDockerfile() lets a build argument override a platform ARG", async () => {
  const result = await plan("FROM img-$TARGETARCH\n", { buildArgs: { TARGETARCH: "riscv64" } });
  assertEquals(result.resolved[0].reference, "img-riscv64");
});

Deno.test("convertDockerfile() sets TARGETSTAGE to the target's name", async () => {
  const result = await plan("FROM img AS first\nARG TARGETSTAGE\nRUN true\nFROM img AS second\n", {
    target: "first",
  });
  assertEquals(envOf(execAt(result, 3), "TARGETSTAGE"), "first");
});

Deno.test("convertDockerfile() inherits global ARG values in a stage only when declared", async () => {
  const text =
    "ARG V=global\nFROM img\nRUN echo $V\nARG V\nRUN echo $V\nARG V=local\nRUN echo $V\n";
  const result = await plan(text);
  assertEquals(envOf(execAt(result, 3), "V"), undefined);
  assertEquals(envOf(execAt(result, 5), "V"), "global");
  assertEquals(envOf(execAt(result, 7), "V"), "local");
});

Deno.test("convertDockerfile() prefers a build argument to an ARG default", async () => {
  const result = await plan("FROM img\nARG V=default\nRUN true\n", { buildArgs: { V: "given" } });
  assertEquals(envOf(execAt(result, 3), "V"), "given");
});

Deno.test("convertDockerfile() keeps ARG values out of the image config", async () => {
  const result = await plan("FROM img\nARG SECRETISH=1\nENV VISIBLE=2\nRUN true\n");
  assertEquals(envOf(execAt(result, 4), "SECRETISH"), "1");
  assertEquals(result.imageConfig.config?.Env, ["PATH=/usr/bin:/bin", "VISIBLE=2"]);
});

Deno.test("convertDockerfile() lets the later of ENV and ARG win, as BuildKit does", async () => {
  const text = "FROM img\nARG X=arg\nENV X=env\nRUN true\nENV Y=env\nARG Y=arg\nRUN true\n";
  const result = await plan(text);
  assertEquals(envOf(execAt(result, 4), "X"), "env");
  assertEquals(envOf(execAt(result, 7), "Y"), "arg");
  assertEquals(result.imageConfig.config?.Env?.includes("Y=env"), true);
});

Deno.test("convertDockerfile() expands ENV pairs with the values from before", async () => {
  const result = await plan("FROM img\nENV A=hello\nENV A=bye B=$A\nRUN true\n");
  assertEquals(envOf(execAt(result, 4), "B"), "hello");
  assertEquals(envOf(execAt(result, 4), "A"), "bye");
});

Deno.test("convertDockerfile() expands ARG defaults in order within one ARG", async () => {
  const result = await plan("FROM img\nARG A=1 B=${A}2\nRUN true\n");
  assertEquals(envOf(execAt(result, 3), "B"), "12");
});

Deno.test("convertDockerfile() carries ARGs and ENV into a stage built FROM a stage", async () => {
  const text = "FROM img AS base\nARG A=from-base\nENV E=env\nFROM base\nRUN true\n";
  const result = await plan(text);
  const exec = execAt(result, 5);
  assertEquals(envOf(exec, "A"), "from-base");
  assertEquals(envOf(exec, "E"), "env");
  assertEquals(result.imageConfig.config?.Env?.includes("A=from-base"), false);
});

Deno.test("convertDockerfile() does not carry ARGs into a stage FROM an image", async () => {
  const result = await plan("FROM img AS a\nARG A=1\nFROM img\nRUN true\n");
  assertEquals(envOf(execAt(result, 4), "A"), undefined);
});

Deno.test("convertDockerfile() records build ARGs in a RUN's history", async () => {
  const result = await plan("FROM img\nARG V=1\nARG EMPTY\nRUN echo hi\n");
  const run = result.imageConfig.history!.find((entry) => entry.created_by?.startsWith("RUN"));
  assertEquals(run?.created_by, "RUN |2 V=1 EMPTY= /bin/sh -c echo hi");
});

Deno.test("convertDockerfile() reports ${VAR:?message} with the Dockerfile line", async () => {
  const error = await planError("FROM img\n\nWORKDIR ${APP_DIR:?set APP_DIR first}\n");
  assert(error instanceof DockerfileSyntaxError);
  assertEquals(
    error.message,
    'Dockerfile:3: failed to expand "${APP_DIR:?set APP_DIR first}": APP_DIR: set APP_DIR first',
  );
});

Deno.test("convertDockerfile() reports a failing expansion in FROM at its line", async () => {
  const error = await planError("ARG BASE\nFROM ${BASE:?required}\n");
  assertEquals(error.message, 'Dockerfile:2: failed to expand "${BASE:?required}": BASE: required');
});

Deno.test("convertDockerfile() rejects an empty base name", async () => {
  const error = await planError("ARG BASE\nFROM $BASE\n");
  assertEquals(error.message, "Dockerfile:2: base name ($BASE) should not be blank");
});

Deno.test("convertDockerfile() expands EXPOSE, LABEL, USER, VOLUME and STOPSIGNAL", async () => {
  const text = [
    "FROM img",
    "ARG PORT=8080 NAME=app SIG=SIGTERM",
    "EXPOSE $PORT ${PORT}/udp",
    'LABEL "name"=$NAME',
    "USER $NAME",
    "VOLUME /data/$NAME",
    "STOPSIGNAL $SIG",
  ].join("\n");
  const settings = (await plan(text)).imageConfig.config!;
  assertEquals(Object.keys(settings.ExposedPorts!).sort(), ["8080/tcp", "8080/udp"]);
  assertEquals(settings.Labels, { name: "app" });
  assertEquals(settings.User, "app");
  assertEquals(Object.keys(settings.Volumes!), ["/data/app"]);
  assertEquals(settings.StopSignal, "SIGTERM");
});

Deno.test("convertDockerfile() leaves CMD, ENTRYPOINT and HEALTHCHECK unexpanded", async () => {
  const text = 'FROM img\nARG X=1\nCMD echo $X\nENTRYPOINT ["run", "$X"]\n';
  const settings = (await plan(text)).imageConfig.config!;
  assertEquals(settings.Cmd, ["/bin/sh", "-c", "echo $X"]);
  assertEquals(settings.Entrypoint, ["run", "$X"]);
});

Deno.test("convertDockerfile() gives a scratch stage BuildKit's PATH and working directory", async () => {
  const result = await plan("FROM scratch\nCOPY a /a\n");
  assertEquals(result.imageConfig.config?.Env, [
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
  ]);
  assertEquals(result.imageConfig.config?.WorkingDir, "/");
  assertEquals(fileOpAt(result, 2).vertex.op.platform?.architecture, "amd64");
});

Deno.test("convertDockerfile() adds PATH to an image config without one", async () => {
  const result = await plan("FROM img\n", { images: { img: { config: { Env: ["A=1"] } } } });
  assertEquals(result.imageConfig.config?.Env, [
    "A=1",
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
  ]);
});

Deno.test("convertDockerfile() warns about a syntax directive naming another frontend", async () => {
  const result = await plan("# syntax=example.com/other/frontend:2\nFROM img\n");
  assertEquals(result.warnings, [
    'Dockerfile:1: ignoring "# syntax=example.com/other/frontend:2": tsbuild cannot load frontend images and builds with its built-in Dockerfile frontend',
  ]);
});

Deno.test("convertDockerfile() accepts docker/dockerfile syntax directives quietly", async () => {
  for (
    const syntax of [
      "docker/dockerfile:1",
      "docker/dockerfile:1.7-labs",
      "docker.io/docker/dockerfile-upstream:master",
    ]
  ) {
    const result = await plan(`# syntax=${syntax}\nFROM img\n`);
    assertEquals(result.warnings, [], syntax);
  }
});

Deno.test("convertDockerfile() ignores a check directive with a notice", async () => {
  const result = await plan("# check=skip=all;error=true\nFROM img\n");
  assertEquals(result.warnings, [
    'Dockerfile:1: ignoring "# check=skip=all;error=true": tsbuild does not run Dockerfile checks',
  ]);
});

Deno.test("convertDockerfile() warns about build arguments no ARG consumed", async () => {
  const result = await plan("ARG USED\nFROM img\nARG ALSO\n", {
    buildArgs: { USED: "1", ALSO: "2", UNUSED: "3", TARGETARCH: "amd64", HTTP_PROXY: "x" },
  });
  assertEquals(result.warnings, ["build arguments not consumed by any ARG: UNUSED"]);
});

Deno.test("convertDockerfile() runs a base image's ONBUILD triggers first", async () => {
  const images = {
    base: { config: { Env: ["PATH=/bin"], OnBuild: ["RUN echo triggered", "ENV FROM_TRIGGER=1"] } },
  };
  const result = await plan("FROM base\nRUN echo own\n", { images });
  const triggered = execAt(result, 1);
  assertEquals(triggered.meta?.args, ["/bin/sh", "-c", "echo triggered"]);
  assertEquals(triggered.vertex.metadata?.description, "[2/4] ONBUILD RUN echo triggered");
  const own = execAt(result, 2);
  assertEquals(envOf(own, "FROM_TRIGGER"), "1");
  assertEquals(inputOp(result, own.vertex, 0).digest, triggered.vertex.digest);
  assertEquals(result.imageConfig.config?.OnBuild, undefined);
});

Deno.test("convertDockerfile() runs a parent stage's ONBUILD in the child only", async () => {
  const text = "FROM img AS parent\nONBUILD RUN echo child-only\nRUN echo parent\nFROM parent\n";
  const result = await plan(text);
  const triggered = opsAt(result, 4).filter((vertex) => vertex.op.op.case === "exec");
  assertEquals(triggered.length, 1);
  assertEquals(result.imageConfig.config?.OnBuild, undefined);
  const parent = await plan(text, { target: "parent" });
  assertEquals(parent.imageConfig.config?.OnBuild, ["RUN echo child-only"]);
});

Deno.test("convertDockerfile() rejects a base image's ONBUILD FROM trigger", async () => {
  const images = { base: { config: { OnBuild: ["FROM other"] } } };
  const error = await planError("ARG X\nFROM base\n", { images });
  assertMatch(error.message, /^Dockerfile:2: invalid ONBUILD trigger "FROM other"/);
});

Deno.test("convertDockerfile() converts each needed stage once", async () => {
  const text =
    "FROM img AS a\nRUN echo a\nFROM img AS b\nCOPY --from=a /x /x\nCOPY --from=a /y /y\n";
  const result = await plan(text);
  assertEquals(opsAt(result, 2).length, 1);
});

Deno.test("convertDockerfile() reports stages that depend on each other", async () => {
  const error = await planError(
    "FROM img AS a\nCOPY --from=b /x /x\nFROM img AS b\nCOPY --from=a /y /y\n",
  );
  assertMatch(error.message, /circular dependency/);
});
