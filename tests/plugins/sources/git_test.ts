import { join } from "../../../core/deps.ts";
import { assert, assertEquals } from "../../_assert.ts";
import { git } from "../../_fixtures/git_server.ts";
import { describeTree, type GitFixture, modeOf, withGitFixture } from "./_git_fixture.ts";

/** Commits of the sample repository, oldest first. */
interface Sample {
  /** Tagged "v1-light" (lightweight). */
  first: string;
  /** No ref points at it. */
  middle: string;
  /** The tip of "main", tagged "v3" (annotated). */
  main: string;
  /** The tip of branch "feature". */
  feature: string;
  url: string;
}

// main:    first ── middle ── main
// feature:   └── feature
async function createSample(fixture: GitFixture, name = "sample"): Promise<Sample> {
  const repo = await fixture.repository(name);
  await repo.write({
    "README.md": "first\n",
    "bin/run.sh": "#!/bin/sh\necho run\n",
    "docs/guide.md": "guide\n",
    "docs/deep/note.txt": "note\n",
  });
  await Deno.chmod(join(repo.work, "bin/run.sh"), 0o755);
  await Deno.symlink("../README.md", join(repo.work, "docs/readme"));
  await Deno.symlink("/etc/hostname", join(repo.work, "absolute"));
  const first = await repo.commit("first");
  await repo.git(["tag", "v1-light"]);
  await repo.git(["branch", "feature"]);

  await repo.write({ "README.md": "middle\n" });
  const middle = await repo.commit("middle");
  await repo.write({ "README.md": "main\n", "docs/guide.md": "guide v3\n" });
  const main = await repo.commit("main");
  await repo.git(["tag", "-a", "v3", "-m", "release 3"]);

  await repo.git(["checkout", "--quiet", "feature"]);
  await repo.write({ "feature.txt": "feature\n" });
  const feature = await repo.commit("feature");
  await repo.git(["checkout", "--quiet", "main"]);
  await repo.push();
  return { first, middle, main, feature, url: fixture.server.url(name) };
}

async function readme(diffDir: string): Promise<string> {
  return await Deno.readTextFile(join(diffDir, "README.md"));
}

Deno.test("git source builds a branch", async () => {
  await withGitFixture(async (fixture) => {
    const sample = await createSample(fixture);

    const loaded = await fixture.load(sample.url, { ref: "feature" });

    assertEquals(loaded.pin, sample.feature);
    assertEquals(await Deno.readTextFile(join(loaded.diffDir, "feature.txt")), "feature\n");
    assertEquals(await readme(loaded.diffDir), "first\n");
  });
});

Deno.test("git source builds a lightweight tag", async () => {
  await withGitFixture(async (fixture) => {
    const sample = await createSample(fixture);

    const loaded = await fixture.load(sample.url, { ref: "v1-light" });

    assertEquals(loaded.pin, sample.first);
    assertEquals(await readme(loaded.diffDir), "first\n");
  });
});

Deno.test("git source peels an annotated tag to its commit", async () => {
  await withGitFixture(async (fixture) => {
    const sample = await createSample(fixture);
    const tagObject = await git(["rev-parse", "v3"], {
      cwd: join(fixture.server.root, "sample.git"),
    });

    const loaded = await fixture.load(sample.url, { ref: "v3" });

    assert(tagObject !== sample.main, "v3 should be an annotated tag object");
    assertEquals(loaded.pin, sample.main);
    assertEquals(await readme(loaded.diffDir), "main\n");
  });
});

Deno.test("git source builds HEAD when no reference is given", async () => {
  await withGitFixture(async (fixture) => {
    const sample = await createSample(fixture);

    const loaded = await fixture.load(sample.url);

    assertEquals(loaded.pin, sample.main);
    assertEquals(await readme(loaded.diffDir), "main\n");
  });
});

Deno.test("git source pins a full hash without a request", async () => {
  await withGitFixture(async (fixture) => {
    const sample = await createSample(fixture);

    const resolved = await fixture.resolve(sample.url, { ref: sample.first.toUpperCase() });

    assertEquals(resolved.pin, sample.first);
    assertEquals(fixture.server.requests.length, 0);
  });
});

