/**
 * Starts a private containerd for a test: its own root, state and socket under a temporary
 * directory, stopped by its pid when the test ends.
 *
 * @module
 */

/** A running containerd and the `ctr` command that talks to it. */
export interface TestContainerd extends AsyncDisposable {
  /** Runs `ctr` against this containerd in the fixture's namespace and returns its stdout. */
  ctr(args: string[]): Promise<string>;
  /** Path of the gRPC socket. */
  readonly address: string;
  /** The namespace `ctr` works in. */
  readonly namespace: string;
  /** The temporary directory that contains containerd's root, state, config and socket. */
  readonly dir: string;
  /** Stops containerd with SIGKILL, as a crash does; the root and state stay for `restart`. */
  kill(): Promise<void>;
  /** Starts containerd again on the same root, state and socket, after `kill`. */
  restart(): Promise<void>;
}

/** Options for {@link startContainerd}. */
export interface TestContainerdOptions {
  /** The containerd namespace `ctr` works in. @default "tsbuild-test" */
  namespace?: string;
}

const CONTAINERD = "/usr/bin/containerd";

/** Reports whether containerd is installed, for `ignore`. */
export function hasContainerd(): boolean {
  try {
    return Deno.statSync(CONTAINERD).isFile;
  } catch {
    return false;
  }
}

/** Starts containerd and waits until `ctr version` succeeds against its socket. */
export async function startContainerd(
  options: TestContainerdOptions = {},
): Promise<TestContainerd> {
  const namespace = options.namespace ?? "tsbuild-test";
  const dir = await Deno.makeTempDir({ prefix: "tsbuild-containerd-test-" });
  const address = `${dir}/containerd.sock`;
  await Deno.writeTextFile(`${dir}/config.toml`, configToml(dir, address));
  const spawn = () =>
    new Deno.Command(CONTAINERD, {
      args: ["--config", `${dir}/config.toml`],
      stdout: "null",
      stderr: "null",
    }).spawn();
  let child: Deno.ChildProcess | undefined = spawn();

  const ctr = async (args: string[]) => {
    const command = new Deno.Command("ctr", {
      args: ["-a", address, "-n", namespace, ...args],
    });
    const output = await command.output();
    const decoder = new TextDecoder();
    if (!output.success) {
      throw new Error(`ctr ${args.join(" ")} failed: ${decoder.decode(output.stderr)}`);
    }
    return decoder.decode(output.stdout);
  };
  const signal = async (name: Deno.Signal) => {
    if (!child) return;
    child.kill(name);
    await child.status;
    child = undefined;
  };
  const stop = async () => {
    await signal("SIGTERM");
    await Deno.remove(dir, { recursive: true });
  };
  const restart = async () => {
    if (child) throw new Error("containerd is still running: call kill() first");
    child = spawn();
    await waitUntilReady(ctr);
  };

  try {
    await waitUntilReady(ctr);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    ctr,
    address,
    namespace,
    dir,
    kill: () => signal("SIGKILL"),
    restart,
    [Symbol.asyncDispose]: stop,
  };
}

async function waitUntilReady(ctr: (args: string[]) => Promise<string>): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      await ctr(["version"]);
      return;
    } catch (error) {
      if (Date.now() > deadline) {
        throw new Error("containerd did not start within 10 s", { cause: error });
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

function configToml(dir: string, address: string): string {
  return [
    "version = 2",
    `root = "${dir}/root"`,
    `state = "${dir}/state"`,
    `disabled_plugins = ["io.containerd.grpc.v1.cri"]`,
    "[grpc]",
    `  address = "${address}"`,
    "[ttrpc]",
    `  address = "${address}.ttrpc"`,
    "",
  ].join("\n");
}
