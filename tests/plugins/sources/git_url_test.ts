import { InvalidInputError } from "../../../core/errors.ts";
import { closeMatches, matchRef, type RemoteRef } from "../../../plugins/sources/_git_refs.ts";
import { parseGitmodules, submoduleSource } from "../../../plugins/sources/_git_submodules.ts";
import {
  isGitUrl,
  parseGitSource,
  redactUrl,
  redactUrls,
  splitGitUrl,
} from "../../../plugins/sources/_git_url.ts";
import { gitContextIdentifier, isGitContext } from "../../../core/cli/git_context.ts";
import { assertEquals, assertThrows } from "../../_assert.ts";

Deno.test("isGitUrl() follows BuildKit's rules", () => {
  const cases: Array<[string, boolean]> = [
    ["https://github.com/moby/buildkit.git", true],
    ["https://github.com/moby/buildkit.git#v0.12:frontend", true],
    ["http://127.0.0.1:8080/repo.git/", true],
    ["git://host/repo", true],
    ["ssh://git@host/repo.git", true],
    ["git@github.com:moby/buildkit.git", true],
    ["github.com/moby/buildkit", true],
    ["https://example.com/archive.tar.gz", false],
    ["https://example.com/file.git.txt", false],
    ["src/", false],
    ["repo.git", false],
  ];
  for (const [text, expected] of cases) assertEquals(isGitUrl(text), expected, text);
});

Deno.test("isGitContext() follows docker build's rules", () => {
  assertEquals(isGitContext("https://host/repo.git#main:app"), true);
  assertEquals(isGitContext("git@host:repo.git"), true);
  assertEquals(isGitContext("github.com/org/repo"), true);
  assertEquals(isGitContext("."), false);
  assertEquals(isGitContext("/src/repo.git.d"), false);
  assertEquals(gitContextIdentifier("https://host/repo.git#v1"), "git://https://host/repo.git#v1");
});

Deno.test("splitGitUrl() splits the ref and subdir of the fragment", () => {
  assertEquals(splitGitUrl("https://h/r.git"), { url: "https://h/r.git" });
  assertEquals(splitGitUrl("https://h/r.git#v1"), {
    url: "https://h/r.git",
    ref: "v1",
    subdir: undefined,
  });
  assertEquals(splitGitUrl("https://h/r.git#v1:a/b"), {
    url: "https://h/r.git",
    ref: "v1",
    subdir: "a/b",
  });
  assertEquals(splitGitUrl("https://h/r.git#:docs"), {
    url: "https://h/r.git",
    ref: undefined,
    subdir: "docs",
  });
});

Deno.test("parseGitSource() separates credentials and settles options", () => {
  const source = parseGitSource(
    "HTTPS://alice:p%40ss@Example.COM:443/org/repo.git/#dev:./app/",
    {},
  );

  assertEquals(source, {
    url: "https://example.com/org/repo.git",
    userinfo: { username: "alice", password: "p@ss" },
    ref: "dev",
    subdir: "app",
    keepGitDir: false,
    submodules: false,
  });
});

Deno.test("parseGitSource() lets attributes win over the fragment", () => {
  const source = parseGitSource("https://h/r.git#dev:app", {
    ref: "main",
    subdir: "lib",
    "keep-git-dir": "true",
    submodules: "true",
  });

  assertEquals(source.ref, "main");
  assertEquals(source.subdir, "lib");
  // A subdirectory has no .git of its own, as in BuildKit.
  assertEquals(source.keepGitDir, false);
  assertEquals(source.submodules, true);
  assertEquals(parseGitSource("h/r.git", { "keep-git-dir": "true" }).keepGitDir, true);
  assertEquals(parseGitSource("h/r.git", {}).url, "https://h/r.git");
  assertEquals(parseGitSource("h/r.git", {}).ref, "HEAD");
});

Deno.test("parseGitSource() rejects an escaping subdir and an option-like ref", () => {
  assertThrows(() => parseGitSource("https://h/r.git#main:../x", {}), InvalidInputError);
  assertThrows(
    () => parseGitSource("https://h/r.git", { ref: "--upload-pack=x" }),
    InvalidInputError,
  );
  assertThrows(() => parseGitSource("ftp://h/r.git", {}), InvalidInputError);
});

Deno.test("redactUrl() hides the userinfo of URLs", () => {
  assertEquals(redactUrl("https://user:token@h/r.git#v1"), "https://***@h/r.git#v1");
  assertEquals(redactUrl("https://h/r.git"), "https://h/r.git");
  assertEquals(
    redactUrls("ADD https://a:b@h/r.git http://c@d/e.git /src"),
    "ADD https://***@h/r.git http://***@d/e.git /src",
  );
});

const REFS: RemoteRef[] = [
  { ref: "HEAD", oid: "a".repeat(40), target: "refs/heads/main" },
  { ref: "refs/heads/main", oid: "a".repeat(40) },
  { ref: "refs/heads/v1", oid: "b".repeat(40) },
  { ref: "refs/tags/v1", oid: "c".repeat(40), peeled: "d".repeat(40) },
  { ref: "refs/heads/release/2.0", oid: "e".repeat(40) },
  { ref: "refs/pull/7/head", oid: "f".repeat(40) },
];

Deno.test("matchRef() uses git's lookup order and peels tags", () => {
  assertEquals(matchRef(REFS, "HEAD"), { commit: "a".repeat(40), ref: "HEAD" });
  // A tag wins over a branch of the same name, as in `git rev-parse`.
  assertEquals(matchRef(REFS, "v1"), { commit: "d".repeat(40), ref: "refs/tags/v1" });
  assertEquals(matchRef(REFS, "heads/v1"), { commit: "b".repeat(40), ref: "refs/heads/v1" });
  assertEquals(matchRef(REFS, "refs/heads/v1"), { commit: "b".repeat(40), ref: "refs/heads/v1" });
  assertEquals(matchRef(REFS, "pull/7/head"), { commit: "f".repeat(40), ref: "refs/pull/7/head" });
  assertEquals(matchRef(REFS, "nope"), undefined);
});

Deno.test("closeMatches() ranks similar branch and tag names", () => {
  assertEquals(closeMatches(REFS, "mian"), ["main"]);
  assertEquals(closeMatches(REFS, "release"), ["release/2.0"]);
  assertEquals(closeMatches(REFS, "zzzzzzzz"), []);
});

Deno.test("parseGitmodules() reads paths and URLs", () => {
  const modules = parseGitmodules(
    [
      "# vendored code",
      '[submodule "lib one"]',
      "\tpath = vendor/lib",
      '\turl = "../lib.git"',
      "[core]",
      "\tpath = ignored",
      '[submodule "incomplete"]',
      "\tpath = nothing",
    ].join("\n"),
  );

  assertEquals([...modules.values()], [{ name: "lib one", path: "vendor/lib", url: "../lib.git" }]);
});

Deno.test("submoduleSource() resolves a relative URL with the parent's credentials", () => {
  const parent = parseGitSource("https://u:t@h/org/app.git", {});
  const module = { name: "lib", path: "vendor/lib", url: "../lib.git" };

  const child = submoduleSource(parent, module, "1".repeat(40));
  const elsewhere = submoduleSource(
    parent,
    { ...module, url: "https://other/lib.git" },
    "1".repeat(40),
  );

  assertEquals(child.url, "https://h/org/lib.git");
  assertEquals(child.userinfo, { username: "u", password: "t" });
  assertEquals(child.ref, "1".repeat(40));
  assertEquals(elsewhere.userinfo, undefined);
});
