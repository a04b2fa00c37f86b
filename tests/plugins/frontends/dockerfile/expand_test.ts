/**
 * Table tests for variable expansion and word splitting.
 *
 * @module
 */

import { assertEquals, assertThrows } from "../../../_assert.ts";
import { InvalidInputError } from "../../../../core/errors.ts";
import {
  type ExpandOptions,
  expandWord,
  expandWords,
} from "../../../../plugins/frontends/dockerfile/expand.ts";

const VARIABLES: Record<string, string> = {
  X: "x",
  A: "a b",
  EMPTY: "",
  PATHV: "/usr/local/bin",
  FILE: "archive.tar.gz",
  "ÄB": "umlaut",
};

function lookup(name: string): string | undefined {
  return Object.hasOwn(VARIABLES, name) ? VARIABLES[name] : undefined;
}

// [input, expandWord result, expandWords result]
const CASES: [string, string, string[]][] = [
  ["plain", "plain", ["plain"]],
  ["$X", "x", ["x"]],
  ["${X}", "x", ["x"]],
  ["pre${X}post", "prexpost", ["prexpost"]],
  ["$X$X", "xx", ["xx"]],
  ["${X}_Y", "x_Y", ["x_Y"]],
  ["$X_Y", "", []],
  ["${ÄB}", "umlaut", ["umlaut"]],
  ["$UNSET", "", []],
  ["a$UNSET b", "a b", ["a", "b"]],
  // Defaults and alternatives, with and without the colon.
  ["${UNSET:-def}", "def", ["def"]],
  ["${EMPTY:-def}", "def", ["def"]],
  ["${EMPTY-def}", "", []],
  ["${UNSET-def}", "def", ["def"]],
  ["${X:-def}", "x", ["x"]],
  ["${X:+alt}", "alt", ["alt"]],
  ["${EMPTY:+alt}", "", []],
  ["${EMPTY+alt}", "alt", ["alt"]],
  ["${UNSET+alt}", "", []],
  ["${X:?unused}", "x", ["x"]],
  ["${EMPTY?}", "", []],
  // Nested substitutions.
  ["${UNSET:-${X}}", "x", ["x"]],
  ["${UNSET:-${ALSO_UNSET:-deep}}", "deep", ["deep"]],
  ["${X:+${A}}", "a b", ["a", "b"]],
  ["${UNSET:-$X-suffix}", "x-suffix", ["x-suffix"]],
  // A value splits into words unless quoted; so does a default, even a quoted one.
  ["$A", "a b", ["a", "b"]],
  ['"$A"', "a b", ["a b"]],
  ['"$A" c', "a b c", ["a b", "c"]],
  ["${UNSET:-a b}", "a b", ["a", "b"]],
  ['${UNSET:-"a b"}', "a b", ["a", "b"]],
  // Quotes.
  ["'$A'", "$A", ["$A"]],
  ["a'b c'd", "ab cd", ["ab cd"]],
  ['"it\'s"', "it's", ["it's"]],
  ["'say \"hi\"'", 'say "hi"', ['say "hi"']],
  ['""', "", []],
  ['"" x', " x", ["x"]],
  ["a '' b", "a  b", ["a", "b"]],
  // Escapes.
  ["\\$X", "$X", ["$X"]],
  ["\\\\$X", "\\x", ["\\x"]],
  ["a\\ b", "a b", ["a b"]],
  ["a\\", "a", ["a"]],
  ["\\'$X\\'", "'x'", ["'x'"]],
  ['"a\\"b"', 'a"b', ['a"b']],
  ['"a\\b"', "a\\b", ["a\\b"]],
  ['"\\$X"', "$X", ["$X"]],
  ['"\\\\"', "\\", ["\\"]],
  ["'a\\b'", "a\\b", ["a\\b"]],
  // A `$` that starts no name stays literal.
  ["$", "$", ["$"]],
  ["a$", "a$", ["a$"]],
  ["$ b", "$ b", ["$", "b"]],
  ["$/x", "$/x", ["$/x"]],
  ["${X}}", "x}", ["x}"]],
  // Positional and special parameters are names that are normally unset.
  ["$1x", "x", ["x"]],
  ["$@", "", []],
  // Pattern removal: `#` and `%` shortest, doubled longest.
  ["${PATHV#*/}", "usr/local/bin", ["usr/local/bin"]],
  ["${PATHV##*/}", "bin", ["bin"]],
  ["${FILE%.*}", "archive.tar", ["archive.tar"]],
  ["${FILE%%.*}", "archive", ["archive"]],
  ["${FILE#archive}", ".tar.gz", [".tar.gz"]],
  ["${FILE%.zip}", "archive.tar.gz", ["archive.tar.gz"]],
  ["${FILE#?}", "rchive.tar.gz", ["rchive.tar.gz"]],
  ["${UNSET#x}", "", []],
  // Replacement: `/` first match, `//` every match.
  ["${FILE/tar/zip}", "archive.zip.gz", ["archive.zip.gz"]],
  ["${PATHV/\\//:}", ":usr/local/bin", [":usr/local/bin"]],
  ["${PATHV//\\//:}", ":usr:local:bin", [":usr:local:bin"]],
  ["${A// /_}", "a_b", ["a_b"]],
  ["${FILE/a*./X}", "Xgz", ["Xgz"]],
  // `<<` and the blanks after it stay one word, for heredoc markers.
  ["cat << EOF", "cat << EOF", ["cat", "<< EOF"]],
  ["a<b", "a<b", ["a<b"]],
];

