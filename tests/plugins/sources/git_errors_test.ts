import { join } from "../../../core/deps.ts";
import {
  DigestMismatchError,
  InvalidInputError,
  NotFoundError,
  RemoteError,
} from "../../../core/errors.ts";
import { gitSource } from "../../../plugins/sources/git.ts";
import { assert, assertEquals, assertRejects } from "../../_assert.ts";
import { git } from "../../_fixtures/git_server.ts";
import { closedLoopbackPort } from "../../_fixtures/loopback_server.ts";
import { type GitFixture, withGitFixture } from "./_git_fixture.ts";

const TOKEN = "s3cr3t-token-value";

async function createRepository(fixture: GitFixture, name = "repo"): Promise<string> {
  const repo = await fixture.repository(name);
  await repo.write({ "content.txt": "one\n", "docs/guide.md": "guide\n" });
  await repo.commit("one");
  await repo.git(["branch", "maintenance"]);
  await repo.git(["tag", "v1.0.0"]);
  await repo.push();
  return fixture.server.url(name);
}

// Every text a build keeps or shows: progress events, logs, pins and snapshot names.
function recordedText(fixture: GitFixture): string {
  return JSON.stringify(fixture.sink.events);
}

async function sharedRepository(fixture: GitFixture): Promise<string> {
  const repos = join(fixture.store.dataDir("git"), "repos");
  const [entry] = await Array.fromAsync(Deno.readDir(repos));
  return join(repos, entry.name, "repo.git");
}

Deno.test("git source names close matches of an unknown ref", async () => {
  await withGitFixture(async (fixture) => {
    const url = await createRepository(fixture);

    const error = await assertRejects(() => fixture.load(url, { ref: "mian" }), NotFoundError);

    assertEquals(
      error.message,
      `Failed to resolve git reference "mian" in "${url}": no branch, tag or commit has that name (close matches: "main")`,
    );
    assertEquals(error.data.closeMatches, ["main"]);
    const loaded = await fixture.load(url, { ref: "main" });
    assertEquals(await Deno.readTextFile(join(loaded.diffDir, "content.txt")), "one\n");
  });
});

Deno.test("git source counts refs when nothing is close", async () => {
  await withGitFixture(async (fixture) => {
    const url = await createRepository(fixture);

    const error = await assertRejects(
      () => fixture.resolve(url, { ref: "completely-different" }),
      NotFoundError,
    );

    assertEquals(
      error.message,
      `Failed to resolve git reference "completely-different" in "${url}": no branch, tag or commit has that name (the repository has 2 branches and 1 tags)`,
    );
  });
});

Deno.test("git source reports an unreachable server", async () => {
  await withGitFixture(async (fixture) => {
    const url = `http://127.0.0.1:${closedLoopbackPort()}/repo.git`;

    const error = await assertRejects(() => fixture.resolve(url, { ref: "main" }), RemoteError);

    assertEquals(
      error.message,
      `Failed to list the references of "${url}" for "main": the server is unreachable (Connection refused (os error 111))`,
    );
    assertEquals(error.data.status, 0);
  });
});

Deno.test("git source reports a missing repository", async () => {
  await withGitFixture(async (fixture) => {
    const url = fixture.server.url("missing");

    const error = await assertRejects(() => fixture.resolve(url), RemoteError);

    assertEquals(
      error.message,
      `Failed to list the references of "${url}" for "HEAD": repository not found (HTTP 404); check the URL`,
    );
  });
});

Deno.test("git source asks for credentials the server requires", async () => {
  await withGitFixture(async (fixture) => {
    const url = await createRepository(fixture);

    const error = await assertRejects(() => fixture.resolve(url), RemoteError);

    assertEquals(
      error.message,
      `Failed to list the references of "${url}" for "HEAD": authentication required (HTTP 401); pass a token with --secret id=GIT_AUTH_TOKEN,env=VAR or set TSBUILD_GIT_AUTH_TOKEN`,
    );
  }, { auth: { username: "x-access-token", password: TOKEN } });
});

