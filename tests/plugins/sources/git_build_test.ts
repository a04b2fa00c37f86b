import { join } from "../../../core/deps.ts";
import { assert, assertEquals } from "../../_assert.ts";
import {
  createTestRepository,
  type GitServer,
  startGitServer,
} from "../../_fixtures/git_server.ts";

const CLI = new URL("../../../cli.ts", import.meta.url).pathname;
const CONFIG = new URL("../../../deno.json", import.meta.url).pathname;
const TOKEN = "e2e-secret-token";

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `tsbuild ARGS` as the deno task does, with plain progress. */
async function tsbuild(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "--unstable-worker-options", "--config", CONFIG, CLI, ...args],
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

// A repository with a Dockerfile at the top, served with basic authentication.
async function withRepository(
  fn: (server: GitServer, dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "tsbuild-git-build-" });
  await Deno.mkdir(join(dir, "server"));
  const server = await startGitServer({
    root: join(dir, "server"),
    auth: { username: "x-access-token", password: TOKEN },
  });
  try {
    const repo = await createTestRepository(server.root, "app", join(dir, "work"));
    await repo.write({
      "Dockerfile": "FROM scratch\nCOPY app /app\n",
      "app/hello.txt": "hello from git\n",
      "app/run.sh": "#!/bin/sh\necho run\n",
    });
    await Deno.chmod(join(repo.work, "app/run.sh"), 0o755);
    await Deno.symlink("hello.txt", join(repo.work, "app/link"));
    await repo.commit("first");
    await repo.git(["tag", "-a", "v1", "-m", "v1"]);
    await repo.write({ "app/hello.txt": "newer\n" });
    await repo.commit("second");
    await repo.push();
    await fn(server, dir);
  } finally {
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("tsbuild build runs ADD of a git URL at a tag", async () => {
  await withRepository(async (server, dir) => {
    const context = join(dir, "context");
    await Deno.mkdir(context);
    const url = server.url("app").replace("http://", `http://x-access-token:${TOKEN}@`);
    await Deno.writeTextFile(
      join(context, "Dockerfile"),
      `FROM scratch\nADD ${url}#v1 /src\nADD ${url}#v1:app /app-only\n`,
    );
    const out = join(dir, "out");
    const image = join(dir, "image.tar");

    const result = await tsbuild([
      "build",
      "--root",
      join(dir, "store"),
      "--progress",
      "plain",
      "--output",
      `type=local,dest=${out}`,
      "--output",
      `type=oci,dest=${image}`,
      context,
    ]);

    assertEquals(result.code, 0, result.stderr);
    assertEquals(await Deno.readTextFile(join(out, "src/app/hello.txt")), "hello from git\n");
    assertEquals(
      await Deno.readTextFile(join(out, "src/Dockerfile")),
      "FROM scratch\nCOPY app /app\n",
    );
    assertEquals(await Deno.readTextFile(join(out, "app-only/hello.txt")), "hello from git\n");
    assertEquals((await Deno.lstat(join(out, "app-only/run.sh"))).mode! & 0o777, 0o755);
    assertEquals(await Deno.readLink(join(out, "app-only/link")), "hello.txt");
    assert(!(await exists(join(out, "src/.git"))), "no .git without --keep-git-dir");
    // Neither progress, the store's records nor the image (its history) show the token.
    assert(!result.stderr.includes(TOKEN), result.stderr);
    assert(result.stderr.includes("ADD http://***@127.0.0.1"), result.stderr);
    assert(!(await grep(TOKEN, join(dir, "store"))), "the store contains the token");
    assert(!(await grep(TOKEN, image)), "the image contains the token");
  });
});

Deno.test("tsbuild build takes its context from a git URL", async () => {
  await withRepository(async (server, dir) => {
    const out = join(dir, "out");
    const env = { TSBUILD_GIT_AUTH_TOKEN: TOKEN };

    const first = await tsbuild([
      "build",
      "--root",
      join(dir, "store"),
      "--progress",
      "plain",
      "--output",
      `type=local,dest=${out}`,
      `${server.url("app")}#v1`,
    ], env);
    const fetchesAfterFirst = server.counts().fetch;
    const again = await tsbuild([
      "build",
      "--root",
      join(dir, "store"),
      "--progress",
      "plain",
      `${server.url("app")}#v1`,
    ], env);

    assertEquals(first.code, 0, first.stderr);
    assertEquals(await Deno.readTextFile(join(out, "app/hello.txt")), "hello from git\n");
    assertEquals(again.code, 0, again.stderr);
    assertEquals(server.counts().fetch, fetchesAfterFirst, "the repeated build fetched nothing");
    assert(again.stderr.includes("CACHED"), again.stderr);
  });
});

Deno.test("tsbuild build reads --local context from a git URL", async () => {
  await withRepository(async (server, dir) => {
    const dockerfileDir = join(dir, "dockerfile");
    await Deno.mkdir(dockerfileDir);
    await Deno.writeTextFile(join(dockerfileDir, "Dockerfile"), "FROM scratch\nCOPY . /ctx\n");
    const out = join(dir, "out");
    const secretFile = join(dir, "token");
    await Deno.writeTextFile(secretFile, TOKEN);

    const result = await tsbuild([
      "build",
      "--root",
      join(dir, "store"),
      "--progress",
      "plain",
      "--secret",
      `id=GIT_AUTH_TOKEN,src=${secretFile}`,
      "--output",
      `type=local,dest=${out}`,
      "--local",
      `context=${server.url("app")}#main:app`,
      "-f",
      join(dockerfileDir, "Dockerfile"),
    ]);

    assertEquals(result.code, 0, result.stderr);
    assertEquals(await Deno.readTextFile(join(out, "ctx/hello.txt")), "newer\n");
    assertEquals(await Deno.readLink(join(out, "ctx/link")), "hello.txt");
  });
});

Deno.test("tsbuild build names the URL and ref of an unknown git ref", async () => {
  await withRepository(async (server, dir) => {
    const result = await tsbuild([
      "build",
      "--root",
      join(dir, "store"),
      "--progress",
      "plain",
      `${server.url("app")}#v2`,
    ], { TSBUILD_GIT_AUTH_TOKEN: TOKEN });

    assertEquals(result.code, 1, result.stderr);
    assert(
      result.stderr.includes(
        `Failed to resolve git reference "v2" in "${
          server.url("app")
        }": no branch, tag or commit has that name (close matches: "v1")`,
      ),
      result.stderr,
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

// Reports whether any file under `path` contains `text`, using grep(1) on the raw bytes.
async function grep(text: string, path: string): Promise<boolean> {
  const output = await new Deno.Command("grep", {
    args: ["-r", "-l", "-a", "-F", text, path],
    stdout: "piped",
    stderr: "null",
  }).output();
  return output.code === 0;
}
