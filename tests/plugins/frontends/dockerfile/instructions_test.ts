/**
 * Tests for typed instructions and stages: golden folders under
 * tests/testdata/dockerfile/parse and failing inputs under parse-errors.
 *
 * Each golden folder contains a Dockerfile and expected.json, the parser's
 * directives and warnings plus the typed instructions. Run with
 * UPDATE_GOLDEN=1 to rewrite expected.json after a deliberate change, then
 * review the diff.
 *
 * @module
 */

import { assert, assertEquals, assertThrows } from "../../../_assert.ts";
import { DockerfileSyntaxError } from "../../../../core/errors.ts";
import { parseDockerfile } from "../../../../plugins/frontends/dockerfile/parser.ts";
import {
  type Instruction,
  INSTRUCTION_KEYWORDS,
  parseInstructions,
  splitStages,
} from "../../../../plugins/frontends/dockerfile/instructions.ts";

const TESTDATA = new URL("../../../testdata/dockerfile/", import.meta.url);
const UPDATE_GOLDEN = Deno.env.get("UPDATE_GOLDEN") === "1";

function caseNames(folder: string): string[] {
  return [...Deno.readDirSync(new URL(folder, TESTDATA))]
    .filter((entry) => entry.isDirectory)
    .map((entry) => entry.name)
    .sort();
}

function parseAll(text: string): Instruction[] {
  const ast = parseDockerfile(text);
  const instructions = parseInstructions(ast);
  splitStages(instructions);
  return instructions;
}

for (const name of caseNames("parse/")) {
  Deno.test(`parseInstructions() matches golden case ${name}`, () => {
    const folder = new URL(`parse/${name}/`, TESTDATA);
    const ast = parseDockerfile(Deno.readTextFileSync(new URL("Dockerfile", folder)));
    const actual = {
      escapeChar: ast.escapeChar,
      directives: ast.directives,
      warnings: ast.warnings,
      instructions: parseInstructions(ast),
    };
    // JSON drops undefined fields, as the expected file does.
    const json = JSON.stringify(actual, null, 2) + "\n";
    const expectedUrl = new URL("expected.json", folder);
    if (UPDATE_GOLDEN) Deno.writeTextFileSync(expectedUrl, json);

    assertEquals(JSON.parse(json), JSON.parse(Deno.readTextFileSync(expectedUrl)));
  });
}

for (const name of caseNames("parse-errors/")) {
  Deno.test(`parseDockerfile() rejects case ${name}`, () => {
    const folder = new URL(`parse-errors/${name}/`, TESTDATA);
    const text = Deno.readTextFileSync(new URL("Dockerfile", folder));
    const expected = Deno.readTextFileSync(new URL("error.txt", folder)).trimEnd();

    const error = assertThrows(() => parseAll(text), DockerfileSyntaxError);
    assertEquals(error.message, expected);
    assertEquals(error.code, "DOCKERFILE_SYNTAX");
  });
}

Deno.test("parseInstructions() names the file given to the parser", () => {
  const ast = parseDockerfile("FROM a\nRUNN x\n", { file: "build/Containerfile" });

  const error = assertThrows(() => parseInstructions(ast), DockerfileSyntaxError);

  assertEquals(error.message, 'build/Containerfile:2: unknown instruction "RUNN"');
  assertEquals(error.data, { file: "build/Containerfile", line: 2 });
});

Deno.test("parseInstructions() records file and lines on each instruction", () => {
  const ast = parseDockerfile("FROM a\n\nRUN one \\\n  two\n", { file: "ctx/Dockerfile" });

  const [from, run] = parseInstructions(ast);

  assertEquals([from.file, from.startLine, from.endLine], ["ctx/Dockerfile", 1, 1]);
  assertEquals([run.file, run.startLine, run.endLine], ["ctx/Dockerfile", 3, 4]);
  assertEquals(run.original, "RUN one   two");
});

