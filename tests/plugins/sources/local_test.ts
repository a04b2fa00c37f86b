import { join } from "../../../core/deps.ts";
import { InvalidInputError, NotFoundError } from "../../../core/errors.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  assertNotEquals,
  assertRejects,
  assertStringIncludes,
} from "../../_assert.ts";
import { settle, withLocalFixture, writeTree } from "./_local_fixture.ts";

Deno.test("local onResolve() gives equal pins for equal content on two paths", async () => {
  await withLocalFixture(async ({ dir, resolve }) => {
    const files = { "a.txt": "a", "src/main.go": "package main", "src/util/u.go": "package util" };
    await writeTree(join(dir, "one"), files);
    await writeTree(join(dir, "two"), files);
    // Different mtimes and inodes must not reach the pin.
    await Deno.utime(join(dir, "two/a.txt"), new Date(), new Date());

    const one = await resolve("one", {}, { one: join(dir, "one") });
    const two = await resolve("two", {}, { two: join(dir, "two") });

    assertMatch(one.pin, /^sha256:[a-f0-9]{64}$/);
    assertEquals(two.pin, one.pin);
  });
});

Deno.test("local onResolve() changes the pin when one byte changes", async () => {
  await withLocalFixture(async ({ dir, resolve }) => {
    await writeTree(join(dir, "context"), { "a.txt": "hello", "b.txt": "world" });
    await settle(dir);
    const before = await resolve("context");

    await writeTree(join(dir, "context"), { "b.txt": "worle" });
    const after = await resolve("context");

    assertNotEquals(after.pin, before.pin);
    assertEquals(after.counts.read, 1);
  });
});

Deno.test("local onResolve() changes the pin when a mode changes", async () => {
  await withLocalFixture(async ({ dir, resolve }) => {
    await writeTree(join(dir, "context"), { "run.sh": "echo hi" });
    await Deno.chmod(join(dir, "context/run.sh"), 0o644);
    const before = await resolve("context");

    await Deno.chmod(join(dir, "context/run.sh"), 0o755);
    const after = await resolve("context");

    assertNotEquals(after.pin, before.pin);
  });
});

Deno.test("local onResolve() keeps the pin when a file is touched", async () => {
  await withLocalFixture(async ({ dir, resolve }) => {
    await writeTree(join(dir, "context"), { "a.txt": "a", "b.txt": "b", "c/d.txt": "d" });
    await settle(dir);
    const first = await resolve("context");
    assertEquals(first.counts, { read: 3, files: 3, reused: 0, skipped: 0, excluded: 0 });

    await Deno.utime(join(dir, "context/b.txt"), new Date(), new Date());
    const second = await resolve("context");

    assertEquals(second.pin, first.pin);
    assertEquals(second.counts, { read: 1, files: 3, reused: 2, skipped: 0, excluded: 0 });
  });
});

Deno.test("local onResolve() reads one file of 2000 after one changes", async () => {
  await withLocalFixture(async ({ dir, resolve }) => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 2000; i++) files[`dir${i % 20}/file${i}.txt`] = `content ${i}`;
    await writeTree(join(dir, "context"), files);
    await settle(dir);
    const first = await resolve("context");
    assertEquals(first.counts.read, 2000);

    const unchanged = await resolve("context");
    assertEquals(unchanged.counts.read, 0);
    assertEquals(unchanged.counts.reused, 2000);
    assertEquals(unchanged.pin, first.pin);

    // Same size, so only the stat fields other than size can tell.
    await Deno.writeTextFile(join(dir, "context/dir7/file1007.txt"), "content X007");
    const changed = await resolve("context");

    assertEquals(changed.counts, { read: 1, files: 2000, reused: 1999, skipped: 0, excluded: 0 });
    assertNotEquals(changed.pin, first.pin);
  });
});

