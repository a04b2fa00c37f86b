import { assertEquals, assertRejects } from "../../_assert.ts";
import { BlobStore } from "../../../core/store/blobs.ts";
import { digestOf } from "../../../core/digest.ts";
import { DigestMismatchError } from "../../../core/errors.ts";
import { createHash } from "../../../core/deps.ts";

function streamOf(...chunks: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return ReadableStream.from(chunks.map((chunk) => encoder.encode(chunk)));
}

async function entries(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  return names.sort();
}

Deno.test("writeStream() stores a blob under the digest of its bytes", async () => {
  await using root = await temporaryRoot();
  const blobs = new BlobStore(root.path);
  const info = await blobs.writeStream(streamOf("layer ", "bytes"));
  assertEquals(info, { digest: digestOf("layer bytes"), size: 11 });
  assertEquals(new TextDecoder().decode(await blobs.read(info.digest)), "layer bytes");
});

Deno.test("writeStream() stores a blob larger than the background flush interval whole", async () => {
  await using root = await temporaryRoot();
  const blobs = new BlobStore(root.path);
  const chunk = new Uint8Array(1024 * 1024).fill(0x61);
  const chunks = 150;
  const stream = ReadableStream.from((function* () {
    for (let i = 0; i < chunks; i++) yield chunk;
  })());
  const info = await blobs.writeStream(stream);
  const expected = createHash("sha256");
  for (let i = 0; i < chunks; i++) expected.update(chunk);
  assertEquals(info, { digest: `sha256:${expected.digest("hex")}`, size: chunks * chunk.length });
  assertEquals((await Deno.stat(blobs.path(info.digest))).size, chunks * chunk.length);
  assertEquals(await entries(blobs.dir), [info.digest.slice("sha256:".length)]);
});

Deno.test("writeStream() refuses bytes that do not match the expected digest and keeps nothing", async () => {
  await using root = await temporaryRoot();
  const blobs = new BlobStore(root.path);
  await assertRejects(
    () => blobs.writeStream(streamOf("tampered"), { digest: digestOf("original") }),
    DigestMismatchError,
    "content has digest",
  );
  assertEquals(await entries(blobs.dir), []);
});

Deno.test("writeHashedStream() names the blob by the producer's digest", async () => {
  await using root = await temporaryRoot();
  const blobs = new BlobStore(root.path);
  const digest = digestOf("packed tar");
  const info = await blobs.writeHashedStream(streamOf("packed", " tar"), Promise.resolve(digest));
  assertEquals(info, { digest, size: 10 });
  assertEquals(await entries(blobs.dir), [digest.slice("sha256:".length)]);
});

Deno.test("writeHashedStream() keeps nothing when the producer fails", async () => {
  await using root = await temporaryRoot();
  const blobs = new BlobStore(root.path);
  await assertRejects(
    () => blobs.writeHashedStream(streamOf("partial"), Promise.reject(new Error("pack failed"))),
    Error,
    "pack failed",
  );
  assertEquals(await entries(blobs.dir), []);

  const failing = new ReadableStream<Uint8Array>({
    pull(controller) {
      controller.error(new Error("read failed"));
    },
  });
  const never = new Promise<never>(() => {});
  await assertRejects(() => blobs.writeHashedStream(failing, never), Error, "read failed");
  assertEquals(await entries(blobs.dir), []);
});

async function temporaryRoot() {
  const path = await Deno.makeTempDir({ prefix: "tsbuild-blobs-" });
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }) };
}

Deno.test("writeStream() stops reading its source and keeps nothing when aborted", async () => {
  await using root = await temporaryRoot();
  const blobs = new BlobStore(root.path);
  const abort = new AbortController();
  let pulls = 0;
  let cancelled = false;
  const endless = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (++pulls === 3) abort.abort(new Error("build cancelled"));
      controller.enqueue(new Uint8Array(1024));
    },
    cancel() {
      cancelled = true;
    },
  });

  await assertRejects(() => blobs.writeStream(endless, {}, abort.signal), Error, "build cancelled");

  assertEquals(cancelled, true);
  assertEquals(await entries(blobs.dir), []);
});
