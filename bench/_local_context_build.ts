// deno-lint-ignore-file no-console -- a command-line script prints its result
/**
 * One build for `bench/local_context.ts` that keeps the image in tsbuild's own store, as
 * `docker build` keeps it in dockerd's image store and buildah in its storage. The built-in
 * plugins build the Dockerfile, and an exporter defined here assembles the image (layers,
 * config and manifest in the store) without copying it anywhere else.
 *
 * Usage: `deno run --allow-all --unstable-worker-options bench/_local_context_build.ts
 * ROOT CONTEXT BASE COMPRESSION`, where COMPRESSION is gzip, zstd or none. Prints the
 * manifest digest.
 *
 * @module
 */

import { build } from "../core/build.ts";
import { createRuncExecutor } from "../core/exec/runc.ts";
import { hostPlatform } from "../core/oci/platform.ts";
import { PluginRegistry } from "../core/plugin/registry.ts";
import type { Plugin } from "../core/plugin/types.ts";
import { RecordingSink } from "../core/progress/events.ts";
import { createRegistryClient } from "../core/registry/client.ts";
import { BUILTIN_PLUGINS } from "../plugins/builtin.ts";

const COMPRESSIONS = ["gzip", "zstd", "none"] as const;

/** An exporter that only assembles the image in the store. */
const storeExporter: Plugin = {
  apiVersion: 1,
  name: "bench-store-exporter",
  exporters: [{
    name: "store",
    async onExport(args, context) {
      const compression = args.attrs.compression as typeof COMPRESSIONS[number];
      const image = await context.buildImage({ compression });
      return { digest: image.manifest.digest };
    },
  }],
};

async function main(argv: string[]): Promise<number> {
  const [root, context, base, compression] = argv;
  if (!root || !context || !base || !COMPRESSIONS.includes(compression as "none")) {
    console.error("Usage: _local_context_build.ts ROOT CONTEXT BASE gzip|zstd|none");
    return 2;
  }
  const plugins = new PluginRegistry();
  for (const plugin of [...BUILTIN_PLUGINS, storeExporter]) plugins.register(plugin);

  const report = await build({
    root,
    frontend: "dockerfile",
    frontendOptions: { "build-arg:BASE": base },
    locals: { context, dockerfile: context },
    outputs: [{ type: "store", attrs: { compression } }],
    names: [],
    platform: hostPlatform(),
    plugins,
    executor: createRuncExecutor({ stateRoot: `${root}/runc` }),
    registry: createRegistryClient(),
    sink: new RecordingSink(),
    signal: new AbortController().signal,
  });
  console.log(report.exports[0].result.digest);
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