Deno.test("local onResolve() handles a deleted and an added file", async () => {
  await withLocalFixture(async ({ dir, resolve }) => {
    await writeTree(join(dir, "context"), { "a.txt": "a", "b.txt": "b", "c.txt": "c" });
    await settle(dir);
    await resolve("context");

    await Deno.remove(join(dir, "context/b.txt"));
    await writeTree(join(dir, "context"), { "d.txt": "d" });
    const changed = await resolve("context");
    await writeTree(join(dir, "fresh"), { "a.txt": "a", "c.txt": "c", "d.txt": "d" });
    const fresh = await resolve("fresh", {}, { fresh: join(dir, "fresh") });

    assertEquals(changed.counts, { read: 1, files: 3, reused: 2, skipped: 0, excluded: 0 });
    assertEquals(changed.pin, fresh.pin);
  });
});

Deno.test("local onResolve() keeps its record between contexts", async () => {
  await withLocalFixture(async ({ dir, resolve }) => {
    await writeTree(join(dir, "context"), { "a.txt": "a", "b.txt": "b" });
    await settle(dir);
    await resolve("context");
    const record = await Array.fromAsync(Deno.readDir(join(dir, "store/data/local")));

    const again = await resolve("context");

    assertEquals(record.filter((entry) => entry.name.endsWith(".jsonl")).length, 1);
    assertEquals(again.counts.reused, 2);
  });
});

Deno.test("local onResolve() rereads everything when the record is damaged", async () => {
  await withLocalFixture(async ({ dir, resolve }) => {
    await writeTree(join(dir, "context"), { "a.txt": "a", "b.txt": "b" });
    const first = await resolve("context");
    for await (const entry of Deno.readDir(join(dir, "store/data/local"))) {
      await Deno.writeTextFile(join(dir, "store/data/local", entry.name), "{not json");
    }

    const again = await resolve("context");

    assertEquals(again.counts.read, 2);
    assertEquals(again.pin, first.pin);
  });
});

Deno.test("local onResolve() rereads everything when a record entry is malformed", async () => {
  await withLocalFixture(async ({ dir, resolve }) => {
    await writeTree(join(dir, "context"), { "a.txt": "a", "b.txt": "b" });
    await settle(dir);
    const first = await resolve("context");
    for await (const entry of Deno.readDir(join(dir, "store/data/local"))) {
      if (!entry.name.endsWith(".jsonl")) continue;
      const path = join(dir, "store/data/local", entry.name);
      const text = await Deno.readTextFile(path);
      // Still valid JSON, but one digest of the body is no longer a digest.
      const headerEnd = text.indexOf("\n");
      const body = text.slice(headerEnd).replace(/"sha256:[0-9a-f]{64}"/, '"x"');
      assertNotEquals(body, text.slice(headerEnd));
      await Deno.writeTextFile(path, text.slice(0, headerEnd) + body);
    }

    const again = await resolve("context");

    assertEquals(again.counts.read, 2);
    assertEquals(again.pin, first.pin);
  });
});

Deno.test("local onResolve() reuses files named like object properties", async () => {
  await withLocalFixture(async ({ dir, resolve }) => {
    await writeTree(join(dir, "context"), {
      // A computed key, because a literal "__proto__" key would set the prototype instead.
      ["__proto__"]: "p",
      "constructor": "c",
      "toString": "t",
      "sub/hasOwnProperty": "h",
    });
    await settle(dir);
    const first = await resolve("context");

    const again = await resolve("context");

    assertEquals(first.counts.read, 4);
    assertEquals(again.counts, { read: 0, files: 4, reused: 4, skipped: 0, excluded: 0 });
    assertEquals(again.pin, first.pin);
  });
});

Deno.test("local onResolve() applies exclude patterns with a re-include", async () => {
  await withLocalFixture(async ({ dir, resolve }) => {
    await writeTree(join(dir, "context"), {
      "a.txt": "a",
      "debug.log": "noise",
      "keep.log": "kept",
      "build/out.bin": "binary",
      "build/deep/more.bin": "binary",
    });
    await writeTree(join(dir, "expected"), { "a.txt": "a", "keep.log": "kept" });
    const attrs = { "exclude-patterns": JSON.stringify(["*.log", "!keep.log", "build"]) };

    const filtered = await resolve("context", attrs);
    const expected = await resolve("expected", {}, { expected: join(dir, "expected") });

    assertEquals(filtered.pin, expected.pin);
    // debug.log and the build directory count as two. Nothing below build is listed or read.
    assertEquals(filtered.counts, { read: 2, files: 2, reused: 0, skipped: 0, excluded: 2 });
  });
});

