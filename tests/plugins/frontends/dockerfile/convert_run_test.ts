/**
 * Tests of RUN conversion: `--mount` parsing and the mounts it produces,
 * `--network`, `--security`, and heredoc scripts.
 *
 * @module
 */

import { assertEquals, assertThrows } from "../../../_assert.ts";
import {
  CacheSharing,
  MountType,
  NetworkMode,
} from "../../../../core/graph/gen/tsbuild/graph/v1/definition_pb.ts";
import {
  parseMountSpec,
  parseRamSize,
} from "../../../../plugins/frontends/dockerfile/_run_mounts.ts";
import { splitCsvFields } from "../../../../plugins/frontends/dockerfile/_csv.ts";
import { envOf, execAt, extraMounts, inputOp, plan, planError } from "./_convert_fixture.ts";

const keep = (value: string) => value;

Deno.test("splitCsvFields() reads quoted fields with commas and quotes", () => {
  assertEquals(splitCsvFields('type=bind,"source=a,b","target=/x ""y"""'), [
    "type=bind",
    "source=a,b",
    'target=/x "y"',
  ]);
  // As in Go's encoding/csv, a quote may only open a field.
  assertThrows(() => splitCsvFields('target="/x"'), SyntaxError, "bare quote");
});

Deno.test("parseMountSpec() defaults to a read-only bind", () => {
  assertEquals(parseMountSpec("target=/src", keep), {
    type: "bind",
    target: "/src",
    readonly: true,
    required: false,
  });
});

Deno.test("parseMountSpec() makes cache and tmpfs mounts writable by default", () => {
  assertEquals(parseMountSpec("type=cache,target=/c", keep).readonly, false);
  assertEquals(parseMountSpec("type=tmpfs,target=/t", keep).readonly, false);
  assertEquals(parseMountSpec("type=bind,target=/b,rw", keep).readonly, false);
  assertEquals(parseMountSpec("type=cache,target=/c,ro", keep).readonly, true);
});

Deno.test("parseMountSpec() reads every cache option", () => {
  const spec = parseMountSpec(
    "type=cache,id=go,target=/go/pkg,sharing=locked,from=deps,source=/mod,mode=0700,uid=1000,gid=1001",
    keep,
  );
  assertEquals(spec, {
    type: "cache",
    id: "go",
    target: "/go/pkg",
    sharing: "locked",
    from: "deps",
    source: "/mod",
    mode: 0o700,
    uid: 1000,
    gid: 1001,
    readonly: false,
    required: false,
  });
});

Deno.test("parseMountSpec() expands values but not keys or from", () => {
  const vars: Record<string, string> = { DIR: "/cache", ID: "npm" };
  const expand = (word: string) => word.replace(/\$(\w+)/g, (_, name) => vars[name] ?? "");
  assertEquals(parseMountSpec("type=cache,target=$DIR,id=$ID", expand).target, "/cache");
  assertThrows(
    () => parseMountSpec("type=bind,from=$STAGE,target=/x", expand),
    SyntaxError,
    "does not support variable expansion",
  );
});

Deno.test("parseMountSpec() rejects what BuildKit rejects", () => {
  const cases: Array<[string, string]> = [
    ["type=volume,target=/x", 'unsupported mount type "volume"'],
    ["type=cache,target=/x,sharing=sometimes", 'unsupported sharing value "sometimes"'],
    ["type=bind,target=/x,mode=0755", 'mode is not allowed for "bind" mounts'],
    ["type=tmpfs,target=/x,uid=1", 'uid is not allowed for "tmpfs" mounts'],
    ["type=bind,target=/x,size=1m", 'unexpected key "size" for mount type "bind"'],
    ["type=cache,target=/x,required", 'unexpected key "required" for mount type "cache"'],
    ["type=secret", "one of id, source or target is required"],
    ["type=secret,id=a,source=b", "source and id cannot both be set"],
    ["type=secret,id=a,from=stage", "a secret mount cannot have a from"],
    ["type=bind,target=/x,sharing=shared", 'sharing is only allowed for cache mounts, not "bind"'],
    ["type=cache,target=/x,uid=abc", 'invalid value "abc" for uid'],
    ["type=cache,target=/x,mode=999", 'invalid value "999" for mode'],
    ["type=cache,target=/x,color=red", 'unexpected key "color"'],
    ["type=bind,target", 'invalid field "target"'],
    ["type=bind,target=/x,ro=maybe", 'invalid value "maybe" for ro'],
  ];
  for (const [text, message] of cases) {
    assertThrows(() => parseMountSpec(text, keep), SyntaxError, message);
  }
});

