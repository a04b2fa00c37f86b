import { join } from "../../../core/deps.ts";
import { CancelledError, InvalidInputError, NotFoundError } from "../../../core/errors.ts";
import { ContainerStartError } from "../../../core/errors.ts";
import type { ExecRequest } from "../../../core/exec/executor.ts";
import { createRuncExecutor } from "../../../core/exec/runc.ts";
import { createWhiteout } from "../../../core/snapshot/whiteout.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  assertStringIncludes,
} from "../../_assert.ts";
import { describeTree } from "../snapshot/_tree.ts";
import { createBusyboxLayer, mountsUnder } from "./_busybox.ts";

const RUNC = "/usr/sbin/runc";
const STRATEGIES = ["overlay", "copy"] as const;
type Strategy = typeof STRATEGIES[number];

interface Sandbox {
  dir: string;
  base: string;
  upper: string;
  stateRoot: string;
  /** Runs `args` and returns the exit code with the decoded output. */
  run(
    args: string[],
    extra?: Partial<ExecRequest>,
  ): Promise<{ exitCode: number; stdout: string; stderr: string }>;
}

/** Gives `fn` a busybox base layer, an empty upper directory and a runc executor. */
async function withSandbox(
  strategy: Strategy,
  fn: (sandbox: Sandbox) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "tsbuild-runc-test-" });
  const base = join(dir, "base");
  const upper = join(dir, "upper");
  const stateRoot = join(dir, "state");
  await Deno.mkdir(base);
  await Deno.mkdir(upper);
  await createBusyboxLayer(base);
  const executor = createRuncExecutor({ stateRoot, snapshotter: strategy });

  const run: Sandbox["run"] = async (args, extra = {}) => {
    const stdout: Uint8Array[] = [];
    const stderr: Uint8Array[] = [];
    const result = await executor.run({
      lowerDirs: [base],
      upperDir: upper,
      args,
      env: [],
      cwd: "/",
      user: "",
      network: "none",
      stdout: (chunk) => stdout.push(chunk),
      stderr: (chunk) => stderr.push(chunk),
      ...extra,
    });
    return { exitCode: result.exitCode, stdout: decode(stdout), stderr: decode(stderr) };
  };

  try {
    await fn({ dir, base, upper, stateRoot, run });
    assertEquals(await mountsUnder(dir), [], "no mount may be left behind");
    assertEquals(await runcList(stateRoot), [], "no runc container may be left behind");
    assertEquals(
      (await listNames(dir)).sort(),
      ["base", "state", "upper"],
      "no scratch directory may be left",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function decode(chunks: Uint8Array[]): string {
  const decoder = new TextDecoder();
  return chunks.map((chunk) => decoder.decode(chunk, { stream: true })).join("") + decoder.decode();
}

async function listNames(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  return names;
}

/** Returns the ids of the containers that runc lists under `stateRoot`. */
async function runcList(stateRoot: string): Promise<string[]> {
  const output = await new Deno.Command(RUNC, { args: ["--root", stateRoot, "list", "-q"] })
    .output();
  assert(output.success, new TextDecoder().decode(output.stderr));
  return new TextDecoder().decode(output.stdout).split("\n").filter((line) => line !== "");
}

for (const strategy of STRATEGIES) {
  Deno.test(`runc executor writes a new file into upperDir (${strategy})`, async () => {
    await withSandbox(strategy, async ({ upper, run }) => {
      const result = await run(["/bin/sh", "-c", "echo hi > /out.txt"], { network: "host" });

      assertEquals(result.exitCode, 0);
      const tree = await describeTree(upper, { times: false });
      // Only the file: the mount points runc created for /etc/hosts and /etc/resolv.conf are gone.
      assertEquals(tree, { "out.txt": 'file 644 0:0 "hi\\n"' });
    });
  });

  Deno.test(`runc executor records a deleted lower file as a whiteout (${strategy})`, async () => {
    await withSandbox(strategy, async ({ dir, upper, run }) => {
      const result = await run(["rm", "/etc/group"]);

      assertEquals(result.exitCode, 0);
      const tree = await describeTree(upper, { times: false });
      assertEquals(tree["etc/group"], "whiteout");
      assertEquals(tree["etc/passwd"], undefined);

      const expected = join(dir, "expected");
      await Deno.mkdir(expected);
      createWhiteout(join(expected, "whiteout"));
      assertEquals(
        (await Deno.lstat(join(upper, "etc/group"))).rdev,
        (await Deno.lstat(join(expected, "whiteout"))).rdev,
      );
      await Deno.remove(expected, { recursive: true });
    });
  });

  Deno.test(`runc executor reports the exit code (${strategy})`, async () => {
    await withSandbox(strategy, async ({ run }) => {
      const result = await run(["/bin/sh", "-c", "exit 3"]);

      assertEquals(result.exitCode, 3);
    });
  });

  Deno.test(`runc executor streams stdout and stderr apart (${strategy})`, async () => {
    await withSandbox(strategy, async ({ run }) => {
      const result = await run(["/bin/sh", "-c", "echo out; echo err >&2"]);

      assertEquals(result.stdout, "out\n");
      assertEquals(result.stderr, "err\n");
    });
  });

  Deno.test(`runc executor runs as the resolved user (${strategy})`, async () => {
    await withSandbox(strategy, async ({ run }) => {
      const result = await run(["/bin/sh", "-c", "id -u; id -g; id -G; echo $HOME"], {
        user: "app",
      });

      assertEquals(result.stdout, "1000\n1000\n1000 50\n/home/app\n");
    });
  });

  Deno.test(`runc executor gives network none only lo (${strategy})`, async () => {
    await withSandbox(strategy, async ({ run }) => {
      const result = await run(["cat", "/proc/net/dev"], { network: "none" });

      const interfaces = result.stdout.split("\n").slice(2).filter((line) => line.includes(":"))
        .map((line) => line.split(":")[0].trim());
      assertEquals(interfaces, ["lo"]);
    });
  });

  Deno.test(`runc executor creates a missing working directory (${strategy})`, async () => {
    await withSandbox(strategy, async ({ upper, run }) => {
      const result = await run(["pwd"], { cwd: "/work/deep", user: "app" });

      assertEquals(result.stdout, "/work/deep\n");
      const tree = await describeTree(upper, { times: false });
      assertEquals(tree["work"], "dir 755 0:0");
      assertEquals(tree["work/deep"], "dir 755 0:0");
    });
  });

  Deno.test(`runc executor cancels a running process (${strategy})`, async () => {
    await withSandbox(strategy, async ({ run }) => {
      const controller = new AbortController();
      const started = Date.now();
      const running = run(["sleep", "100"], { signal: controller.signal });
      setTimeout(() => controller.abort(), 300);

      await assertRejects(() => running, CancelledError);
      assert(Date.now() - started < 5000, `cancelling took ${Date.now() - started} ms`);
    });
  });

  Deno.test(`runc executor cancels at any point of the container start (${strategy})`, async () => {
    await withSandbox(strategy, async ({ upper, run }) => {
      for (const delay of [0, 10, 20, 40, 60, 80, 120]) {
        const controller = new AbortController();
        const running = run(["sleep", "100"], { signal: controller.signal });
        setTimeout(() => controller.abort(), delay);

        await assertRejects(() => running, CancelledError);
        await Deno.remove(upper, { recursive: true });
        await Deno.mkdir(upper);
      }
    });
  });

  Deno.test(`runc executor rejects a missing program with runc's message (${strategy})`, async () => {
    await withSandbox(strategy, async ({ run }) => {
      const error = await assertRejects(() => run(["/no/such/program"]), ContainerStartError);

      assertStringIncludes(error.message, 'Failed to start "/no/such/program" in the container: ');
      assertStringIncludes(error.message, "no such file or directory");
    });
  });

  Deno.test(`runc executor sets the environment and hostname (${strategy})`, async () => {
    await withSandbox(strategy, async ({ run }) => {
      const result = await run([
        "/bin/sh",
        "-c",
        'echo "$PATH|$HOSTNAME|$GREETING"; hostname; cat /etc/hosts',
      ], {
        env: ["GREETING=hello"],
        hostname: "builder",
        network: "host",
      });

      const [environment, hostname, ...hosts] = result.stdout.split("\n");
      assertEquals(
        environment,
        "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin|builder|hello",
      );
      assertEquals(hostname, "builder");
      assertMatch(hosts.join("\n"), /127\.0\.0\.1\s+localhost builder/);
    });
  });

  Deno.test(`runc executor adds bind and tmpfs mounts (${strategy})`, async () => {
    await withSandbox(strategy, async ({ dir, upper, run }) => {
      const source = join(dir, "cache");
      await Deno.mkdir(source);
      await Deno.writeTextFile(join(source, "data"), "cached");
      const script =
        "cat /mnt/cache/data; echo x > /mnt/scratch/file && echo tmpfs-ok; echo y > /mnt/cache/new || echo ro";

      const result = await run(["/bin/sh", "-c", script], {
        mounts: [
          { type: "bind", source, dest: "/mnt/cache", readonly: true },
          { type: "tmpfs", dest: "/mnt/scratch", size: 1 << 20 },
        ],
      });

      assertEquals(result.stdout, "cachedtmpfs-ok\nro\n");
      assertEquals(await describeTree(upper), {}, "mount points must not stay in upperDir");
      await Deno.remove(source, { recursive: true });
    });
  });
}

Deno.test("runc executor rejects a missing runc binary", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tsbuild-runc-test-" });
  try {
    const executor = createRuncExecutor({
      runcPath: join(dir, "no-runc"),
      stateRoot: join(dir, "state"),
    });

    const error = await assertRejects(
      () =>
        executor.run({
          lowerDirs: [],
          upperDir: dir,
          args: ["true"],
          env: [],
          cwd: "/",
          user: "",
          network: "none",
        }),
      NotFoundError,
    );
    assertEquals(
      error.message,
      `Failed to run the container: runc not found at "${join(dir, "no-runc")}"`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("runc executor rejects an unknown user", async () => {
  await withSandbox("overlay", async ({ upper, run }) => {
    const error = await assertRejects(() => run(["true"], { user: "nobody" }), NotFoundError);

    assertEquals(error.message, 'Failed to resolve user "nobody": no entry in /etc/passwd');
    assertEquals(await describeTree(upper), {});
  });
});

Deno.test("runc executor rejects a relative working directory", async () => {
  await withSandbox("overlay", async ({ run }) => {
    const error = await assertRejects(() => run(["true"], { cwd: "src" }), InvalidInputError);

    assertEquals(error.message, 'Invalid working directory "src": expected an absolute path');
  });
});

Deno.test("runc executor kills the container when a callback throws", async () => {
  await withSandbox("overlay", async ({ run }) => {
    const started = Date.now();
    const running = run(["/bin/sh", "-c", "echo ready; sleep 100"], {
      stdout: () => {
        throw new Error("consumer failed");
      },
    });

    await assertRejects(() => running, Error, "consumer failed");
    assert(Date.now() - started < 5000, `stopping took ${Date.now() - started} ms`);
  });
});

Deno.test("runc executor rejects an already aborted signal", async () => {
  await withSandbox("overlay", async ({ upper, run }) => {
    const controller = new AbortController();
    controller.abort();

    await assertRejects(() => run(["true"], { signal: controller.signal }), CancelledError);
    assertEquals(await describeTree(upper), {});
  });
});