Deno.test("local onResolve() descends into an excluded directory with a re-include below it", async () => {
  await withLocalFixture(async ({ dir, resolve }) => {
    await writeTree(join(dir, "context"), {
      "docs/a.md": "a",
      "docs/keep.md": "keep",
      "x.txt": "x",
    });
    await writeTree(join(dir, "expected"), { "docs/keep.md": "keep", "x.txt": "x" });
    const attrs = { "exclude-patterns": JSON.stringify(["docs", "!docs/keep.md"]) };

    const filtered = await resolve("context", attrs);
    const expected = await resolve("expected", {}, { expected: join(dir, "expected") });

    assertEquals(filtered.pin, expected.pin);
    assertEquals(filtered.counts.read, 2);
  });
});

Deno.test("local onResolve() never reads an excluded file", async () => {
  await withLocalFixture(async ({ dir, resolve }) => {
    await writeTree(join(dir, "context"), { "a.txt": "a" });
    // Reading a FIFO with no writer would block the scan; listing it would warn.
    await new Deno.Command("mkfifo", { args: [join(dir, "context/pipe")] }).output();
    const attrs = { "exclude-patterns": JSON.stringify(["pipe"]) };

    const result = await resolve("context", attrs);

    assertEquals(result.counts, { read: 1, files: 1, reused: 0, skipped: 0, excluded: 1 });
  });
});

Deno.test("local onResolve() applies include patterns", async () => {
  await withLocalFixture(async ({ dir, resolve }) => {
    await writeTree(join(dir, "context"), {
      "src/main.go": "package main",
      "src/main_test.go": "package main",
      "src/README": "readme",
      "docs/guide.md": "guide",
      "go.mod": "module x",
    });
    await writeTree(join(dir, "expected"), {
      "src/main.go": "package main",
      "src/main_test.go": "package main",
      "go.mod": "module x",
    });
    const attrs = {
      "include-patterns": JSON.stringify(["src/*.go", "go.mod"]),
      "exclude-patterns": JSON.stringify([]),
    };

    const filtered = await resolve("context", attrs);
    const expected = await resolve("expected", {}, { expected: join(dir, "expected") });

    assertEquals(filtered.pin, expected.pin);
    assertEquals(filtered.counts.read, 3);
  });
});

Deno.test("local onResolve() combines include and exclude patterns", async () => {
  await withLocalFixture(async ({ dir, resolve }) => {
    await writeTree(join(dir, "context"), {
      "src/main.go": "m",
      "src/main_test.go": "t",
      "other.go": "o",
    });
    await writeTree(join(dir, "expected"), { "src/main.go": "m" });
    const attrs = {
      "include-patterns": JSON.stringify(["src"]),
      "exclude-patterns": JSON.stringify(["**/*_test.go"]),
    };

    const filtered = await resolve("context", attrs);
    const expected = await resolve("expected", {}, { expected: join(dir, "expected") });

    assertEquals(filtered.pin, expected.pin);
  });
});

Deno.test("local onResolve() rejects patterns that are not a JSON array of strings", async () => {
  await withLocalFixture(async ({ dir, resolve }) => {
    await writeTree(join(dir, "context"), { "a.txt": "a" });

    const error = await assertRejects(
      () => resolve("context", { "exclude-patterns": "*.log" }),
      InvalidInputError,
    );

    assertEquals(
      error.message,
      `Invalid attribute "exclude-patterns" of local "context": expected a JSON array of strings, got "*.log"`,
    );
  });
});

