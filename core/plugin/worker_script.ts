/**
 * Builds the source of a plugin worker: the runtime functions as text, followed by a call that
 * serves the given plugin bundle.
 *
 * @module
 */

import { encodeBase64 } from "./_bundle.ts";
import { createRpcEndpoint } from "./worker_rpc.ts";
import { createWorkerContext } from "./worker_context.ts";
import { describePluginModule, runPluginWorker } from "./worker_runtime.ts";

// The compiled binary loads only modules embedded at compile time or given as data: URLs, so the
// worker's code travels as text: each function's source (already JavaScript, as Deno transpiled
// it) refers to the others by their names.
const RUNTIME_SOURCE = [
  createRpcEndpoint,
  createWorkerContext,
  describePluginModule,
  runPluginWorker,
]
  .map((fn) => fn.toString())
  .join("\n\n");

/** Returns a `data:` URL of a worker module that serves the plugin bundle at `bundleUrl`. */
export function workerScriptUrl(bundleUrl: string): string {
  const source = `${RUNTIME_SOURCE}\n\nrunPluginWorker(${JSON.stringify(bundleUrl)});\n`;
  return `data:application/javascript;base64,${encodeBase64(source)}`;
}
