/**
 * Tests of COPY and ADD conversion: flags, sources, heredocs and the file,
 * merge and source ops they produce.
 *
 * @module
 */

import { assertEquals, assertMatch } from "../../../_assert.ts";
import type { FileActionCopy } from "../../../../core/graph/gen/tsbuild/graph/v1/definition_pb.ts";
import { fileOpAt, inputOp, opsAt, type Plan, plan, planError } from "./_convert_fixture.ts";

function copiesAt(result: Plan, line: number): FileActionCopy[] {
  return fileOpAt(result, line).actions.flatMap((action) =>
    action.action.case === "copy" ? [action.action.value] : []
  );
}

Deno.test("convertDockerfile() copies with BuildKit's options", async () => {
  const result = await plan("FROM img\nWORKDIR /app\nCOPY --chown=app:staff --chmod=0640 a b ./\n");
  const [a, b] = copiesAt(result, 3);
  assertEquals([a.src, a.dest, b.dest], ["a", "/app/", "/app/"]);
  assertEquals(a.owner?.user, "app");
  assertEquals(a.owner?.group, "staff");
  assertEquals(a.mode, 0o640);
  assertEquals([a.followSymlinks, a.dirContentsOnly, a.allowWildcard, a.allowEmptyWildcard], [
    true,
    true,
    true,
    true,
  ]);
  assertEquals(a.attemptUnpack, false);
});

Deno.test("convertDockerfile() takes a group alone in --chown", async () => {
  const [copy] = copiesAt(await plan("FROM img\nCOPY --chown=:1000 a /a\n"), 2);
  assertEquals([copy.owner?.user, copy.owner?.group], ["", "1000"]);
});

Deno.test("convertDockerfile() expands --chown and --chmod but not --exclude", async () => {
  const text = "FROM img\nARG U=app M=755\nCOPY --chown=$U --chmod=$M --exclude=$U.tmp . /dst/\n";
  const [copy] = copiesAt(await plan(text), 3);
  assertEquals([copy.owner?.user, copy.mode], ["app", 0o755]);
  assertEquals(copy.excludePatterns, ["$U.tmp"]);
});

Deno.test("convertDockerfile() rejects a --chmod that is not octal", async () => {
  const bad = await planError("FROM img\nCOPY --chmod=999 a /a\n");
  assertEquals(
    bad.message,
    'Dockerfile:2: invalid --chmod "999": expected an octal mode from 0 to 7777, such as 755',
  );
  const symbolic = await planError("FROM img\nCOPY --chmod=u+x a /a\n");
  assertMatch(symbolic.message, /unsupported --chmod "u\+x": tsbuild takes octal modes only/);
});

Deno.test("convertDockerfile() copies --from a stage, an index or an image", async () => {
  const text = [
    "FROM img AS build",
    "RUN make",
    "FROM img",
    "COPY --from=build /out /a",
    "COPY --from=0 /out /b",
    "COPY --from=registry.example/tools:2 /bin/tool /c",
  ].join("\n");
  const result = await plan(text);
  const built = opsAt(result, 2)[0].digest;
  const fromName = fileOpAt(result, 4);
  assertEquals(inputOp(result, fromName.vertex, copiesAt(result, 4)[0].input).digest, built);
  const fromIndex = fileOpAt(result, 5);
  assertEquals(inputOp(result, fromIndex.vertex, copiesAt(result, 5)[0].input).digest, built);
  const fromImage = fileOpAt(result, 6);
  const source = inputOp(result, fromImage.vertex, copiesAt(result, 6)[0].input).op.op;
  assertEquals(
    source.case === "source" &&
      source.value.identifier.startsWith("docker-image://registry.example/tools@"),
    true,
  );
});

Deno.test("convertDockerfile() refuses variables in COPY --from", async () => {
  const error = await planError("FROM img\nARG STAGE=build\nCOPY --from=$STAGE /a /a\n");
  assertEquals(
    error.message,
    "Dockerfile:3: variable expansion is not supported for --from: define a stage with FROM using an ARG from the global scope instead",
  );
});

Deno.test("convertDockerfile() copies --parents with include patterns", async () => {
  const result = await plan("FROM img\nCOPY --parents src/*/go.mod ./cmd/./app/main.go /work/\n");
  const [whole, pivot] = copiesAt(result, 2);
  assertEquals([whole.src, whole.includePatterns, whole.dest], ["/", ["src/*/go.mod"], "/work/"]);
  assertEquals([pivot.src, pivot.includePatterns], ["./cmd", ["app/main.go"]]);
});

