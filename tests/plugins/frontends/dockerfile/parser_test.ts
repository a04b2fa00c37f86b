/**
 * Tests for the Dockerfile parser's nodes: the layout details the typed
 * instructions do not show, such as raw flags, comments and heredoc bodies.
 *
 * @module
 */

import { assertEquals, assertThrows } from "../../../_assert.ts";
import { DockerfileSyntaxError } from "../../../../core/errors.ts";
import { parseDockerfile } from "../../../../plugins/frontends/dockerfile/parser.ts";

Deno.test("parseDockerfile() keeps flags raw and in order", () => {
  const text =
    'FROM a\nRUN --mount=type=cache,target=/x --mount=type=bind,source="a b" --link --network=none echo\n';

  const node = parseDockerfile(text).nodes[1];

  assertEquals(node.flags, [
    { name: "mount", value: "type=cache,target=/x" },
    { name: "mount", value: "type=bind,source=a b" },
    { name: "link", value: undefined },
    { name: "network", value: "none" },
  ]);
  assertEquals(node.args, "echo");
});

Deno.test("parseDockerfile() stops reading flags at a lone --", () => {
  const node = parseDockerfile("RUN --network=host -- --flag-like-arg\n").nodes[0];

  assertEquals(node.flags, [{ name: "network", value: "host" }]);
  assertEquals(node.args, "--flag-like-arg");
});

Deno.test("parseDockerfile() keeps the keyword as written", () => {
  const nodes = parseDockerfile("from a\nRuN b\n").nodes;

  assertEquals(nodes.map((node) => node.keyword), ["from", "RuN"]);
});

Deno.test("parseDockerfile() detects JSON only for keywords with an exec form", () => {
  const text =
    'ENV ["a"]\nLABEL ["b"]\nCMD ["c"]\nVOLUME ["/v"]\nHEALTHCHECK CMD ["d"]\nRUN [oops\n';

  const json = parseDockerfile(text).nodes.map((node) => node.json);

  assertEquals(json, [undefined, undefined, ["c"], ["/v"], ["d"], undefined]);
});

Deno.test("parseDockerfile() attaches comments to the next instruction", () => {
  const text = [
    "# syntax=docker/dockerfile:1",
    "# first block",
    "#",
    "# kept one",
    "",
    "#   kept two   ",
    "FROM a",
    "RUN b",
  ].join("\n");

  const nodes = parseDockerfile(text).nodes;

  assertEquals(nodes[0].comments, ["kept one", "kept two"]);
  assertEquals(nodes[1].comments, []);
});

Deno.test("parseDockerfile() skips comment lines inside a continued instruction", () => {
  const text = "RUN one \\\n# not part of the command\n  two\n";

  const node = parseDockerfile(text).nodes[0];

  assertEquals(node.args, "one   two");
  assertEquals([node.startLine, node.endLine], [1, 3]);
  assertEquals(node.comments, []);
});

Deno.test("parseDockerfile() warns about an empty continuation line", () => {
  const ast = parseDockerfile("FROM a\nRUN one \\\n\n  two\n");

  assertEquals(ast.nodes[1].args, "one   two");
  assertEquals(ast.warnings, [{
    line: 3,
    message: "empty continuation line in the instruction on line 2",
  }]);
});

Deno.test("parseDockerfile() ends a continuation at the end of the file", () => {
  const ast = parseDockerfile("FROM a\nRUN one \\");

  assertEquals(ast.nodes[1].args, "one");
  assertEquals(ast.nodes[1].endLine, 2);
});

Deno.test("parseDockerfile() reads directives with leading blanks and any case", () => {
  const ast = parseDockerfile("  #  ESCAPE = `  \n# Syntax=a/b:1\nFROM c\n");

  assertEquals(ast.directives, [
    { name: "escape", value: "`", line: 1 },
    { name: "syntax", value: "a/b:1", line: 2 },
  ]);
  assertEquals(ast.escapeChar, "`");
});

Deno.test("parseDockerfile() ends the directive block at an unknown directive", () => {
  const ast = parseDockerfile("# foo=bar\n# escape=`\nFROM a\nRUN x \\\n  y\n");

  assertEquals(ast.directives, []);
  assertEquals(ast.escapeChar, "\\");
  assertEquals(ast.nodes[0].comments, ["foo=bar", "escape=`"]);
  assertEquals(ast.nodes[1].args, "x   y");
});

Deno.test("parseDockerfile() continues lines with a backtick after escape=`", () => {
  const ast = parseDockerfile("# escape=`\nFROM a\nRUN echo C:\\ `\n  done\nRUN echo \\\n");

  assertEquals(ast.nodes.map((node) => node.args), ["a", "echo C:\\   done", "echo \\"]);
});