for (const [input, word, words] of CASES) {
  Deno.test(`expandWord() and expandWords() handle ${input}`, () => {
    assertEquals(expandWord(input, lookup), word);
    assertEquals(expandWords(input, lookup), words);
  });
}

// [input, options, expandWord result]
const OPTION_CASES: [string, ExpandOptions, string][] = [
  ["`$X \\$X", { escapeChar: "`" }, "$X \\x"],
  ['"a`"b"', { escapeChar: "`" }, 'a"b'],
  ["C:\\dir\\$X", { escapeChar: "`" }, "C:\\dir\\x"],
  [
    "$UNSET ${UNSET} ${UNSET:-d} ${UNSET#p} $X",
    { keepUnset: true },
    "$UNSET ${UNSET} ${UNSET:-d} ${UNSET#p} x",
  ],
  ["${UNSET:?not checked}", { keepUnset: true }, "${UNSET:?not checked}"],
  ["'a' \"$X\"", { keepQuotes: true }, "'a' \"x\""],
  ["'$X' \"$X\"", { processQuotes: false }, "'x' \"x\""],
  ["it's $X", { processQuotes: false }, "it's x"],
  ["a\\ b \\$X", { keepEscapes: true }, "a\\ b \\$X"],
];

for (const [input, options, expected] of OPTION_CASES) {
  Deno.test(`expandWord() handles ${input} with ${JSON.stringify(options)}`, () => {
    assertEquals(expandWord(input, lookup, options), expected);
  });
}

// [input, message after the `failed to expand "<input>": ` prefix]
const ERROR_CASES: [string, string][] = [
  ["${UNSET:?}", "UNSET: is not allowed to be unset"],
  ["${EMPTY:?}", "EMPTY: is not allowed to be empty"],
  ["${UNSET?}", "UNSET: is not allowed to be unset"],
  ["${UNSET:?set UNSET first}", "UNSET: set UNSET first"],
  ["${EMPTY:?need $X}", "EMPTY: need x"],
  ["a ${UNSET?custom message} b", "UNSET: custom message"],
  ["${X", 'missing "}"'],
  ["${", 'missing "}"'],
  ["${X:-abc", 'missing "}"'],
  ["${}", "bad substitution"],
  ["${:x}", "bad substitution"],
  ["${{X}}", "bad substitution"],
  ["${X:=y}", 'unsupported modifier ":=" in substitution'],
  ["${X^^}", 'unsupported modifier "^" in substitution'],
  ["${X:#y}", 'unsupported modifier ":#" in substitution'],
  ["${X/a}", 'missing "/"'],
  ["'abc", "unterminated single quote"],
  ['"abc', "unterminated double quote"],
  ["${UNSET:-'a}", "unterminated single quote"],
  ["${PATHV#\\a}", 'invalid pattern "\\\\a" in substitution: invalid escape "\\a"'],
];

for (const [input, reason] of ERROR_CASES) {
  Deno.test(`expandWord() rejects ${input}`, () => {
    const error = assertThrows(() => expandWord(input, lookup), InvalidInputError);

    assertEquals(error.message, `failed to expand ${JSON.stringify(input)}: ${reason}`);
    assertEquals(error.data.text, input);
  });
}

Deno.test("expandWord() names the variable that failed ${VAR:?}", () => {
  const error = assertThrows(() => expandWord("${NEEDED:?}", lookup), InvalidInputError);

  assertEquals(error.data.variable, "NEEDED");
});

Deno.test("expandWords() fails like expandWord()", () => {
  assertThrows(() => expandWords("a ${UNSET:?}", lookup), InvalidInputError, "UNSET");
});

Deno.test("expandWord() asks the lookup only for referenced names", () => {
  const requested: string[] = [];

  expandWord("$A ${B:-$C} '$D' \\$E", (name) => {
    requested.push(name);
    return undefined;
  });

  assertEquals(requested, ["A", "C", "B"]);
});
