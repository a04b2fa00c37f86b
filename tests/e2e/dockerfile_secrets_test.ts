/**
 * End-to-end tests of `RUN --mount=type=secret` and `RUN --mount=type=ssh`:
 * values reach only the step that mounts them, and appear nowhere in the
 * exported image, the store or the progress output.
 *
 * @module
 */

import { assert, assertEquals, assertStringIncludes } from "../_assert.ts";
import { runCli } from "../_fixtures/cli.ts";
import { sharedRegistry } from "../_fixtures/shared_registry.ts";
import { createTempDir, runTool, writeFiles } from "./_build.ts";
import { gunzipSync } from "../../core/deps.ts";
import {
  buildContext,
  fileText,
  type ImageContents,
  progressText,
  readImage,
} from "./_dockerfile_fixture.ts";

function includesBytes(haystack: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

/** Returns the files under `dir` whose bytes, or gunzipped bytes, contain `needle`. */
async function filesContaining(dir: string, needle: Uint8Array): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) found.push(...await filesContaining(path, needle));
    if (!entry.isFile) continue;
    const bytes = await Deno.readFile(path);
    const gzipped = bytes[0] === 0x1f && bytes[1] === 0x8b;
    const plain = gzipped ? new Uint8Array(gunzipSync(bytes)) : bytes;
    if (includesBytes(plain, needle) || includesBytes(bytes, needle)) found.push(path);
  }
  return found;
}

async function leftoverSecretDirs(): Promise<string[]> {
  const entries = await Array.fromAsync(Deno.readDir("/dev/shm")).catch(() => []);
  return entries.map((entry) => entry.name).filter((name) => name.startsWith("tsbuild-secret-"));
}

Deno.test("RUN --mount=type=secret leaves no trace of the value", async () => {
  const { busyboxRef } = await sharedRegistry();
  await using temp = await createTempDir();
  const fileSecret = `file-secret-${crypto.randomUUID()}`;
  const envSecret = `env-secret-${crypto.randomUUID()}`;
  const context = `${temp.path}/context`;
  await writeFiles(context, {
    "Dockerfile": `FROM ${busyboxRef}
RUN --mount=type=secret,id=api_key \\
    --mount=type=secret,id=token,env=TOKEN,required \\
    echo "key=$(cat /run/secrets/api_key) token=$TOKEN" && \\
    sha256sum /run/secrets/api_key | cut -d' ' -f1 > /key.sha256 && \\
    printf %s "$TOKEN" | sha256sum | cut -d' ' -f1 > /token.sha256 && \\
    stat -c '%u %g %a' /run/secrets/api_key > /key.stat
RUN ls /run/secrets 2>&1 > /later || echo absent > /later; echo "token=[$TOKEN]" > /later-env
`,
  });
  const secretFile = `${temp.path}/api_key.txt`;
  await Deno.writeTextFile(secretFile, fileSecret);
  const archive = `${temp.path}/image.tar`;
  const layout = `${temp.path}/layout`;

  const built = await runCli([
    "build",
    "--root",
    `${temp.path}/root`,
    "--progress",
    "plain",
    "--secret",
    `id=api_key,src=${secretFile}`,
    "--secret",
    "id=token,env=E2E_TOKEN",
    "--output",
    `type=oci,dest=${archive}`,
    context,
  ], { env: { E2E_TOKEN: envSecret } });
  assertEquals(built.code, 0, built.stderr);

  await Deno.mkdir(layout);
  await runTool("tar", ["-xf", archive, "-C", layout]);
  const image: ImageContents = await readImage(layout);
  const sha256 = async (text: string) =>
    Array.from(
      new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text))),
    )
      .map((byte) => byte.toString(16).padStart(2, "0")).join("");
  assertEquals(fileText(image, "key.sha256"), `${await sha256(fileSecret)}\n`);
  assertEquals(fileText(image, "token.sha256"), `${await sha256(envSecret)}\n`);
  assertEquals(fileText(image, "key.stat"), "0 0 400\n");
  assertEquals(fileText(image, "later"), "absent\n");
  assertEquals(fileText(image, "later-env"), "token=[]\n");
  assertEquals([...image.files.keys()].filter((path) => path.startsWith("run")), []);

  assertStringIncludes(built.stderr, "key=**** token=****");
  for (const secret of [fileSecret, envSecret]) {
    const bytes = new TextEncoder().encode(secret);
    assert(!built.stderr.includes(secret), "in standard error");
    assert(!built.stdout.includes(secret), "in standard output");
    assertEquals(await filesContaining(layout, bytes), [], "in the image");
    assertEquals(await filesContaining(`${temp.path}/root`, bytes), [], "in the store");
    assert(!includesBytes(await Deno.readFile(archive), bytes), "in the archive");
  }
  assertEquals(await leftoverSecretDirs(), []);
});