Deno.test("git source reports refused credentials without showing them", async () => {
  await withGitFixture(async (fixture) => {
    const url = await createRepository(fixture);
    const withUserinfo = url.replace("http://", `http://alice:${TOKEN}-wrong@`);

    const fromSecret = await assertRejects(
      () => fixture.load(url, {}, { secrets: { GIT_AUTH_TOKEN: `${TOKEN}-wrong` } }),
      RemoteError,
    );
    const fromUrl = await assertRejects(() => fixture.load(withUserinfo), RemoteError);

    assertEquals(
      fromSecret.message,
      `Failed to list the references of "${url}" for "HEAD": authentication refused (HTTP 401); check the credentials from secret "GIT_AUTH_TOKEN"`,
    );
    assertEquals(
      fromUrl.message,
      `Failed to list the references of "${url}" for "HEAD": authentication refused (HTTP 401); check the credentials from the URL's user name and password`,
    );
    for (const text of [fromSecret.message, fromUrl.message, JSON.stringify(fromUrl.data)]) {
      assert(!text.includes(TOKEN), text);
    }
  }, { auth: { username: "x-access-token", password: TOKEN } });
});

Deno.test("git source authenticates with a secret or the URL", async () => {
  await withGitFixture(async (fixture) => {
    const url = await createRepository(fixture);
    const host = new URL(url).host;

    const fromSecret = await fixture.load(url, {}, { secrets: { GIT_AUTH_TOKEN: TOKEN } });
    const fromHostSecret = await fixture.load(url, { "keep-git-dir": "true" }, {
      secrets: { [`GIT_AUTH_TOKEN.${host}`]: TOKEN, GIT_AUTH_TOKEN: "wrong" },
    });
    const fromUrl = await fixture.resolve(
      url.replace("http://", `http://x-access-token:${TOKEN}@`),
    );
    // TSBUILD_GIT_AUTH_TOKEN is tested by git_build_test.ts in a process of its own,
    // because test files running in parallel in this process would see it set.

    assertEquals(fromHostSecret.pin, fromSecret.pin);
    assertEquals(fromUrl.pin, fromSecret.pin);
    assertEquals(fromHostSecret.cacheAttrs?.remote, url);
    const kept = await Deno.readTextFile(join(fromHostSecret.diffDir, ".git/config"));
    assert(!kept.includes(TOKEN), "no token in .git/config");
    assert(!recordedText(fixture).includes(TOKEN), "no token in progress or logs");
  }, { auth: { username: "x-access-token", password: TOKEN } });
});

Deno.test("git source sends a bearer header from GIT_AUTH_HEADER", async () => {
  await withGitFixture(async (fixture) => {
    const url = await createRepository(fixture);

    const loaded = await fixture.load(url, {}, { secrets: { GIT_AUTH_HEADER: `Bearer ${TOKEN}` } });

    assertEquals(await Deno.readTextFile(join(loaded.diffDir, "content.txt")), "one\n");
  }, { auth: { bearer: TOKEN } });
});

Deno.test("git source reports a missing subdirectory", async () => {
  await withGitFixture(async (fixture) => {
    const url = await createRepository(fixture);

    const missing = await assertRejects(
      () => fixture.load(url, { ref: "main", subdir: "docs/api" }),
      NotFoundError,
    );
    const notDirectory = await assertRejects(
      () => fixture.load(url, { ref: "main", subdir: "content.txt" }),
      NotFoundError,
    );

    assertEquals(
      missing.message,
      `Failed to find subdirectory "docs/api" in "${url}" at "main": "docs/api": no such directory`,
    );
    assertEquals(
      notDirectory.message,
      `Failed to find subdirectory "content.txt" in "${url}" at "main": "content.txt": it is not a directory`,
    );
    const loaded = await fixture.load(url, { ref: "main", subdir: "docs" });
    assertEquals(await Deno.readTextFile(join(loaded.diffDir, "guide.md")), "guide\n");
  });
});