Deno.test("parseRamSize() reads sizes as Docker's RAMInBytes does", () => {
  assertEquals(parseRamSize("size", "1024"), 1024);
  assertEquals(parseRamSize("size", "64m"), 64 * 1024 ** 2);
  assertEquals(parseRamSize("size", "1.5GiB"), 1.5 * 1024 ** 3);
  assertEquals(parseRamSize("size", "10kb"), 10240);
  assertThrows(() => parseRamSize("size", "10x"), SyntaxError, 'invalid value "10x"');
});

Deno.test("convertDockerfile() turns a cache mount into a persistent cache", async () => {
  const result = await plan(
    "FROM img\nWORKDIR /src\nRUN --mount=type=cache,target=.cache/go,sharing=private go build\n",
  );
  const [mount] = extraMounts(execAt(result, 3));
  assertEquals(mount.type, MountType.CACHE);
  assertEquals(mount.dest, "/src/.cache/go");
  assertEquals(mount.cache?.id, ".cache/go");
  assertEquals(mount.cache?.sharing, CacheSharing.PRIVATE);
  assertEquals(mount.input, -1);
  assertEquals(mount.readonly, false);
});

Deno.test("convertDockerfile() prefixes cache ids with BUILDKIT_CACHE_MOUNT_NS", async () => {
  const result = await plan("FROM img\nRUN --mount=type=cache,id=npm,target=/c true\n", {
    buildArgs: { BUILDKIT_CACHE_MOUNT_NS: "project-a" },
  });
  assertEquals(extraMounts(execAt(result, 2))[0].cache?.id, "project-a/npm");
  assertEquals(result.warnings, []);
});

Deno.test("convertDockerfile() starts a cache with uid, gid and mode from a prepared directory", async () => {
  const result = await plan(
    "FROM img\nRUN --mount=type=cache,target=/c,uid=1000,gid=1000,mode=0750 true\n",
  );
  const exec = execAt(result, 2);
  const [mount] = extraMounts(exec);
  assertEquals(mount.selector, "/cache");
  const seed = inputOp(result, exec.vertex, mount.input);
  if (seed.op.op.case !== "file") throw new Error("expected a file op");
  const action = seed.op.op.value.actions[0].action;
  if (action.case !== "mkdir") throw new Error("expected mkdir");
  assertEquals(action.value.path, "/cache");
  assertEquals(action.value.mode, 0o750);
  assertEquals(action.value.owner, {
    $typeName: "tsbuild.graph.v1.ChownOpt",
    user: "1000",
    group: "1000",
  });
});

Deno.test("convertDockerfile() binds the context, a stage or an image", async () => {
  const text = [
    "FROM img AS tools",
    "RUN make",
    "FROM img",
    "RUN --mount=source=go.mod,target=/src/go.mod --mount=from=tools,source=/out,target=/tools,rw --mount=from=other/image:1,target=/img true",
  ].join("\n");
  const result = await plan(text);
  const exec = execAt(result, 4);
  const [context, tools, image] = extraMounts(exec);
  assertEquals([context.selector, context.readonly], ["/go.mod", true]);
  assertEquals(inputOp(result, exec.vertex, context.input).op.op.value, {
    $typeName: "tsbuild.graph.v1.SourceOp",
    identifier: "local://context",
    attrs: {},
  });
  assertEquals([tools.selector, tools.readonly], ["/out", false]);
  assertEquals(inputOp(result, exec.vertex, tools.input).digest, execAt(result, 2).vertex.digest);
  const source = inputOp(result, exec.vertex, image.input).op.op;
  assertEquals(
    source.case === "source" &&
      source.value.identifier.startsWith("docker-image://other/image@sha256:"),
    true,
  );
});

Deno.test("convertDockerfile() mounts secrets as BuildKit names them", async () => {
  const text = [
    "FROM img",
    "RUN --mount=type=secret,id=npmrc --mount=type=secret,target=/root/.aws/credentials --mount=type=secret,id=token,env=TOKEN,required,mode=0440,uid=1000 true",
  ].join("\n");
  const [byId, byTarget, asEnv] = extraMounts(execAt(await plan(text), 2));
  assertEquals([byId.dest, byId.secret?.id, byId.secret?.mode, byId.secret?.optional], [
    "/run/secrets/npmrc",
    "npmrc",
    0o400,
    true,
  ]);
  assertEquals([byTarget.dest, byTarget.secret?.id], ["/root/.aws/credentials", "credentials"]);
  assertEquals([asEnv.dest, asEnv.secret?.env, asEnv.secret?.optional], ["", "TOKEN", false]);
  assertEquals([asEnv.secret?.mode, asEnv.secret?.uid], [0o440, 1000]);
});