Deno.test("RUN --mount=type=secret honours target, mode, uid, gid and required", async () => {
  const { busyboxRef } = await sharedRegistry();
  await using temp = await createTempDir();
  const context = `${temp.path}/context`;
  await writeFiles(context, {
    Dockerfile: `FROM ${busyboxRef}
USER app
RUN --mount=type=secret,id=cfg,target=/home/app/.config/tool.conf,uid=1000,gid=1000,mode=0440 \\
    wc -c < /home/app/.config/tool.conf > /tmp/size && stat -c '%u %g %a' /home/app/.config/tool.conf > /tmp/stat
RUN --mount=type=secret,id=absent ls /run/secrets > /tmp/optional 2>&1 || echo no-secret > /tmp/optional
RUN --mount=type=secret,id=absent,env=ABSENT echo "[$ABSENT]" > /tmp/optional-env
`,
  });
  const out = `${temp.path}/image`;
  const { events } = await buildContext({
    root: `${temp.path}/root`,
    context,
    secrets: { cfg: "setting=1\n" },
    outputs: [{ type: "oci", attrs: { dest: out, tar: "false" } }],
  });
  const image = await readImage(out);
  assertEquals(fileText(image, "tmp/size"), "10\n");
  assertEquals(fileText(image, "tmp/stat"), "1000 1000 440\n");
  assertEquals(fileText(image, "tmp/optional"), "no-secret\n");
  assertEquals(fileText(image, "tmp/optional-env"), "[]\n");
  assert(!progressText(events).includes("setting=1"));
  assertEquals([...image.files.keys()].filter((path) => path.startsWith("home/app/.config")), []);

  await writeFiles(context, {
    Dockerfile: `FROM ${busyboxRef}\nRUN --mount=type=secret,id=needed,required=true true\n`,
  });
  const error = await buildContext({ root: `${temp.path}/root`, context }).catch((error) => error);
  assert(error instanceof Error);
  assertStringIncludes(
    error.message,
    'Failed to mount secret "needed": no secret with that id was given (use --secret id=needed,src=PATH or --secret id=needed,env=VARIABLE)',
  );
});

Deno.test("RUN --mount=type=secret masks a value in a failing step's error", async () => {
  const { busyboxRef } = await sharedRegistry();
  await using temp = await createTempDir();
  const context = `${temp.path}/context`;
  const secret = `failing-${crypto.randomUUID()}`;
  await writeFiles(context, {
    Dockerfile: `FROM ${busyboxRef}\nRUN --mount=type=secret,id=s cat /run/secrets/s; exit 3\n`,
  });
  const error = await buildContext({
    root: `${temp.path}/root`,
    context,
    secrets: { s: secret },
  }).catch((error) => error as Error & { events: [] });
  assert(error instanceof Error);
  assertStringIncludes(error.message, "exit code 3");
  assertStringIncludes(error.message, "> ****");
  assert(!error.message.includes(secret));
  assert(!progressText(error.events).includes(secret));
});

