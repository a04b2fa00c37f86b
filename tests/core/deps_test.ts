/**
 * Tests of the modules `core/deps.ts` imports on first use.
 *
 * @module
 */

import { assert, assertEquals } from "../_assert.ts";
import { loadTarStream } from "../../core/deps.ts";

Deno.test("loadTarStream() returns one working module on every call", async () => {
  const first = await loadTarStream();
  const second = await loadTarStream();
  assert(first === second, "both calls return the same module");

  const pack = first.pack();
  pack.entry({ name: "hello.txt" }, "hello\n");
  pack.finalize();
  const extract = first.extract();
  const read = (async () => {
    const entries: [string, string][] = [];
    for await (const entry of extract) {
      const chunks: Uint8Array[] = [];
      for await (const chunk of entry) chunks.push(chunk as Uint8Array);
      entries.push([entry.header.name, new TextDecoder().decode(concat(chunks))]);
    }
    return entries;
  })();
  for await (const chunk of pack) extract.write(chunk);
  extract.end(undefined);
  assertEquals(await read, [["hello.txt", "hello\n"]]);
});

function concat(chunks: Uint8Array[]): Uint8Array {
  const result = new Uint8Array(chunks.reduce((total, chunk) => total + chunk.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    result.set(chunk, offset);
    offset += chunk.length;
  }
  return result;
}
