/**
 * Writes a marshalled build definition to standard output, for
 * `deno run build.ts | tsbuild build`.
 *
 * @module
 */

import type { MarshalOptions, State } from "./builder.ts";
import { encodeDefinition } from "./definition.ts";

/** Marshals `state` and writes the definition's protobuf bytes to stdout (or `output`). */
export async function writeDefinition(
  state: State,
  options: MarshalOptions & { output?: WritableStream<Uint8Array> } = {},
): Promise<void> {
  const bytes = encodeDefinition(state.marshal(options));
  if (options.output) {
    const writer = options.output.getWriter();
    await writer.write(bytes);
    await writer.close();
    return;
  }
  let written = 0;
  while (written < bytes.length) written += await Deno.stdout.write(bytes.subarray(written));
}
