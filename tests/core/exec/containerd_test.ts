import { createContainerdClient } from "../../../core/containerd/client.ts";
import { join } from "../../../core/deps.ts";
import {
  CancelledError,
  ContainerStartError,
  InvalidInputError,
  NotFoundError,
  RemoteError,
} from "../../../core/errors.ts";
import { createContainerdExecutor } from "../../../core/exec/containerd.ts";
import type { ExecRequest, Executor } from "../../../core/exec/executor.ts";
import { createRuncExecutor } from "../../../core/exec/runc.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  assertStringIncludes,
} from "../../_assert.ts";
import { hasContainerd, startContainerd, type TestContainerd } from "../../_fixtures/containerd.ts";
import { runCli } from "../../_fixtures/cli.ts";
import { importBusybox } from "../containerd/_busybox_import.ts";
import { describeTree } from "../snapshot/_tree.ts";
import { createBusyboxLayer, mountsUnder } from "./_busybox.ts";

const STRATEGIES = ["overlay", "copy"] as const;
type Strategy = typeof STRATEGIES[number];
const ignore = !hasContainerd();

interface Sandbox {
  dir: string;
  base: string;
  upper: string;
  containerd: TestContainerd;
  /** Runs `args` and returns the exit code with the decoded output. */
  run(
    args: string[],
    extra?: Partial<ExecRequest>,
  ): Promise<{ exitCode: number; stdout: string; stderr: string }>;
}

