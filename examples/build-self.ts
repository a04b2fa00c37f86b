// deno-lint-ignore-file no-console -- a command-line script reports its usage error
/**
 * A build program that describes tsbuild's own image from its sources. The base image is named by
 * the first argument or TSBUILD_BASE. The sources are copied to /app, a RUN records their
 * digests in /app/SOURCES.sha256, and the CMD starts the command line with Deno.
 *
 * Run it from the repository root and pipe the definition into `tsbuild build`, naming the
 * repository as the "context" local directory:
 *
 * ```sh
 * deno run --allow-env examples/build-self.ts 127.0.0.1:5000/deno:2.9.6 |
 *   deno task tsbuild build --frontend definition --local context=. \
 *     --output type=oci,dest=tsbuild.tar
 * ```
 *
 * The RUN step needs only a POSIX shell with `find`, `sort`, `xargs` and `sha256sum`, so a
 * busybox base builds too; the CMD needs `deno` on the base image's PATH.
 *
 * @module
 */

import { copy, image, local, writeDefinition } from "../mod.ts";

/** The parts of the repository the image contains: the command line, the library and the plugins. */
const SOURCES = ["cli.ts", "mod.ts", "deno.json", "deno.lock", "core", "plugins"];
const PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

const base = Deno.args[0] ?? Deno.env.get("TSBUILD_BASE");
if (!base) {
  console.error("Usage: deno run --allow-env examples/build-self.ts BASE_IMAGE (or TSBUILD_BASE)");
  Deno.exit(2);
}

const sources = local("context", {
  include: SOURCES,
  exclude: ["**/*_test.ts"],
  info: { description: "[internal] load tsbuild's sources" },
});

const app = image(base, { info: { description: `FROM ${base}` } })
  .env("PATH", PATH)
  .describe({ description: "COPY sources to /app/" })
  .file(copy(sources, ".", "/app/", { dirContentsOnly: true, followSymlinks: true }))
  .dir("/app")
  .run({
    args: "find . -type f ! -name SOURCES.sha256 | sort | xargs sha256sum > SOURCES.sha256",
    info: { description: "RUN record the sources' digests" },
  });

await writeDefinition(app, {
  imageConfig: {
    config: {
      Env: [`PATH=${PATH}`],
      WorkingDir: "/app",
      Cmd: ["deno", "run", "--allow-all", "--unstable-worker-options", "/app/cli.ts"],
      Labels: { "org.opencontainers.image.title": "tsbuild" },
    },
  },
});