Deno.test("git source fetches a commit no ref points at", async () => {
  await withGitFixture(async (fixture) => {
    const sample = await createSample(fixture);

    const loaded = await fixture.load(sample.url, { ref: sample.middle });

    assertEquals(loaded.pin, sample.middle);
    assertEquals(await readme(loaded.diffDir), "middle\n");
    assertEquals(fixture.server.counts().fetch, 1);
  });
});

Deno.test("git source deepens when the server refuses an unadvertised commit", async () => {
  await withGitFixture(async (fixture) => {
    const sample = await createSample(fixture);

    const loaded = await fixture.load(sample.url, { ref: sample.middle });

    assertEquals(loaded.pin, sample.middle);
    assertEquals(await readme(loaded.diffDir), "middle\n");
    // The refused direct request, then one deepening of every branch and tag.
    assertEquals(fixture.server.counts().fetch, 2);
  }, { refuseUnadvertisedWants: true });
});

Deno.test("git source fetches from a protocol v1 server", async () => {
  await withGitFixture(async (fixture) => {
    const sample = await createSample(fixture);

    const tag = await fixture.load(sample.url, { ref: "v3", subdir: "docs" });
    const unreferenced = await fixture.load(sample.url, { ref: sample.middle });

    assertEquals(tag.pin, sample.main);
    assertEquals(await Deno.readTextFile(join(tag.diffDir, "guide.md")), "guide v3\n");
    assertEquals(await readme(unreferenced.diffDir), "middle\n");
    assertEquals(fixture.server.counts()["ls-refs"], 0);
  }, { protocolV1Only: true });
});

Deno.test("git source deepens on a protocol v1 server that refuses a commit", async () => {
  await withGitFixture(async (fixture) => {
    const sample = await createSample(fixture);

    const loaded = await fixture.load(sample.url, { ref: sample.middle });

    assertEquals(await readme(loaded.diffDir), "middle\n");
    assertEquals(fixture.server.counts().fetch, 2);
  }, { protocolV1Only: true, refuseUnadvertisedWants: true });
});

Deno.test("git source resolves an abbreviated hash of a ref tip", async () => {
  await withGitFixture(async (fixture) => {
    const sample = await createSample(fixture);

    const resolved = await fixture.resolve(sample.url, { ref: sample.feature.slice(0, 8) });

    assertEquals(resolved.pin, sample.feature);
    assertEquals(fixture.server.counts().fetch, 0);
  });
});

Deno.test("git source resolves an abbreviated hash no ref points at", async () => {
  await withGitFixture(async (fixture) => {
    const sample = await createSample(fixture);

    const loaded = await fixture.load(sample.url, { ref: sample.middle.slice(0, 7) });

    assertEquals(loaded.pin, sample.middle);
    assertEquals(await readme(loaded.diffDir), "middle\n");
    // The search recorded the commit, so loading it fetched nothing more.
    assertEquals(fixture.server.counts().fetch, 1);
  });
});

Deno.test("git source reads ref and subdir from the URL fragment", async () => {
  await withGitFixture(async (fixture) => {
    const sample = await createSample(fixture);

    const loaded = await fixture.load(`${sample.url}#v1-light:docs`);

    assertEquals(loaded.pin, sample.first);
    assertEquals(loaded.cacheAttrs, { subdir: "docs" });
    assertEquals(await describeTree(loaded.diffDir), [
      "deep/",
      "deep/note.txt=note\n",
      "guide.md=guide\n",
      "readme -> ../README.md",
    ]);
  });
});

