import { join } from "../../../core/deps.ts";
import { assert, assertEquals, assertNotEquals } from "../../_assert.ts";
import { git } from "../../_fixtures/git_server.ts";
import { type GitFixture, withGitFixture } from "./_git_fixture.ts";

interface Repository {
  url: string;
  commit(content: string): Promise<string>;
}

async function createRepository(fixture: GitFixture, name = "repo"): Promise<Repository> {
  const repo = await fixture.repository(name);
  const commit = async (content: string) => {
    await repo.write({ "content.txt": content });
    const hash = await repo.commit(content);
    await repo.push();
    return hash;
  };
  await commit("one\n");
  await repo.git(["tag", "-a", "v1", "-m", "v1"]);
  await repo.push();
  return { url: fixture.server.url(name), commit };
}

// The one shared bare repository the store holds for a remote.
async function sharedRepository(fixture: GitFixture): Promise<string> {
  const repos = join(fixture.store.dataDir("git"), "repos");
  const entries = await Array.fromAsync(Deno.readDir(repos));
  assertEquals(entries.length, 1, "one shared repository per remote");
  return join(repos, entries[0].name, "repo.git");
}

Deno.test("git source shares a cache entry between refs of one commit", async () => {
  await withGitFixture(async (fixture) => {
    const repository = await createRepository(fixture);

    const byTag = await fixture.solve(repository.url, "v1");
    const byBranch = await fixture.solve(repository.url, "main");

    assertEquals(byBranch.key, byTag.key);
    assertEquals(byBranch.snapshot, byTag.snapshot);
    assert(!byTag.cached, "the first build loads the source");
    assert(byBranch.cached, "the second reference hits the first one's cache entry");
    assertEquals(fixture.server.counts().fetch, 1);
  });
});

Deno.test("git source repeated build only lists refs", async () => {
  await withGitFixture(async (fixture) => {
    const repository = await createRepository(fixture);
    await fixture.solve(repository.url, "main");
    const before = fixture.server.counts();

    const again = await fixture.solve(repository.url, "main");

    const after = fixture.server.counts();
    assert(again.cached, "the repeated build is a cache hit");
    assertEquals(after.fetch - before.fetch, 0);
    assertEquals(after["ls-refs"] - before["ls-refs"], 1);
    assertEquals(after.advertise - before.advertise, 1);
    assertEquals(after.other, 0);
  });
});

Deno.test("git source fetches the new commit after the branch moves", async () => {
  await withGitFixture(async (fixture) => {
    const repository = await createRepository(fixture);
    const first = await fixture.solve(repository.url, "main");

    const moved = await repository.commit("two\n");
    const second = await fixture.solve(repository.url, "main");

    assertNotEquals(second.key, first.key);
    assert(!second.cached, "a moved branch is a new cache key");
    assertEquals(await Deno.readTextFile(join(second.diffDir, "content.txt")), "two\n");
    assertEquals(await Deno.readTextFile(join(first.diffDir, "content.txt")), "one\n");
    assertEquals(fixture.server.counts().fetch, 2);
    const shared = await sharedRepository(fixture);
    assertEquals(await git(["cat-file", "-t", moved], { cwd: shared }), "commit");
  });
});

Deno.test("git source loads a recorded commit without a request", async () => {
  await withGitFixture(async (fixture) => {
    const repository = await createRepository(fixture);
    const first = await fixture.load(repository.url, { ref: "main" });
    fixture.server.requests.length = 0;

    // keep-git-dir makes a different snapshot of the same commit.
    const kept = await fixture.load(repository.url, { ref: first.pin, "keep-git-dir": "true" });

    assertNotEquals(kept.snapshot, first.snapshot);
    assertEquals(fixture.server.requests.length, 0);
    assertEquals(await Deno.readTextFile(join(kept.diffDir, "content.txt")), "one\n");
  });
});

Deno.test("git source builds of one repository at once share it", async () => {
  await withGitFixture(async (fixture) => {
    const repository = await createRepository(fixture);
    const second = await repository.commit("two\n");

    const results = await Promise.all([
      fixture.load(repository.url, { ref: "main" }),
      fixture.load(repository.url, { ref: "main" }),
      fixture.load(repository.url, { ref: "v1" }),
    ]);

    assertEquals(results.map((result) => result.pin).slice(0, 2), [second, second]);
    assertEquals(results[0].snapshot, results[1].snapshot);
    assertEquals(await Deno.readTextFile(join(results[2].diffDir, "content.txt")), "one\n");
    // The two loads of "main" fetched once: the second waited for the lock, then found the commit.
    assertEquals(fixture.server.counts().fetch, 2);
    const shared = await sharedRepository(fixture);
    await git(["fsck", "--strict", "--no-progress", "--no-dangling"], { cwd: shared });
    const recorded = await Array.fromAsync(Deno.readDir(join(shared, "refs/tsbuild/commits")));
    assertEquals(recorded.map((entry) => entry.name).sort(), [results[2].pin, second].sort());
  });
});

Deno.test("git source builds in two processes at once share the repository", async () => {
  await withGitFixture(async (fixture) => {
    const repository = await createRepository(fixture);
    const script = join(fixture.dir, "load.ts");
    await Deno.writeTextFile(script, loadScript());
    const run = () =>
      new Deno.Command(Deno.execPath(), {
        args: ["run", "--allow-all", "--config", join(Deno.cwd(), "deno.json"), script],
        env: { STORE: join(fixture.dir, "store"), URL: repository.url },
        stdout: "piped",
        stderr: "piped",
      }).output();

    const outputs = await Promise.all([run(), run()]);

    for (const output of outputs) {
      assert(output.success, new TextDecoder().decode(output.stderr));
      assertEquals(new TextDecoder().decode(output.stdout).trim(), "one");
    }
    assertEquals(fixture.server.counts().fetch, 1);
    await git(["fsck", "--strict", "--no-progress", "--no-dangling"], {
      cwd: await sharedRepository(fixture),
    });
  });
});

// A program that opens the store in $STORE and loads $URL at "main" through the git source.
function loadScript(): string {
  const root = `file://${Deno.cwd()}`;
  return `
import { createPluginContext } from "${root}/core/plugin/context.ts";
import { RecordingSink } from "${root}/core/progress/events.ts";
import { openStore } from "${root}/core/store/store.ts";
import { gitSource } from "${root}/plugins/sources/git.ts";

const store = await openStore(Deno.env.get("STORE"));
const context = createPluginContext({
  store,
  registry: undefined,
  sink: new RecordingSink(),
  signal: new AbortController().signal,
  platform: { os: "linux", architecture: "amd64" },
});
const path = Deno.env.get("URL");
const args = { identifier: "git://" + path, scheme: "git", path, attrs: { ref: "main" }, platform: context.platform };
const { pin } = await gitSource.onResolve(args, context);
const { snapshot } = await gitSource.onLoad({ ...args, pin }, context);
console.log((await Deno.readTextFile(store.snapshots.diffDir(snapshot) + "/content.txt")).trim());
await store.close();
`;
}