/** Gives `fn` a busybox base layer, an empty upper directory and a containerd executor. */
async function withSandbox(
  strategy: Strategy,
  fn: (sandbox: Sandbox) => Promise<void>,
): Promise<void> {
  await using containerd = await startContainerd({ namespace: "buildkit" });
  using client = createContainerdClient({ address: containerd.address, namespace: "buildkit" });
  const dir = await Deno.makeTempDir({ prefix: "tsbuild-containerd-exec-test-" });
  const base = join(dir, "base");
  const upper = join(dir, "upper");
  await Deno.mkdir(base);
  await Deno.mkdir(upper);
  await createBusyboxLayer(base);
  const executor = createContainerdExecutor({ client, snapshotter: strategy });

  try {
    await fn({ dir, base, upper, containerd, run: runner(executor, [base], upper) });
    assertEquals(await mountsUnder(dir), [], "no mount may be left behind");
    assertEquals(await containerd.ctr(["containers", "ls", "-q"]), "", "no container may stay");
    assertEquals(
      (await containerd.ctr(["tasks", "ls", "-q"])).trim(),
      "",
      "no task may stay",
    );
    assertEquals((await listNames(dir)).sort(), ["base", "upper"], "no scratch may be left");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function runner(executor: Executor, lowerDirs: string[], upperDir: string): Sandbox["run"] {
  return async (args, extra = {}) => {
    const stdout: Uint8Array[] = [];
    const stderr: Uint8Array[] = [];
    const result = await executor.run({
      lowerDirs,
      upperDir,
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

for (const strategy of STRATEGIES) {
  Deno.test({
    name: `containerd executor writes a new file into upperDir (${strategy})`,
    ignore,
    async fn() {
      await withSandbox(strategy, async ({ upper, run }) => {
        const result = await run(["/bin/sh", "-c", "echo hi > /out.txt"], { network: "host" });

        assertEquals(result.exitCode, 0);
        const tree = await describeTree(upper, { times: false });
        // Only the file: the mount points for /etc/hosts and /etc/resolv.conf are gone.
        assertEquals(tree, { "out.txt": 'file 644 0:0 "hi\\n"' });
      });
    },
  });

  Deno.test({
    name: `containerd executor records a deleted lower file as a whiteout (${strategy})`,
    ignore,
    async fn() {
      await withSandbox(strategy, async ({ upper, run }) => {
        const result = await run(["rm", "/etc/group"]);

        assertEquals(result.exitCode, 0);
        const tree = await describeTree(upper, { times: false });
        assertEquals(tree["etc/group"], "whiteout");
        assertEquals(tree["etc/passwd"], undefined);
      });
    },
  });

  Deno.test({
    name: `containerd executor reports the exit code (${strategy})`,
    ignore,
    async fn() {
      await withSandbox(strategy, async ({ run }) => {
        const result = await run(["/bin/sh", "-c", "exit 3"]);

        assertEquals(result.exitCode, 3);
      });
    },
  });

  Deno.test({
    name: `containerd executor cancels a running process (${strategy})`,
    ignore,
    async fn() {
      await withSandbox(strategy, async ({ run }) => {
        const controller = new AbortController();
        const started = Date.now();
        const running = run(["sleep", "100"], { signal: controller.signal });
        setTimeout(() => controller.abort(), 300);

        await assertRejects(() => running, CancelledError);
        assert(Date.now() - started < 5000, `cancelling took ${Date.now() - started} ms`);
      });
    },
  });
}

Deno.test({
  name: "containerd executor cancels at any point of the task start",
  ignore,
  async fn() {
    await withSandbox("overlay", async ({ upper, run }) => {
      for (const delay of [0, 10, 20, 40, 60, 80, 120, 160]) {
        const controller = new AbortController();
        const started = Date.now();
        const running = run(["sleep", "100"], { signal: controller.signal });
        setTimeout(() => controller.abort(), delay);

        await assertRejects(() => running, CancelledError);
        assert(Date.now() - started < 5000, `cancelling after ${delay} ms took too long`);
        await Deno.remove(upper, { recursive: true });
        await Deno.mkdir(upper);
      }
    });
  },
});

Deno.test({
  name: "containerd executor streams stdout and stderr apart",
  ignore,
  async fn() {
    await withSandbox("overlay", async ({ run }) => {
      const result = await run(["/bin/sh", "-c", "echo out; echo err >&2; seq 1 20000 | wc -l"]);

      assertEquals(result.stdout, "out\n20000\n");
      assertEquals(result.stderr, "err\n");
    });
  },
});

Deno.test({
  name: "containerd executor runs as the resolved user",
  ignore,
  async fn() {
    await withSandbox("overlay", async ({ run }) => {
      const result = await run(["/bin/sh", "-c", "id -u; id -g; id -G; echo $HOME"], {
        user: "app",
      });

      assertEquals(result.stdout, "1000\n1000\n1000 50\n/home/app\n");
    });
  },
});

Deno.test({
  name: "containerd executor gives network none only lo",
  ignore,
  async fn() {
    await withSandbox("overlay", async ({ run }) => {
      const result = await run(["cat", "/proc/net/dev"], { network: "none" });

      const interfaces = result.stdout.split("\n").slice(2).filter((line) => line.includes(":"))
        .map((line) => line.split(":")[0].trim());
      assertEquals(interfaces, ["lo"]);
    });
  },
});

Deno.test({
  name: "containerd executor creates a missing working directory",
  ignore,
  async fn() {
    await withSandbox("overlay", async ({ upper, run }) => {
      const result = await run(["pwd"], { cwd: "/work/deep", user: "app" });

      assertEquals(result.stdout, "/work/deep\n");
      const tree = await describeTree(upper, { times: false });
      assertEquals(tree["work"], "dir 755 0:0");
      assertEquals(tree["work/deep"], "dir 755 0:0");
    });
  },
});

Deno.test({
  name: "containerd executor sets the environment and hostname",
  ignore,
  async fn() {
    await withSandbox("overlay", async ({ run }) => {
      const result = await run([
        "/bin/sh",
        "-c",
        'echo "$PATH|$HOSTNAME|$GREETING"; hostname; cat /etc/hosts',
      ], { env: ["GREETING=hello"], hostname: "builder", network: "host" });

      const [environment, hostname, ...hosts] = result.stdout.split("\n");
      assertEquals(
        environment,
        "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin|builder|hello",
      );
      assertEquals(hostname, "builder");
      assertMatch(hosts.join("\n"), /127\.0\.0\.1\s+localhost builder/);
    });
  },
});

Deno.test({
  name: "containerd executor adds bind and tmpfs mounts",
  ignore,
  async fn() {
    await withSandbox("overlay", async ({ dir, upper, run }) => {
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
  },
});

Deno.test({
  name: "containerd executor rejects a missing program with runc's message",
  ignore,
  async fn() {
    await withSandbox("overlay", async ({ run }) => {
      const error = await assertRejects(() => run(["/no/such/program"]), ContainerStartError);

      assertStringIncludes(error.message, 'Failed to start "/no/such/program" in the container: ');
      assertStringIncludes(error.message, "no such file or directory");
    });
  },
});

Deno.test({
  name: "containerd executor rejects an unknown user",
  ignore,
  async fn() {
    await withSandbox("overlay", async ({ upper, run }) => {
      const error = await assertRejects(() => run(["true"], { user: "nobody" }), NotFoundError);

      assertEquals(error.message, 'Failed to resolve user "nobody": no entry in /etc/passwd');
      assertEquals(await describeTree(upper), {});
    });
  },
});

Deno.test({
  name: "containerd executor rejects a relative working directory",
  ignore,
  async fn() {
    await withSandbox("overlay", async ({ run }) => {
      const error = await assertRejects(() => run(["true"], { cwd: "src" }), InvalidInputError);

      assertEquals(error.message, 'Invalid working directory "src": expected an absolute path');
    });
  },
});

Deno.test({
  name: "containerd executor kills the task when a callback throws",
  ignore,
  async fn() {
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
  },
});

Deno.test({
  name: "containerd executor rejects an already aborted signal",
  ignore,
  async fn() {
    await withSandbox("overlay", async ({ upper, run }) => {
      const controller = new AbortController();
      controller.abort();

      await assertRejects(() => run(["true"], { signal: controller.signal }), CancelledError);
      assertEquals(await describeTree(upper), {});
    });
  },
});

Deno.test({
  name: "containerd executor writes the same files as runc",
  ignore,
  async fn() {
    await withSandbox("overlay", async ({ dir, base, upper, run }) => {
      const script = [
        "mkdir -p /app/data && echo one > /app/data/1.txt && chmod 600 /app/data/1.txt",
        "ln -s /app/data/1.txt /app/link",
        "rm /etc/group && echo changed >> /etc/passwd",
        "chown 1000:1000 /app/data",
      ].join(" && ");
      const runcUpper = join(dir, "runc-upper");
      await Deno.mkdir(runcUpper);
      const stateRoot = await Deno.makeTempDir({ prefix: "tsbuild-runc-state-" });
      try {
        const runc = runner(
          createRuncExecutor({ stateRoot, snapshotter: "overlay" }),
          [base],
          runcUpper,
        );

        const viaContainerd = await run(["/bin/sh", "-c", script]);
        const viaRunc = await runc(["/bin/sh", "-c", script]);

        assertEquals(viaContainerd.exitCode, 0, viaContainerd.stderr);
        assertEquals(viaRunc.exitCode, 0, viaRunc.stderr);
        const tree = await describeTree(upper, { times: false });
        assertEquals(tree, await describeTree(runcUpper, { times: false }));
        assertEquals(tree["app/data/1.txt"], 'file 600 0:0 "one\\n"');
      } finally {
        await Deno.remove(runcUpper, { recursive: true });
        await Deno.remove(stateRoot, { recursive: true });
      }
    });
  },
});

Deno.test({
  name: "containerd executor names a missing socket",
  ignore,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "tsbuild-containerd-exec-test-" });
    try {
      const address = join(dir, "missing.sock");
      using client = createContainerdClient({ address, namespace: "buildkit" });
      await Deno.mkdir(join(dir, "base"));
      await Deno.mkdir(join(dir, "upper"));
      await createBusyboxLayer(join(dir, "base"));
      const run = runner(
        createContainerdExecutor({ client }),
        [join(dir, "base")],
        join(dir, "upper"),
      );

      const error = await assertRejects(() => run(["true"]), RemoteError);

      assertStringIncludes(error.message, `containerd socket "${address}" does not exist`);
      assertEquals(await mountsUnder(dir), []);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "build with --executor containerd gives the image runc gives",
  ignore,
  async fn() {
    await using containerd = await startContainerd({ namespace: "buildkit" });
    await importBusybox(containerd);
    const dir = await Deno.makeTempDir({ prefix: "tsbuild-containerd-exec-test-" });
    try {
      await Deno.mkdir(join(dir, "context"));
      await Deno.writeTextFile(
        join(dir, "context", "Dockerfile"),
        [
          "FROM busybox:1",
          "RUN mkdir -p /app/data && echo one > /app/data/1.txt && chmod 600 /app/data/1.txt",
          "RUN ln -s /app/data/1.txt /app/link && rm /etc/group && chown 1000:1000 /app/data",
          "USER app",
          "WORKDIR /home/app",
          "RUN id > ids.txt && echo $HOME > home.txt",
          "",
        ].join("\n"),
      );
      const build = async (executor: string) => {
        const result = await runCli([
          "build",
          "--root",
          join(dir, `root-${executor}`),
          "--progress",
          "plain",
          "--containerd-address",
          containerd.address,
          "--executor",
          executor,
          "--output",
          `type=local,dest=${join(dir, `out-${executor}`)}`,
          "--output",
          `type=oci,dest=${join(dir, `${executor}.tar`)}`,
          join(dir, "context"),
        ], { env: { SOURCE_DATE_EPOCH: "0" } });
        assertEquals(result.code, 0, result.stderr);
        return result.stderr.match(/exported oci: (sha256:[a-f0-9]{64})/)?.[1];
      };

      const viaContainerd = await build("containerd");
      const viaRunc = await build("runc");

      const tree = await describeTree(join(dir, "out-containerd"), { times: false });
      assertEquals(tree, await describeTree(join(dir, "out-runc"), { times: false }));
      assertEquals(tree["home/app/ids.txt"], 'file 644 1000:1000 "uid=1000(app) gid=1000\\n"');
      assertEquals(tree["etc/group"], undefined);
      assert(viaContainerd, "the containerd build exported no OCI image");
      assertEquals(viaContainerd, viaRunc, "both executors must give the same image digest");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("build rejects an unknown --executor", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tsbuild-containerd-exec-test-" });
  try {
    await Deno.writeTextFile(join(dir, "Dockerfile"), "FROM scratch\n");

    const result = await runCli([
      "build",
      "--root",
      join(dir, "root"),
      "--executor",
      "podman",
      dir,
    ]);

    assertEquals(result.code === 0, false);
    assertStringIncludes(
      result.stderr,
      'Invalid --executor "podman": expected "runc" or "containerd"',
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