Deno.test("local selectionDigest() of a path ignores other files", async () => {
  await withLocalFixture(async ({ dir, resolve }) => {
    await writeTree(join(dir, "context"), { "a.txt": "a", "b.txt": "b" });
    const first = await resolve("context");
    const selectA = await first.selectionDigest!(["a.txt"]);
    const selectB = await first.selectionDigest!(["b.txt"]);

    await writeTree(join(dir, "context"), { "b.txt": "B" });
    const bChanged = await resolve("context");
    await writeTree(join(dir, "context"), { "a.txt": "A" });
    const aChanged = await resolve("context");

    assertMatch(selectA, /^sha256:[a-f0-9]{64}$/);
    assertNotEquals(selectA, selectB);
    assertEquals(await bChanged.selectionDigest!(["a.txt"]), selectA);
    assertEquals(await bChanged.selectionDigest!(["/a.txt"]), selectA);
    assertEquals(await bChanged.selectionDigest!(["./a.txt"]), selectA);
    assertNotEquals(await bChanged.selectionDigest!(["b.txt"]), selectB);
    assertNotEquals(await aChanged.selectionDigest!(["a.txt"]), selectA);
  });
});

Deno.test("local selectionDigest() of a directory covers its subtree", async () => {
  await withLocalFixture(async ({ dir, resolve }) => {
    await writeTree(join(dir, "context"), { "src/a.go": "a", "src/lib/b.go": "b", "README": "r" });
    const first = await resolve("context");
    const selectSrc = await first.selectionDigest!(["src"]);

    await writeTree(join(dir, "context"), { "README": "R" });
    const readmeChanged = await resolve("context");
    await writeTree(join(dir, "context"), { "src/lib/b.go": "B" });
    const deepChanged = await resolve("context");

    assertEquals(await readmeChanged.selectionDigest!(["src/"]), selectSrc);
    assertEquals(await readmeChanged.selectionDigest!(["src"]), selectSrc);
    assertNotEquals(await deepChanged.selectionDigest!(["src"]), selectSrc);
  });
});

Deno.test("local selectionDigest() expands wildcards within one segment", async () => {
  await withLocalFixture(async ({ dir, resolve }) => {
    await writeTree(join(dir, "context"), {
      "a.txt": "a",
      "b.txt": "b",
      "notes.md": "n",
      "sub/c.txt": "c",
    });
    const first = await resolve("context");
    const selectTxt = await first.selectionDigest!(["*.txt"]);

    await writeTree(join(dir, "context"), { "notes.md": "N", "sub/c.txt": "C" });
    const otherChanged = await resolve("context");
    await writeTree(join(dir, "context"), { "b.txt": "B" });
    const matchChanged = await resolve("context");
    await writeTree(join(dir, "context"), { "[ab].txt": "odd" });
    const added = await resolve("context");

    assertEquals(await otherChanged.selectionDigest!(["*.txt"]), selectTxt);
    assertNotEquals(await matchChanged.selectionDigest!(["*.txt"]), selectTxt);
    assertNotEquals(
      await added.selectionDigest!(["*.txt"]),
      await matchChanged.selectionDigest!(["*.txt"]),
    );
    assertEquals(
      await added.selectionDigest!(["?.txt"]),
      await matchChanged.selectionDigest!(["[ab].txt"]),
    );
    assertNotEquals(
      await added.selectionDigest!(["s*/c.txt"]),
      await first.selectionDigest!(["s*/c.txt"]),
    );
  });
});

Deno.test("local selectionDigest() of a missing path is stable", async () => {
  await withLocalFixture(async ({ dir, resolve }) => {
    await writeTree(join(dir, "context"), { "a.txt": "a" });
    const first = await resolve("context");
    await writeTree(join(dir, "context"), { "a.txt": "A" });
    const second = await resolve("context");

    assertEquals(
      await second.selectionDigest!(["missing.txt"]),
      await first.selectionDigest!(["missing.txt"]),
    );
    assertEquals(await second.selectionDigest!(["*.md"]), await first.selectionDigest!(["*.md"]));
    assertNotEquals(
      await first.selectionDigest!(["missing.txt"]),
      await first.selectionDigest!(["a.txt"]),
    );
  });
});

