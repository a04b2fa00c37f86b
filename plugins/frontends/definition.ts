/**
 * The `definition` frontend: reads a serialised build definition from
 * standard input, as written by a build program's `writeDefinition()`.
 *
 * @module
 */

import type {
  FrontendBuildArgs,
  FrontendContext,
  FrontendPlugin,
  FrontendResult,
  Plugin,
} from "../../mod.ts";
import { decodeDefinition } from "../../core/graph/definition.ts";
import { readStreamLimited } from "../../core/fs/read_limited.ts";

/** The largest definition read from stdin; file contents belong in sources, not in the graph. */
const MAX_DEFINITION_BYTES = 256 * 1024 * 1024;

async function onBuild(
  args: FrontendBuildArgs,
  _context: FrontendContext,
): Promise<FrontendResult> {
  if (!args.stdin) {
    throw new TypeError(`Failed to read the build definition: standard input is not available`);
  }
  const bytes = await readStreamLimited(
    args.stdin,
    MAX_DEFINITION_BYTES,
    "the build definition from standard input",
  );
  if (bytes.length === 0) {
    throw new TypeError(
      "Failed to read the build definition: standard input was empty (did the program writing it fail, or is the build context missing? tsbuild build [flags] DIR)",
    );
  }
  return { definition: decodeDefinition(bytes, "the build definition from standard input") };
}

/** The `definition` frontend plugin. */
export const definitionFrontend: FrontendPlugin = { name: "definition", onBuild };

const plugin: Plugin = {
  apiVersion: 1,
  name: "builtin-definition-frontend",
  frontends: [definitionFrontend],
};
export default plugin;
