/**
 * The BuildKit side of the benchmark: `docker build` with DOCKER_BUILDKIT=1 against a
 * private dockerd from Debian's docker.io package.
 *
 * @module
 */

import { join } from "../../core/deps.ts";
import { isExecutable, removeTree, runCommand } from "./processes.ts";
import {
  CONTAINERD_BINARY,
  DOCKER_CLIENT,
  DOCKERD_BINARY,
  type RunningDockerd,
  startDockerd,
} from "./dockerd.ts";
import { type BenchTool, once, type ToolSetup, ToolUnavailableError } from "./tool.ts";

const IMAGE_NAME = "tsbuild-bench:latest";

/**
 * Starts a private dockerd and checks that it can pull the base image from the loopback
 * registry, which dockerd treats as insecure (plain HTTP) by default for 127.0.0.0/8.
 *
 * @throws {ToolUnavailableError} when docker.io is not installed or dockerd cannot start or
 * pull the base image.
 */
export async function startBuildkit(setup: ToolSetup): Promise<BenchTool> {
  for (const binary of [DOCKERD_BINARY, CONTAINERD_BINARY, DOCKER_CLIENT]) {
    if (!isExecutable(binary)) {
      throw new ToolUnavailableError(
        `${binary} is missing or not executable: install Debian's docker.io package`,
      );
    }
  }

  const daemonDir = join(setup.dir, "daemon");
  await Deno.mkdir(daemonDir);
  let dockerd: RunningDockerd;
  try {
    dockerd = await startDockerd(daemonDir);
  } catch (error) {
    throw new ToolUnavailableError(`dockerd did not start: ${errorMessage(error)}`, {
      cause: error,
    });
  }
  const close = once(async () => {
    await dockerd.stop();
    await removeTree(setup.dir);
  });

  const docker = createDockerClient(dockerd.socket, join(setup.dir, "client-config"));
  try {
    await docker(["pull", "--quiet", setup.baseImage]);
  } catch (error) {
    await close();
    throw new ToolUnavailableError(
      `dockerd failed to pull "${setup.baseImage}": ${errorMessage(error)}`,
      { cause: error },
    );
  }

  return {
    name: "buildkit",
    version: `dockerd ${dockerd.version} with its built-in BuildKit`,
    notes: [
      `DOCKER_BUILDKIT=1 ${DOCKER_CLIENT} build --network=none -q -t ${IMAGE_NAME}`,
      "each build stores the image in dockerd's image store",
      "cold: docker image prune -af and docker builder prune -af, so the base image is pulled again",
    ],
    async reset() {
      await docker(["image", "prune", "--all", "--force"]);
      await docker(["builder", "prune", "--all", "--force"]);
    },
    async build(contextDir) {
      const result = await docker([
        "build",
        "--network=none",
        "--quiet",
        "--build-arg",
        `BASE=${setup.baseImage}`,
        "--tag",
        IMAGE_NAME,
        contextDir,
      ]);
      return result.seconds;
    },
    close,
  };
}

// Returns a function that runs /usr/bin/docker against `socket`, with a client config
// folder of its own so that ~/.docker settings do not apply.
function createDockerClient(socket: string, configDir: string) {
  const env = { DOCKER_BUILDKIT: "1", DOCKER_CONFIG: configDir };
  return (args: string[]) =>
    runCommand(DOCKER_CLIENT, ["-H", `unix://${socket}`, ...args], { env });
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