Deno.test("local selectionDigest() follows a symlink to a selected file", async () => {
  await withLocalFixture(async ({ dir, resolve }) => {
    await writeTree(join(dir, "context"), { "real/a.txt": "a", "other.txt": "o" });
    await Deno.symlink("real", join(dir, "context/link"));
    const first = await resolve("context");
    const selected = await first.selectionDigest!(["link/a.txt"]);

    await writeTree(join(dir, "context"), { "other.txt": "O" });
    const otherChanged = await resolve("context");
    await writeTree(join(dir, "context"), { "real/a.txt": "A" });
    const targetChanged = await resolve("context");

    assertEquals(await otherChanged.selectionDigest!(["link/a.txt"]), selected);
    assertNotEquals(await targetChanged.selectionDigest!(["link/a.txt"]), selected);
  });
});

Deno.test("local onResolve() records a symlink without reading its target", async () => {
  await withLocalFixture(async ({ dir, resolve }) => {
    await writeTree(join(dir, "context"), { "a.txt": "a" });
    await Deno.symlink("/etc/passwd", join(dir, "context/passwd"));
    await Deno.symlink("/nonexistent/target", join(dir, "context/dangling"));
    const first = await resolve("context");

    await Deno.remove(join(dir, "context/passwd"));
    await Deno.symlink("/etc/group", join(dir, "context/passwd"));
    const retargeted = await resolve("context");

    assertEquals(first.counts, { read: 1, files: 1, reused: 0, skipped: 0, excluded: 0 });
    assertNotEquals(retargeted.pin, first.pin);
  });
});

Deno.test("local onResolve() skips a FIFO with a warning", async () => {
  await withLocalFixture(async ({ dir, resolve, sink }) => {
    await writeTree(join(dir, "context"), { "a.txt": "a" });
    await Deno.mkdir(join(dir, "context/run"));
    const { success } = await new Deno.Command("mkfifo", { args: [join(dir, "context/run/pipe")] })
      .output();
    assert(success, "mkfifo failed");

    const result = await resolve("context");

    assertEquals(result.counts, { read: 1, files: 1, reused: 0, skipped: 1, excluded: 0 });
    const warnings = sink.events.filter((event) => event.type === "warning").map((event) =>
      event.message
    );
    assertEquals(warnings.length, 1);
    assertStringIncludes(
      warnings[0],
      `Skipped "run/pipe" in local "context": a FIFO is not a file, directory or symlink`,
    );
  });
});

Deno.test("local onResolve() skips a name that is not UTF-8", async () => {
  await withLocalFixture(async ({ dir, resolve, sink }) => {
    await writeTree(join(dir, "context"), { "a.txt": "a" });
    // Deno cannot name this file, so the shell creates it.
    const { success } = await new Deno.Command("sh", {
      args: ["-c", `printf x > "$(printf '${join(dir, "context")}/bad\\377')"`],
    }).output();
    assert(success, "creating the file failed");

    const result = await resolve("context");

    assertEquals(result.counts, { read: 1, files: 1, reused: 0, skipped: 1, excluded: 0 });
    const warnings = sink.events.filter((event) => event.type === "warning").map((event) =>
      event.message
    );
    assertStringIncludes(
      warnings[0],
      `Skipped "bad\uFFFD" in local "context": its name is not valid UTF-8`,
    );
  });
});

Deno.test("local onResolve() rejects a name with no directory", async () => {
  await withLocalFixture(async ({ resolve }) => {
    const error = await assertRejects(() => resolve("assets"), NotFoundError);

    assertEquals(
      error.message,
      `Failed to read local "assets": no directory was given for it (use --local assets=DIR)`,
    );
  });
});