/** Host files that run the host's ssh-add inside a busybox container, by path. */
async function sshAddFiles(dir: string): Promise<void> {
  await Deno.mkdir(`${dir}/lib`, { recursive: true });
  const ldd = await runTool("ldd", ["/usr/bin/ssh-add"]);
  for (const match of ldd.matchAll(/=> (\/\S+)/g)) {
    await Deno.copyFile(match[1], `${dir}/lib/${match[1].slice(match[1].lastIndexOf("/") + 1)}`);
  }
  const loader = ldd.match(/^\s*(\/\S*ld-linux\S*)/m)?.[1];
  if (!loader) throw new Error(`No dynamic loader in: ${ldd}`);
  await Deno.copyFile(loader, `${dir}/ld.so`);
  await Deno.copyFile("/usr/bin/ssh-add", `${dir}/ssh-add`);
  await Deno.chmod(`${dir}/ld.so`, 0o755);
  await Deno.chmod(`${dir}/ssh-add`, 0o755);
}

Deno.test({
  name: "RUN --mount=type=ssh forwards the agent given with --ssh",
  ignore: !["/usr/bin/ssh-agent", "/usr/bin/ssh-add", "/usr/bin/ssh-keygen"].every((path) => {
    try {
      return Deno.statSync(path).isFile;
    } catch {
      return false;
    }
  }),
  async fn() {
    const { busyboxRef } = await sharedRegistry();
    await using temp = await createTempDir();
    const socket = `${temp.path}/agent.sock`;
    const agent = new Deno.Command("ssh-agent", {
      args: ["-D", "-a", socket],
      stdout: "null",
      stderr: "null",
    }).spawn();
    try {
      for (let i = 0; i < 50 && !(await Deno.stat(socket).catch(() => undefined)); i++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      await runTool("ssh-keygen", [
        "-q",
        "-t",
        "ed25519",
        "-N",
        "",
        "-C",
        "e2e-key",
        "-f",
        `${temp.path}/key`,
      ]);
      const added = await new Deno.Command("ssh-add", {
        args: [`${temp.path}/key`],
        env: { SSH_AUTH_SOCK: socket },
        stdout: "null",
        stderr: "null",
      }).output();
      assert(added.success, "ssh-add failed");

      const context = `${temp.path}/context`;
      await sshAddFiles(`${context}/sshroot`);
      await writeFiles(context, {
        Dockerfile: `FROM ${busyboxRef}
USER app
RUN --mount=source=sshroot,target=/sshroot --mount=type=ssh,uid=1000,required \\
    /sshroot/ld.so --library-path /sshroot/lib /sshroot/ssh-add -l > /tmp/keys && \\
    stat -c '%u %a %F' "$SSH_AUTH_SOCK" > /tmp/socket && echo "$SSH_AUTH_SOCK" > /tmp/path
`,
      });
      const archive = `${temp.path}/image.tar`;
      const built = await runCli([
        "build",
        "--root",
        `${temp.path}/root`,
        "--progress",
        "plain",
        "--ssh",
        `default=${socket}`,
        "--output",
        `type=oci,dest=${archive}`,
        context,
      ]);
      assertEquals(built.code, 0, built.stderr);
      const layout = `${temp.path}/layout`;
      await Deno.mkdir(layout);
      await runTool("tar", ["-xf", archive, "-C", layout]);
      const image = await readImage(layout);
      assertStringIncludes(fileText(image, "tmp/keys"), "e2e-key (ED25519)");
      assertEquals(fileText(image, "tmp/socket"), "1000 600 socket\n");
      assertEquals(fileText(image, "tmp/path"), "/run/buildkit/ssh_agent.0\n");
      assertEquals([...image.files.keys()].filter((path) => path.startsWith("run")), []);

      const missing = await runCli([
        "build",
        "--root",
        `${temp.path}/root`,
        "--no-cache",
        "--progress",
        "plain",
        context,
      ]);
      assertEquals(missing.code !== 0, true);
      assertStringIncludes(
        missing.stderr,
        'Failed to mount SSH agent "default": no agent with that id was given (use --ssh default=$SSH_AUTH_SOCK)',
      );
    } finally {
      agent.kill("SIGTERM");
      await agent.status;
    }
  },
});
