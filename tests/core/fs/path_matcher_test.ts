/**
 * Table tests for .dockerignore parsing and path matching.
 *
 * @module
 */

import { assert, assertEquals, assertThrows } from "../../_assert.ts";
import { InvalidInputError } from "../../../core/errors.ts";
import { createPathMatcher, parseDockerignore } from "../../../core/fs/path_matcher.ts";

interface MatchCase {
  name: string;
  /** .dockerignore content. */
  file: string;
  /** Paths and whether they are excluded. */
  paths: [string, boolean][];
  /** Directories and whether a walk may skip their content. */
  skip?: [string, boolean][];
}

const CASES: MatchCase[] = [
  {
    name: "a name matches at the root only",
    file: "node_modules",
    paths: [["node_modules", true], ["node_modules/pkg/index.js", true], [
      "src/node_modules",
      false,
    ], [
      "node_modules2",
      false,
    ]],
    skip: [["node_modules", true], ["node_modules/pkg", true], ["src", false]],
  },
  {
    name: "* stays within one directory",
    file: "*.log",
    paths: [["a.log", true], ["dir/a.log", false], ["a.log/inner", true], [".log", true]],
  },
  {
    name: "**/ matches at any depth, including the root",
    file: "**/*.log\n**/temp",
    paths: [["a.log", true], ["x/y/a.log", true], ["temp", true], ["a/temp", true], [
      "a/b/temp/c",
      true,
    ], [
      "a/temp2",
      false,
    ]],
  },
  {
    name: "** in the middle matches zero or more directories",
    file: "a/**/b",
    paths: [["a/b", true], ["a/x/b", true], ["a/x/y/b", true], ["a/xb", false], ["b", false]],
  },
  {
    name: "trailing ** matches what is below but not the directory",
    file: "docs/**",
    paths: [["docs", false], ["docs/a", true], ["docs/a/b", true], ["docsx", false]],
    skip: [["docs", false], ["docs/a", true]],
  },
  {
    name: "**name matches any path ending in name",
    file: "**foo",
    paths: [["foo", true], ["barfoo", true], ["a/foo", true], ["foobar", false]],
  },
  {
    name: "** alone matches everything",
    file: "**",
    paths: [["a", true], ["a/b/c", true]],
  },
  {
    name: "a trailing slash is removed",
    file: "build/\ncache//",
    paths: [["build", true], ["build/out.o", true], ["cache/x", true]],
  },
  {
    name: "a leading slash is removed",
    file: "/secret.txt\n/",
    paths: [["secret.txt", true], ["a/secret.txt", false], ["other", false]],
  },
  {
    name: "patterns are cleaned like paths",
    file: "a/../b\n./c\nd/./e\n../outside\nf/g/..",
    paths: [
      ["b", true],
      ["a", false],
      ["c", true],
      ["d/e", true],
      ["outside", false],
      ["f", true],
      [
        "f/g",
        true,
      ],
    ],
  },
  {
    name: "a re-include inside an excluded directory",
    file: "logs\n!logs/keep.txt",
    paths: [["logs", true], ["logs/today.txt", true], ["logs/keep.txt", false], [
      "logs/keep.txt/x",
      false,
    ]],
    skip: [["logs", false], ["logs/archive", true]],
  },
  {
    name: "the last matching pattern wins",
    file: "!a.txt\n*.txt\n!b.txt",
    paths: [["a.txt", true], ["b.txt", false], ["c.txt", true]],
  },
  {
    name: "exclude, re-include, exclude again",
    file: "*\n!src\nsrc/*.tmp\n!src/keep.tmp",
    paths: [["README", true], ["src", false], ["src/a.go", false], ["src/b.tmp", true], [
      "src/keep.tmp",
      false,
    ]],
    skip: [["docs", true], ["src", false]],
  },
  {
    name: "keep only Go files",
    file: "**\n!**/*.go",
    paths: [["main.go", false], ["x/y/z.go", false], ["x/y/README", true]],
    skip: [["x", false], ["x/y", false]],
  },
  {
    name: "a later plain pattern closes an earlier re-include",
    file: "!vendor/keep\nvendor",
    paths: [["vendor/keep", true], ["vendor/other", true]],
    skip: [["vendor", true]],
  },
  {
    name: "a re-include with a wildcard directory",
    file: "vendor\n!*/keep\n!other/x",
    paths: [["vendor/keep", false], ["vendor/drop", true]],
    skip: [["vendor", false], ["vendor/sub", true]],
  },
  {
    name: "a **/name re-include applies in every excluded directory",
    file: "cache\n!**/keep",
    paths: [["cache/x", true], ["cache/a/keep", false], ["keep", false]],
    skip: [["cache", false], ["cache/a", false]],
  },
  {
    name: "a re-include below ** cannot be ruled out",
    file: "build\n!build/**/keep.txt",
    paths: [["build/keep.txt", false], ["build/a/b/keep.txt", false], ["build/a/drop.txt", true]],
    skip: [["build", false], ["build/a", false]],
  },
  {
    name: "character classes and ranges",
    file: "file[0-9].txt\n[^a]b\n[!a]x\nv[a\\]]",
    paths: [
      ["file7.txt", true],
      ["filea.txt", false],
      ["cb", true],
      ["ab", false],
      ["!x", true],
      [
        "ax",
        true,
      ],
      ["bx", false],
      ["v]", true],
      ["va", true],
    ],
  },
  {
    name: "? matches one character but not /",
    file: "a?c\ncaf?",
    paths: [["abc", true], ["a/c", false], ["ac", false], ["café", true]],
  },
  {
    name: "a backslash makes the next character literal",
    file: "\\*.txt\na\\[b\nq\\?",
    paths: [["*.txt", true], ["x.txt", false], ["a[b", true], ["q?", true], ["qx", false]],
  },
  {
    name: "comments start in the first column only",
    file: "# comment\n  #indented\n#x",
    paths: [["#indented", true], ["#x", false], ["comment", false]],
  },
  {
    name: "white space around patterns and after ! is removed",
    file: "  spaced.txt  \n\t*.bak\n! spaced.txt\n\n",
    paths: [["spaced.txt", false], ["x.bak", true]],
  },
  {
    name: "dots are literal",
    file: "a.b\n.env",
    paths: [["a.b", true], ["axb", false], [".env", true], ["x.env", false]],
  },
  {
    name: "the context root is never excluded",
    file: "*\n.",
    paths: [[".", false], ["", false], ["/", false], ["a", true]],
    skip: [[".", false]],
  },
  {
    name: "paths are cleaned before matching",
    file: "dist",
    paths: [["./dist/app.js", true], ["/dist", true], ["src/../dist/x", true], ["dist/", true]],
  },
];

