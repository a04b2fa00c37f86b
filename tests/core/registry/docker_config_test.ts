import { join } from "../../../core/deps.ts";
import { InvalidInputError } from "../../../core/errors.ts";
import {
  defaultDockerConfigPath,
  normalizeRegistryHost,
  readDockerCredentials,
} from "../../../core/registry/docker_config.ts";
import { assert, assertEquals, assertRejects } from "../../_assert.ts";

async function withConfig(
  config: unknown,
  run: (dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "tsbuild-docker-config-" });
  try {
    const text = typeof config === "string" ? config : JSON.stringify(config);
    await Deno.writeTextFile(join(dir, "config.json"), text);
    await run(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("readDockerCredentials() decodes auth and reads username fields", async () => {
  const config = {
    auths: {
      "https://index.docker.io/v1/": { auth: btoa("hub-user:hub:pass") },
      "127.0.0.1:5000": { username: "local", password: "secret" },
      "ghcr.io": {},
    },
    credsStore: "desktop",
  };
  await withConfig(config, async (dir) => {
    const credentials = await readDockerCredentials(join(dir, "config.json"));
    assertEquals(credentials.get("docker.io"), { username: "hub-user", password: "hub:pass" });
    assertEquals(credentials.get("127.0.0.1:5000"), { username: "local", password: "secret" });
    assertEquals(credentials.has("ghcr.io"), false);
    assertEquals(credentials.size, 2);
  });
});

Deno.test("readDockerCredentials() accepts the folder instead of the file", async () => {
  await withConfig({ auths: { "localhost:5000": { auth: btoa("u:p") } } }, async (dir) => {
    const credentials = await readDockerCredentials(dir);
    assertEquals(credentials.get("localhost:5000"), { username: "u", password: "p" });
  });
});

Deno.test("readDockerCredentials() returns nothing for a missing file", async () => {
  const credentials = await readDockerCredentials("/nonexistent/tsbuild/config.json");
  assertEquals(credentials.size, 0);
});

Deno.test("readDockerCredentials() rejects invalid JSON without quoting it", async () => {
  await withConfig('{"auths": {"x": {"auth": "c2VjcmV0OnBhc3M="}}, oops', async (dir) => {
    const file = join(dir, "config.json");
    const error = await assertRejects(() => readDockerCredentials(file), InvalidInputError);
    assertEquals(error.message, `Failed to read Docker credentials from "${file}": invalid JSON`);
    assert(!String(error.cause ?? "").includes("c2VjcmV0"));
  });
});

Deno.test("readDockerCredentials() rejects a malformed auth without showing it", async () => {
  await withConfig({ auths: { "r.example": { auth: btoa("no-colon-secret") } } }, async (dir) => {
    const file = join(dir, "config.json");
    const error = await assertRejects(() => readDockerCredentials(file), InvalidInputError);
    assertEquals(
      error.message,
      `Failed to read Docker credentials from "${file}": the "auth" value for "r.example" is not base64 of "user:password"`,
    );
  });
});

Deno.test("defaultDockerConfigPath() follows DOCKER_CONFIG", () => {
  const previous = Deno.env.get("DOCKER_CONFIG");
  try {
    Deno.env.set("DOCKER_CONFIG", "/etc/tsbuild-test-docker");
    assertEquals(defaultDockerConfigPath(), "/etc/tsbuild-test-docker/config.json");
    Deno.env.delete("DOCKER_CONFIG");
    assert(defaultDockerConfigPath().endsWith("/.docker/config.json"));
  } finally {
    if (previous === undefined) Deno.env.delete("DOCKER_CONFIG");
    else Deno.env.set("DOCKER_CONFIG", previous);
  }
});

Deno.test("normalizeRegistryHost() maps Docker Hub keys to docker.io", () => {
  assertEquals(normalizeRegistryHost("https://index.docker.io/v1/"), "docker.io");
  assertEquals(normalizeRegistryHost("registry-1.docker.io"), "docker.io");
  assertEquals(normalizeRegistryHost("http://127.0.0.1:5000/v2/"), "127.0.0.1:5000");
  assertEquals(normalizeRegistryHost("GHCR.io"), "ghcr.io");
});