Deno.test("convertDockerfile() forwards SSH agents and sets SSH_AUTH_SOCK", async () => {
  const text =
    "FROM img\nRUN --mount=type=ssh --mount=type=ssh,id=work,target=/agent,required true\n";
  const exec = execAt(await plan(text), 2);
  const [first, second] = extraMounts(exec);
  assertEquals([first.type, first.dest, first.ssh?.id, first.ssh?.mode, first.ssh?.optional], [
    MountType.SSH,
    "/run/buildkit/ssh_agent.0",
    "default",
    0o600,
    true,
  ]);
  assertEquals([second.dest, second.ssh?.id, second.ssh?.optional], ["/agent", "work", false]);
  assertEquals(envOf(exec, "SSH_AUTH_SOCK"), "/run/buildkit/ssh_agent.0");
});

Deno.test("convertDockerfile() gives a tmpfs its size", async () => {
  const [mount] = extraMounts(
    execAt(await plan("FROM img\nRUN --mount=type=tmpfs,target=/t,size=2m true\n"), 2),
  );
  assertEquals([mount.type, mount.tmpfs?.size], [MountType.TMPFS, 2n * 1024n * 1024n]);
});

Deno.test("convertDockerfile() reports a bad --mount with its line", async () => {
  const error = await planError(
    "FROM img\n\nRUN --mount=type=cache,target=/x,mode=0755,sharing=bad true\n",
  );
  assertEquals(
    error.message,
    'Dockerfile:3: unsupported sharing value "bad": must be one of shared, private, locked',
  );
});

Deno.test("convertDockerfile() records the network mode", async () => {
  const result = await plan(
    "FROM img\nRUN true\nRUN --network=none true\nRUN --network=host true\n",
  );
  assertEquals(execAt(result, 2).network, NetworkMode.UNSPECIFIED);
  assertEquals(execAt(result, 3).network, NetworkMode.NONE);
  assertEquals(execAt(result, 4).network, NetworkMode.HOST);
});

Deno.test("convertDockerfile() rejects RUN --security=insecure", async () => {
  const error = await planError("FROM img\nRUN --security=insecure true\n");
  assertEquals(
    error.message,
    "Dockerfile:2: RUN --security=insecure is not supported: tsbuild runs every step in a sandbox",
  );
});

Deno.test("convertDockerfile() runs a lone heredoc with the shell", async () => {
  const exec = execAt(await plan("FROM img\nRUN <<EOF\necho $HOME\nls\nEOF\n"), 2);
  assertEquals(exec.meta?.args, ["/bin/sh", "-c", "echo $HOME\nls\n"]);
  assertEquals(exec.vertex.metadata?.description, "[2/2] RUN <<EOF (echo $HOME...)");
});

Deno.test("convertDockerfile() runs a heredoc with a #! line as a script", async () => {
  const result = await plan(
    "FROM img\nRUN <<-SCRIPT\n\t#!/usr/bin/env python3\n\tprint(1)\n\tSCRIPT\n",
  );
  const exec = execAt(result, 2);
  assertEquals(exec.meta?.args, ["/dev/pipes/SCRIPT"]);
  const [mount] = extraMounts(exec);
  assertEquals([mount.dest, mount.readonly], ["/dev/pipes", true]);
  const script = inputOp(result, exec.vertex, mount.input).op.op;
  if (script.case !== "file" || script.value.actions[0].action.case !== "mkfile") {
    throw new Error("expected the script file");
  }
  const file = script.value.actions[0].action.value;
  assertEquals([file.path, file.mode], ["/SCRIPT", 0o755]);
  assertEquals(new TextDecoder().decode(file.data), "#!/usr/bin/env python3\nprint(1)\n");
});

Deno.test("convertDockerfile() hands several heredocs to the shell with their bodies", async () => {
  const text = "FROM img\nRUN cat <<A >/a && cat <<'B' >/b\none $X\nA\ntwo $X\nB\n";
  const exec = execAt(await plan(text), 2);
  assertEquals(exec.meta?.args, [
    "/bin/sh",
    "-c",
    "cat <<A >/a && cat <<'B' >/b\none $X\nA\ntwo $X\nB",
  ]);
});