Deno.test("parseInstructions() covers every keyword", () => {
  const text = [
    "ARG V",
    "FROM a",
    "RUN r",
    "CMD c",
    "ENTRYPOINT e",
    'SHELL ["sh", "-c"]',
    "COPY a b",
    "ADD a b",
    "ENV K=v",
    "LABEL k=v",
    "EXPOSE 80",
    "VOLUME /v",
    "WORKDIR /w",
    "USER u",
    "STOPSIGNAL SIGINT",
    "HEALTHCHECK NONE",
    "ONBUILD RUN x",
    "MAINTAINER m",
  ].join("\n");

  const keywords = parseInstructions(parseDockerfile(text)).map((instruction) =>
    instruction.keyword
  );

  assertEquals([...keywords].sort(), [...INSTRUCTION_KEYWORDS].sort());
});

Deno.test("splitStages() separates global ARGs and stages", () => {
  const text = [
    "ARG BASE=alpine",
    "ARG TAG",
    "FROM $BASE AS deps",
    "ARG TAG",
    "RUN fetch",
    "FROM deps AS Build",
    "RUN make",
    "FROM scratch",
    "COPY --from=build /out /",
  ].join("\n");

  const { globalArgs, stages } = splitStages(parseInstructions(parseDockerfile(text)));

  assertEquals(globalArgs.map((arg) => arg.args[0].name), ["BASE", "TAG"]);
  assertEquals(stages.map((stage) => [stage.index, stage.name]), [[0, "deps"], [1, "build"], [
    2,
    undefined,
  ]]);
  assertEquals(stages[0].commands.map((command) => command.keyword), ["ARG", "RUN"]);
  assertEquals(stages[1].from.image, "deps");
  assertEquals(stages[2].commands.length, 1);
});

Deno.test("splitStages() reports the line of an instruction before FROM", () => {
  const instructions = parseInstructions(parseDockerfile("ARG X\n\nENV A=b\nFROM a\n"));

  const error = assertThrows(() => splitStages(instructions), DockerfileSyntaxError);

  assertEquals(
    error.message,
    "Dockerfile:3: ENV before the first FROM: only ARG may come before FROM",
  );
});

Deno.test("splitStages() keeps stage names case-insensitive", () => {
  const instructions = parseInstructions(parseDockerfile("FROM a AS Build\nFROM b AS BUILD\n"));

  const error = assertThrows(() => splitStages(instructions), DockerfileSyntaxError);

  assertEquals(error.message, 'Dockerfile:2: duplicate stage name "build": already used on line 1');
});

Deno.test("parseInstructions() gives ONBUILD a typed trigger and its expression", () => {
  const text = "FROM a\nONBUILD COPY --from=x <<-EOF /dst\n\tbody\n\tEOF\n";

  const onbuild = parseInstructions(parseDockerfile(text))[1];

  assert(onbuild.keyword === "ONBUILD");
  assert(onbuild.trigger.keyword === "COPY");
  assertEquals(onbuild.trigger.from, "x");
  assertEquals(onbuild.trigger.heredocSources.map((heredoc) => heredoc.content), ["body\n"]);
  assertEquals(onbuild.expression, "COPY --from=x <<-EOF /dst\nbody\nEOF");
  assertEquals([onbuild.startLine, onbuild.endLine], [2, 4]);
});

Deno.test("parseInstructions() expression of ONBUILD parses back to the same trigger", () => {
  const text = "FROM a\nONBUILD RUN <<EOF\necho $X\nEOF\n";
  const onbuild = parseInstructions(parseDockerfile(text))[1];
  assert(onbuild.keyword === "ONBUILD");

  const reparsed = parseInstructions(parseDockerfile(onbuild.expression))[0];

  assert(reparsed.keyword === "RUN");
  assert(onbuild.trigger.keyword === "RUN");
  assertEquals(reparsed.heredocs, onbuild.trigger.heredocs);
  assertEquals(reparsed.command, onbuild.trigger.command);
});