Deno.test("convertDockerfile() stacks COPY --link as a separate layer", async () => {
  const result = await plan("FROM img\nRUN make\nCOPY --link app /app\n");
  const [merge] = opsAt(result, 3).filter((vertex) => vertex.op.op.case === "merge");
  assertEquals(merge.op.inputs.length, 2);
  assertEquals(inputOp(result, merge, 0).digest, opsAt(result, 2)[0].digest);
  const layer = inputOp(result, merge, 1);
  assertEquals(layer.op.op.case === "file" && layer.op.op.value.baseInput, -1);
});

Deno.test("convertDockerfile() copies --link with --chmod on the stage, as BuildKit does", async () => {
  const result = await plan("FROM img\nCOPY --link --chmod=755 app /app\n");
  assertEquals(opsAt(result, 2).map((vertex) => vertex.op.op.case), ["file"]);
});

Deno.test("convertDockerfile() unpacks local ADD sources unless --unpack=false", async () => {
  const result = await plan(
    "FROM img\nADD app.tar.gz /opt/\nADD --unpack=false app.tar.gz /keep/\n",
  );
  assertEquals(copiesAt(result, 2)[0].attemptUnpack, true);
  assertEquals(copiesAt(result, 3)[0].attemptUnpack, false);
});

Deno.test("convertDockerfile() downloads ADD URLs through an http source", async () => {
  const checksum = `sha256:${"ab".repeat(32)}`;
  const result = await plan(
    `FROM img\nADD --checksum=${checksum} https://example.com/dl/tool-1.2.tar.gz /opt/\n`,
  );
  const [copy] = copiesAt(result, 2);
  assertEquals([copy.src, copy.dest, copy.attemptUnpack], ["/tool-1.2.tar.gz", "/opt/", false]);
  const source = inputOp(result, fileOpAt(result, 2).vertex, copy.input).op.op;
  assertEquals(source.case === "source" && source.value, {
    $typeName: "tsbuild.graph.v1.SourceOp",
    identifier: "https://example.com/dl/tool-1.2.tar.gz",
    attrs: { checksum, filename: "tool-1.2.tar.gz" },
  });
});

Deno.test("convertDockerfile() checks ADD --checksum as BuildKit does", async () => {
  const cases: Array<[string, string]> = [
    ["ADD --checksum=sha256:00 a b /x/", "ADD --checksum needs exactly one source"],
    [
      "ADD --checksum=sha256:00 local.tar /x/",
      'requires an HTTP(S) or git source, not "local.tar"',
    ],
    ["ADD --checksum=md5:00 https://example.com/a /x", 'invalid --checksum "md5:00"'],
  ];
  for (const [line, message] of cases) {
    const error = await planError(`FROM img\n${line}\n`);
    assertMatch(error.message, new RegExp(message.replace(/[()]/g, "\\$&")), line);
  }
});

Deno.test("convertDockerfile() refuses a URL in COPY", async () => {
  const error = await planError("FROM img\nCOPY https://example.com/a /a\n");
  assertMatch(
    error.message,
    /^Dockerfile:2: COPY cannot fetch the URL "https:\/\/example.com\/a": use ADD/,
  );
});

Deno.test("convertDockerfile() copies heredocs, expanding unless the delimiter is quoted", async () => {
  const text = [
    "FROM img",
    "ARG NAME=world",
    "COPY --chmod=600 <<hello.txt <<'raw.txt' /etc/greetings/",
    'hello "$NAME"',
    "hello.txt",
    "raw $NAME",
    "raw.txt",
  ].join("\n");
  const result = await plan(text);
  const copies = copiesAt(result, 3);
  assertEquals(copies.map((copy) => [copy.src, copy.dest, copy.mode]), [
    ["/hello.txt", "/etc/greetings/", 0o600],
    ["/raw.txt", "/etc/greetings/", 0o600],
  ]);
  const op = fileOpAt(result, 3);
  const bodies = copies.map((copy) => {
    const file = inputOp(result, op.vertex, copy.input).op.op;
    if (file.case !== "file" || file.value.actions[0].action.case !== "mkfile") throw new Error();
    return new TextDecoder().decode(file.value.actions[0].action.value.data);
  });
  assertEquals(bodies, ['hello "world"\n', "raw $NAME\n"]);
});

Deno.test("convertDockerfile() records COPY in the history as BuildKit writes it", async () => {
  const result = await plan("FROM img\nCOPY --chown=1:2 --chmod=600 a b /dst/\n");
  assertEquals(
    result.imageConfig.history?.at(-1)?.created_by,
    "COPY --chown=1:2 --chmod=600 a b /dst/",
  );
});
