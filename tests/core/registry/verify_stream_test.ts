import { digestOf } from "../../../core/digest.ts";
import { DigestMismatchError } from "../../../core/errors.ts";
import { createVerifyingStream } from "../../../core/registry/verify_stream.ts";
import { assertEquals, assertRejects } from "../../_assert.ts";

const CONTENT = new TextEncoder().encode("hello layer");
const EXPECTED = { digest: digestOf(CONTENT), size: CONTENT.byteLength };

async function readThrough(chunks: Uint8Array[]): Promise<Uint8Array> {
  const stream = ReadableStream.from(chunks).pipeThrough(createVerifyingStream(EXPECTED, "Check"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

Deno.test("createVerifyingStream() passes matching content through", async () => {
  assertEquals(await readThrough([CONTENT.subarray(0, 4), CONTENT.subarray(4)]), CONTENT);
});

Deno.test("createVerifyingStream() rejects content of the right size but other bytes", async () => {
  const other = new TextEncoder().encode("hello LAYER");
  const error = await assertRejects(() => readThrough([other]), DigestMismatchError);
  assertEquals(
    error.message,
    `Check: content hashes to "${digestOf(other)}", expected "${EXPECTED.digest}"`,
  );
});

Deno.test("createVerifyingStream() rejects short and long content", async () => {
  const short = await assertRejects(() => readThrough([CONTENT.subarray(1)]), DigestMismatchError);
  assertEquals(short.message, `Check: received 10 bytes, expected 11`);
  const long = await assertRejects(() => readThrough([CONTENT, CONTENT]), DigestMismatchError);
  assertEquals(long.message, `Check: received more than the expected 11 bytes`);
});