Deno.test("git source checks out modes, symlinks, times and owner", async () => {
  await withGitFixture(async (fixture) => {
    const sample = await createSample(fixture);

    const { diffDir } = await fixture.load(sample.url, { ref: "v1-light" });

    assertEquals(await describeTree(diffDir), [
      "README.md=first\n",
      "absolute -> /etc/hostname",
      "bin/",
      "bin/run.sh=#!/bin/sh\necho run\n",
      "docs/",
      "docs/deep/",
      "docs/deep/note.txt=note\n",
      "docs/guide.md=guide\n",
      "docs/readme -> ../README.md",
    ]);
    assertEquals(await modeOf(join(diffDir, "bin/run.sh")), 0o755);
    assertEquals(await modeOf(join(diffDir, "README.md")), 0o644);
    assertEquals(await modeOf(join(diffDir, "docs")), 0o755);
    assertEquals(await modeOf(diffDir), 0o755);
    const commitTime = Number(
      await git(["show", "-s", "--format=%ct", sample.first], {
        cwd: join(fixture.server.root, "sample.git"),
      }),
    );
    for (
      const path of ["", "README.md", "bin", "bin/run.sh", "docs/readme", "absolute", "docs/deep"]
    ) {
      const info = await Deno.lstat(join(diffDir, path));
      assertEquals(info.mtime?.getTime(), commitTime * 1000, `mtime of "${path}"`);
      assertEquals([info.uid, info.gid], [0, 0], `owner of "${path}"`);
    }
    assert(!(await exists(join(diffDir, ".git"))), "no .git without keep-git-dir");
  });
});

Deno.test("git source keeps a working .git directory on request", async () => {
  await withGitFixture(async (fixture) => {
    const sample = await createSample(fixture);

    const { diffDir, cacheAttrs } = await fixture.load(sample.url, {
      ref: "v3",
      "keep-git-dir": "true",
    });

    assertEquals(cacheAttrs, { "keep-git-dir": "true", remote: sample.url });
    // A copy, because git refreshes the index of the tree it inspects.
    const copy = join(fixture.dir, "copy");
    await new Deno.Command("cp", { args: ["-a", diffDir, copy] }).output();
    assertEquals(await git(["rev-parse", "HEAD"], { cwd: copy }), sample.main);
    assertEquals(await git(["status", "--porcelain"], { cwd: copy }), "");
    assertEquals(await git(["remote", "get-url", "origin"], { cwd: copy }), sample.url);
    await git(["fsck", "--no-progress"], { cwd: copy });
    assertEquals(await readme(copy), "main\n");
  });
});

Deno.test("git source gives equal commits equal snapshots", async () => {
  await withGitFixture(async (fixture) => {
    const sample = await createSample(fixture);

    const byTag = await fixture.load(sample.url, { ref: "v3" });
    const byBranch = await fixture.load(sample.url, { ref: "main" });
    const byHash = await fixture.load(sample.url, { ref: sample.main });

    assertEquals(byTag.snapshot, byBranch.snapshot);
    assertEquals(byHash.snapshot, byBranch.snapshot);
    assertEquals(byTag.cacheAttrs, byBranch.cacheAttrs);
  });
});

Deno.test("git source checks out submodules on request", async () => {
  await withGitFixture(async (fixture) => {
    const library = await fixture.repository("library");
    await library.write({ "lib.txt": "library v1\n" });
    const libraryFirst = await library.commit("library v1");
    await library.write({ "lib.txt": "library v2\n" });
    await library.commit("library v2");
    await library.push();

    const app = await fixture.repository("app");
    await app.write({ "app.txt": "app\n" });
    await app.git([
      "-c",
      "protocol.file.allow=always",
      "submodule",
      "add",
      "--quiet",
      "../library.git",
      "vendor/library",
    ]);
    await git(["checkout", "--quiet", libraryFirst], { cwd: join(app.work, "vendor/library") });
    const appCommit = await app.commit("app with library v1");
    await app.push();
    const url = fixture.server.url("app");

    const without = await fixture.load(url);
    const withSubmodules = await fixture.load(url, { submodules: "true" });

    assertEquals(without.pin, appCommit);
    assertEquals(await describeTree(join(without.diffDir, "vendor")), ["library/"]);
    assertEquals(withSubmodules.cacheAttrs, { submodules: "true" });
    assertEquals(
      await Deno.readTextFile(join(withSubmodules.diffDir, "vendor/library/lib.txt")),
      "library v1\n",
    );
  });
});

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}