Deno.test("parseDockerfile() reads heredoc bodies and line numbers", () => {
  const text = "FROM a\nRUN cat <<A <<-'B'\nline a\nA\n\tline b\n\tB\nRUN next\n";

  const nodes = parseDockerfile(text).nodes;

  assertEquals(nodes[1].heredocs, [
    { name: "A", expand: true, chomp: false, fileDescriptor: 0, content: "line a\n" },
    { name: "B", expand: false, chomp: true, fileDescriptor: 0, content: "line b\n" },
  ]);
  assertEquals([nodes[1].startLine, nodes[1].endLine], [2, 6]);
  assertEquals(nodes[2].startLine, 7);
});

Deno.test("parseDockerfile() reads a heredoc after a continued line", () => {
  const text = "COPY --chmod=600 \\\n  <<EOF /etc/conf\nkey=value\nEOF\n";

  const node = parseDockerfile(text).nodes[0];

  assertEquals(node.heredocs.map((heredoc) => heredoc.content), ["key=value\n"]);
  assertEquals([node.startLine, node.endLine], [1, 4]);
});

Deno.test("parseDockerfile() treats a partly quoted delimiter as no expansion", () => {
  const names = ['<<"EOF"', "<<'EOF'", '<<E"O"F', "<<EOF"].map((marker) => {
    const heredoc = parseDockerfile(`RUN ${marker}\nx\nEOF\n`).nodes[0].heredocs[0];
    return [heredoc.name, heredoc.expand];
  });

  assertEquals(names, [["EOF", false], ["EOF", false], ["EOF", false], ["EOF", true]]);
});

Deno.test("parseDockerfile() keeps heredoc bodies literal", () => {
  const text = "RUN <<EOF\n# not a comment \\\n  RUN not an instruction\n\nEOF\n";

  const ast = parseDockerfile(text);

  assertEquals(ast.nodes.length, 1);
  assertEquals(
    ast.nodes[0].heredocs[0].content,
    "# not a comment \\\n  RUN not an instruction\n\n",
  );
});

Deno.test("parseDockerfile() needs the exact delimiter to end a heredoc", () => {
  const text = "RUN <<EOF\n EOF\nEOF \nEOF\n";

  const heredoc = parseDockerfile(text).nodes[0].heredocs[0];

  assertEquals(heredoc.content, " EOF\nEOF \n");
});

Deno.test("parseDockerfile() looks for heredocs only in RUN, COPY and ADD", () => {
  const text = "FROM a\nENV X=<<EOF\nLABEL y=<<EOF\nRUN true\n";

  const nodes = parseDockerfile(text).nodes;

  assertEquals(nodes.map((node) => node.keyword), ["FROM", "ENV", "LABEL", "RUN"]);
  assertEquals(nodes.map((node) => node.heredocs.length), [0, 0, 0, 0]);
});

Deno.test("parseDockerfile() gives ONBUILD heredocs to the trigger", () => {
  const node = parseDockerfile("ONBUILD RUN <<EOF\nhi\nEOF\n").nodes[0];

  assertEquals(node.heredocs, []);
  assertEquals(node.trigger?.keyword, "RUN");
  assertEquals(node.trigger?.heredocs.map((heredoc) => heredoc.content), ["hi\n"]);
  assertEquals([node.trigger?.startLine, node.trigger?.endLine], [1, 3]);
});

Deno.test("parseDockerfile() keeps CRLF in heredoc bodies only", () => {
  const ast = parseDockerfile("FROM a\r\nRUN <<EOF\r\nx\r\nEOF\r\nCMD b\r\n");

  assertEquals(ast.nodes.map((node) => node.args), ["a", "<<EOF", "b"]);
  assertEquals(ast.nodes[1].heredocs[0].content, "x\r\n");
});

Deno.test("parseDockerfile() names the file in errors", () => {
  const error = assertThrows(
    () => parseDockerfile("FROM a\nRUN <<EOF\n", { file: "sub/Dockerfile.dev" }),
    DockerfileSyntaxError,
  );

  assertEquals(error.message, 'sub/Dockerfile.dev:2: unterminated heredoc "EOF"');
  assertEquals(error.data, { file: "sub/Dockerfile.dev", line: 2 });
});

Deno.test("parseDockerfile() records the file name", () => {
  assertEquals(parseDockerfile("FROM a").file, "Dockerfile");
  assertEquals(parseDockerfile("FROM a", { file: "x/Containerfile" }).file, "x/Containerfile");
});
