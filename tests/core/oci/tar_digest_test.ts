import { assertEquals, assertRejects } from "../../_assert.ts";
import { createDigestTap } from "../../../core/oci/_tar_digest.ts";
import { createHash } from "../../../core/deps.ts";

function sha256(chunks: Uint8Array[]): string {
  const hash = createHash("sha256");
  for (const chunk of chunks) hash.update(chunk);
  return `sha256:${hash.digest("hex")}`;
}

function chunksOf(count: number, size: number): Uint8Array[] {
  return Array.from({ length: count }, (_, index) => new Uint8Array(size).fill(index + 1));
}

async function passThrough(chunks: Uint8Array[]) {
  const tap = createDigestTap();
  const received: Uint8Array[] = [];
  await ReadableStream.from(chunks).pipeThrough(tap.transform).pipeTo(
    new WritableStream({ write: (chunk) => void received.push(chunk) }),
  );
  return { received, result: tap.result() };
}

Deno.test("createDigestTap() digests many chunks and passes each on", async () => {
  const chunks = chunksOf(12, 1024 * 1024);
  const { received, result } = await passThrough(chunks);
  assertEquals(result, { digest: sha256(chunks), size: 12 * 1024 * 1024 });
  assertEquals(received.length, 12);
  assertEquals(received.map((chunk) => chunk[0]), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
});

Deno.test("createDigestTap() digests one chunk and no chunk", async () => {
  const single = chunksOf(1, 300);
  assertEquals((await passThrough(single)).result, {
    digest: sha256(single),
    size: 300,
  });
  assertEquals((await passThrough([])).result, { digest: sha256([]), size: 0 });
});

for (const [label, count, size] of [["small", 3, 4096], ["large", 10, 1024 * 1024]] as const) {
  Deno.test(`createDigestTap() keeps the digest of a ${label} stream overwritten`, async () => {
    const chunks = chunksOf(count, size);
    const expected = sha256(chunks);
    const tap = createDigestTap();
    await ReadableStream.from(chunks.map((chunk) => chunk.slice())).pipeThrough(tap.transform)
      .pipeTo(new WritableStream({ write: (chunk) => void chunk.fill(0) }));
    assertEquals(tap.result().digest, expected);
  });
}

Deno.test("createDigestTap() fails with its source", async () => {
  const tap = createDigestTap();
  let sent = 0;
  const source = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent++ < 10) controller.enqueue(new Uint8Array(1024 * 1024));
      else controller.error(new Error("disk read failed"));
    },
  });
  await assertRejects(
    () => source.pipeThrough(tap.transform).pipeTo(new WritableStream()),
    Error,
    "disk read failed",
  );
});