for (const testCase of CASES) {
  Deno.test(`createPathMatcher() ${testCase.name}`, () => {
    const matcher = createPathMatcher(parseDockerignore(testCase.file, ".dockerignore"));

    for (const [path, excluded] of testCase.paths) {
      assertEquals(matcher.matches(path), excluded, `matches(${JSON.stringify(path)})`);
    }
    for (const [dir, skip] of testCase.skip ?? []) {
      assertEquals(matcher.canSkipDirectory(dir), skip, `canSkipDirectory(${JSON.stringify(dir)})`);
    }
  });
}

Deno.test("parseDockerignore() returns cleaned patterns", () => {
  const text = "\ufeff# build output\r\n/dist/\r\n! ./dist/../README.md\r\n\r\n  a//b/  \n";

  assertEquals(parseDockerignore(text, ".dockerignore"), ["dist", "!README.md", "a/b"]);
});

const INVALID: [string, number, string, string][] = [
  ["ok\n[a-", 2, "[a-", "unterminated character class"],
  ["a[", 1, "a[", "unterminated character class"],
  ["x\ny\n[]a]", 3, "[]a]", 'invalid character class: unexpected "]"'],
  ["[^]", 1, "[^]", 'invalid character class: unexpected "]"'],
  ["[-a]", 1, "[-a]", 'invalid character class: unexpected "-"'],
  ["[z-a]", 1, "[z-a]", 'invalid character class range "z-a"'],
  ["abc\\", 1, "abc\\", "pattern ends with an escape character"],
  ["# c\n!", 2, "!", '"!" must be followed by a pattern'],
  ["!  ", 1, "!", '"!" must be followed by a pattern'],
];

for (const [text, line, pattern, reason] of INVALID) {
  Deno.test(`parseDockerignore() rejects ${JSON.stringify(pattern)} on line ${line}`, () => {
    const error = assertThrows(
      () => parseDockerignore(text, "ctx/.dockerignore"),
      InvalidInputError,
    );

    assertEquals(
      error.message,
      `ctx/.dockerignore:${line}: invalid pattern ${JSON.stringify(pattern)}: ${reason}`,
    );
    assertEquals(error.data, { file: "ctx/.dockerignore", line, pattern });
  });
}

Deno.test("createPathMatcher() rejects an invalid pattern by name", () => {
  const error = assertThrows(() => createPathMatcher(["ok", "bad["]), InvalidInputError);

  assertEquals(error.message, 'invalid pattern "bad[": unterminated character class');
});

Deno.test("createPathMatcher() reports its patterns and exclusions", () => {
  const matcher = createPathMatcher(["/a/", "", "  ! b/../c  "]);

  assertEquals(matcher.patterns, ["a", "!c"]);
  assertEquals(matcher.hasExclusions, true);
  assertEquals(createPathMatcher(["a"]).hasExclusions, false);
});

Deno.test("createPathMatcher() matches files and directories alike", () => {
  const matcher = createPathMatcher(["out"]);

  assertEquals(matcher.matches("out", true), matcher.matches("out", false));
});

// A small deterministic generator, so a failure can be reproduced from the seed.
function createRandom(seed: number): (limit: number) => number {
  let state = seed;
  return (limit) => {
    state = (state * 1103515245 + 12345) % 2147483648;
    // The low bits of this generator repeat quickly, so scale the high ones.
    return Math.floor((state / 2147483648) * limit);
  };
}

Deno.test("canSkipDirectory() never skips a directory with an included path below", () => {
  const random = createRandom(20240611);
  const names = ["a", "b", "ab"];
  const paths: string[] = [];
  for (const x of names) {
    paths.push(x);
    for (const y of names) {
      paths.push(`${x}/${y}`);
      for (const z of names) paths.push(`${x}/${y}/${z}`);
    }
  }
  const pieces = ["a", "b", "ab", "*", "?", "**", "a*", "[ab]", "*b"];

  for (let round = 0; round < 3000; round++) {
    const patterns = Array.from({ length: 1 + random(4) }, () => {
      const segments = Array.from({ length: 1 + random(3) }, () => pieces[random(pieces.length)]);
      return (random(2) === 0 ? "!" : "") + segments.join("/");
    });
    const matcher = createPathMatcher(patterns);

    for (const dir of paths) {
      if (!matcher.canSkipDirectory(dir)) continue;
      const below = paths.filter((path) => path.startsWith(dir + "/"));
      const included = below.filter((path) => !matcher.matches(path));
      assert(
        included.length === 0,
        `patterns ${JSON.stringify(patterns)} skip ${dir} but include ${included.join(", ")}`,
      );
    }
  }
});
