import { assertEquals } from "../../_assert.ts";
import { TarHasher } from "../../../core/oci/_tar_hasher.ts";
import { sha256 } from "./_layer_fixtures.ts";
import { concat } from "./_tar_blocks.ts";

const CHUNK = 64 * 1024;

/** Returns `count` full chunks of random bytes and one short last chunk. */
function chunks(count: number): Uint8Array[] {
  const list = Array.from({ length: count }, () => crypto.getRandomValues(new Uint8Array(CHUNK)));
  list.push(crypto.getRandomValues(new Uint8Array(1000)));
  return list;
}

Deno.test("TarHasher hashes a small tar in place", async () => {
  const input = chunks(3);
  const expected = sha256(concat(input));
  const pool: Uint8Array[] = [];
  const hasher = new TarHasher(pool, CHUNK, { offloadAfter: 100 * CHUNK });
  for (const chunk of input) await hasher.update(chunk);
  assertEquals(await hasher.digest(), { digest: expected, size: 3 * CHUNK + 1000 });
  assertEquals(hasher.offloaded, false);
});

Deno.test("TarHasher moves a large tar to a worker and returns its chunks", async () => {
  const input = chunks(40);
  const expected = sha256(concat(input));
  const pool: Uint8Array[] = [];
  const hasher = new TarHasher(pool, CHUNK, { offloadAfter: 4 * CHUNK });
  for (const chunk of input) await hasher.update(chunk);
  assertEquals(hasher.offloaded, true);
  assertEquals(await hasher.digest(), { digest: expected, size: 40 * CHUNK + 1000 });
  // Every full chunk came back for reuse; the short last one did not.
  assertEquals(pool.length, 40);
  assertEquals(pool.every((chunk) => chunk.byteLength === CHUNK), true);
});