Deno.test("git source rejects corrupt pack data and keeps the store usable", async () => {
  await withGitFixture(async (fixture) => {
    const url = await createRepository(fixture);
    const first = await fixture.load(url, { ref: "v1.0.0" });
    const shared = await sharedRepository(fixture);
    const packsBefore = await listDir(join(shared, "objects/pack"));
    const recordedBefore = await listDir(join(shared, "refs/tsbuild/commits"));

    const second = await pushSecondCommit(fixture, url);
    fixture.server.corruptFetches = 1;
    const error = await assertRejects(
      () => fixture.load(url, { ref: "main" }),
      DigestMismatchError,
    );

    assert(
      error.message.startsWith(
        `Failed to fetch "${url}" at "main": corrupt pack data from the server: `,
      ),
      error.message,
    );
    assertEquals(await listDir(join(shared, "objects/pack")), packsBefore);
    assertEquals(await listDir(join(shared, "refs/tsbuild/commits")), recordedBefore);
    assertEquals(
      (await listDir(join(shared, ".."))).filter((name) => name.startsWith("staging-")),
      [],
    );
    await git(["fsck", "--strict", "--no-progress", "--no-dangling"], { cwd: shared });

    const retried = await fixture.load(url, { ref: "main" });
    assertEquals(retried.pin, second);
    assertEquals(await Deno.readTextFile(join(retried.diffDir, "content.txt")), "two\n");
    assertEquals(await Deno.readTextFile(join(first.diffDir, "content.txt")), "one\n");
  });
});

Deno.test("git source reports a commit the server lacks", async () => {
  await withGitFixture(async (fixture) => {
    const url = await createRepository(fixture);
    const missing = "0123456789abcdef0123456789abcdef01234567";

    const error = await assertRejects(() => fixture.load(url, { ref: missing }), NotFoundError);

    assertEquals(
      error.message,
      `Failed to fetch "${url}" at "${missing}": the server has no commit "${missing}" reachable from its branches and tags`,
    );
    const shared = await sharedRepository(fixture);
    assertEquals(await listDir(join(shared, "refs/tsbuild/commits")), []);
    assertEquals(await listDir(join(shared, "objects/pack")), []);
  });
});

Deno.test("git source rejects a pin that is not a commit hash", async () => {
  await withGitFixture(async (fixture) => {
    const url = await createRepository(fixture);
    const args = { identifier: `git://${url}`, scheme: "git", path: url, attrs: {} };

    const error = await assertRejects(
      () =>
        gitSource.onLoad(
          { ...args, platform: { os: "linux", architecture: "amd64" }, pin: "main" },
          fixture.context(),
        ),
      InvalidInputError,
    );

    assertEquals(
      error.message,
      `Failed to load git source "${url}": invalid pin "main": expected a 40-digit commit hash`,
    );
  });
});

Deno.test("git source rejects an SSH URL", async () => {
  await withGitFixture(async (fixture) => {
    const error = await assertRejects(
      () => fixture.resolve("git@github.com:org/repo.git"),
      InvalidInputError,
    );

    assertEquals(
      error.message,
      `Unsupported git URL "git@github.com:org/repo.git": tsbuild fetches git repositories over HTTP(S) only; use an https:// URL`,
    );
  });
});

async function pushSecondCommit(fixture: GitFixture, url: string): Promise<string> {
  const work = join(fixture.dir, "second");
  await git(["clone", "--quiet", join(fixture.server.root, "repo.git"), work], {
    cwd: fixture.dir,
  });
  await Deno.writeTextFile(join(work, "content.txt"), "two\n");
  await git(["commit", "--quiet", "-am", "two"], { cwd: work, date: 1_700_000_500 });
  await git(["push", "--quiet", "origin", "main"], { cwd: work });
  assert(url.endsWith("/repo.git"));
  return await git(["rev-parse", "HEAD"], { cwd: work });
}

async function listDir(path: string): Promise<string[]> {
  try {
    return (await Array.fromAsync(Deno.readDir(path))).map((entry) => entry.name).sort();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
}
