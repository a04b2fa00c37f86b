/**
 * Test fixture that pushes the busybox image of `buildBusyboxImage()` to a registry with skopeo.
 *
 * @module
 */

import { join } from "../../core/deps.ts";
import { type Digest, isDigest } from "../../core/digest.ts";
import { buildBusyboxImage } from "./busybox_image.ts";

const SKOPEO_BINARY = "/usr/bin/skopeo";
// skopeo checks every copy against a signature policy; the fixture accepts any image so it
// does not depend on /etc/containers/policy.json being installed.
const ACCEPT_ANYTHING_POLICY = '{"default":[{"type":"insecureAcceptAnything"}]}';

/**
 * Builds the busybox layout in a temporary folder and copies it to `registryHost` with
 * `skopeo copy --dest-tls-verify=false oci:DIR:1 docker://HOST/REF`. Returns the manifest
 * digest the registry stored.
 *
 * @param registryHost "127.0.0.1:PORT" of a registry, such as one from `startRegistry()`.
 * @param reference Repository and tag inside that registry.
 */
export async function pushBusybox(registryHost: string, reference = "busybox:1"): Promise<Digest> {
  const dir = await Deno.makeTempDir({ prefix: "tsbuild-busybox-" });
  try {
    const layoutDir = join(dir, "layout");
    await Deno.mkdir(layoutDir);
    const image = await buildBusyboxImage(layoutDir);
    const policyPath = join(dir, "policy.json");
    await Deno.writeTextFile(policyPath, ACCEPT_ANYTHING_POLICY);
    const digestPath = join(dir, "digest");

    await runSkopeo([
      "--policy",
      policyPath,
      "copy",
      "--quiet",
      "--dest-tls-verify=false",
      "--digestfile",
      digestPath,
      `oci:${layoutDir}:${image.tag}`,
      `docker://${registryHost}/${reference}`,
    ]);

    const digest = (await Deno.readTextFile(digestPath)).trim();
    if (!isDigest(digest)) throw new Error(`skopeo wrote an invalid digest "${digest}"`);
    return digest;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function runSkopeo(args: string[]): Promise<void> {
  const output = await new Deno.Command(SKOPEO_BINARY, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!output.success) {
    const stderr = new TextDecoder().decode(output.stderr).trim();
    throw new Error(`skopeo ${args.slice(2).join(" ")} exited with ${output.code}: ${stderr}`);
  }
}