Deno.test("local onResolve() rejects a missing directory", async () => {
  await withLocalFixture(async ({ dir, resolve }) => {
    const missing = join(dir, "missing");

    const error = await assertRejects(
      () => resolve("context", {}, { context: missing }),
      NotFoundError,
    );

    assertEquals(
      error.message,
      `Failed to read local "context": directory "${missing}" does not exist`,
    );
  });
});

Deno.test("local onResolve() rejects a file given as the directory", async () => {
  await withLocalFixture(async ({ dir, resolve }) => {
    await writeTree(dir, { "file.txt": "f" });

    const error = await assertRejects(
      () => resolve("context", {}, { context: join(dir, "file.txt") }),
      InvalidInputError,
    );

    assertEquals(
      error.message,
      `Failed to read local "context": "${join(dir, "file.txt")}" is not a directory`,
    );
  });
});

Deno.test("local onResolve() names an unreadable file", async () => {
  await withLocalFixture(async ({ dir }) => {
    await writeTree(join(dir, "context"), { "ok.txt": "ok", "secret/key.pem": "secret" });
    await Deno.chmod(join(dir, "context/secret/key.pem"), 0o000);

    // Root reads any file, so the scan runs in a child process without the
    // capabilities that bypass file permissions.
    const output = await runWithoutFileCapabilities(`
      import { createPluginContext } from ${
      JSON.stringify(import.meta.resolve("../../../core/plugin/context.ts"))
    };
      import { RecordingSink } from ${
      JSON.stringify(import.meta.resolve("../../../core/progress/events.ts"))
    };
      import { openStore } from ${
      JSON.stringify(import.meta.resolve("../../../core/store/store.ts"))
    };
      import { localSource } from ${
      JSON.stringify(import.meta.resolve("../../../plugins/sources/local.ts"))
    };
      const store = await openStore(${JSON.stringify(join(dir, "store"))});
      const platform = { os: "linux", architecture: "amd64" };
      const context = createPluginContext({
        store, registry: undefined, sink: new RecordingSink(), signal: new AbortController().signal, platform,
        locals: { context: ${JSON.stringify(join(dir, "context"))} },
      });
      try {
        await localSource.onResolve({ identifier: "local://context", scheme: "local", path: "context", attrs: {}, platform }, context);
        console.log("resolved");
      } catch (error) {
        console.log(error.constructor.name + ": " + error.message);
      } finally {
        await store.close();
      }
    `);

    assertStringIncludes(
      output,
      `InvalidInputError: Failed to read local "context": cannot read "secret/key.pem": Permission denied`,
    );
  });
});

/** Runs `code` with Deno as root without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH, and returns its stdout. */
async function runWithoutFileCapabilities(code: string): Promise<string> {
  const capabilities = "-dac_override,-dac_read_search";
  const command = new Deno.Command("/usr/bin/setpriv", {
    args: [
      `--inh-caps=${capabilities}`,
      `--bounding-set=${capabilities}`,
      Deno.execPath(),
      "eval",
      "--quiet",
      code,
    ],
    stdout: "piped",
    stderr: "piped",
  });
  const { stdout, stderr } = await command.output();
  const text = new TextDecoder().decode(stdout);
  if (!text.trim()) {
    throw new Error(`child process printed nothing: ${new TextDecoder().decode(stderr)}`);
  }
  return text;
}

Deno.test("local onResolve() replaces a directory found in its record's place", async () => {
  await withLocalFixture(async ({ dir, resolve }) => {
    await writeTree(join(dir, "context"), { "a.txt": "a" });
    await settle(dir);
    const first = await resolve("context");
    for await (const entry of Deno.readDir(join(dir, "store/data/local"))) {
      if (!entry.name.endsWith(".jsonl")) continue;
      const path = join(dir, "store/data/local", entry.name);
      await Deno.remove(path);
      await Deno.mkdir(`${path}/damage`, { recursive: true });
    }

    const second = await resolve("context");
    const third = await resolve("context");

    assertEquals(second.counts.read, 1);
    assertEquals(second.pin, first.pin);
    assertEquals(third.counts, { read: 0, files: 1, reused: 1, skipped: 0, excluded: 0 });
  });
});
