import { assertEquals, assertRejects, assertStringIncludes } from "../../_assert.ts";
import { BlobStore, type DerivedBlobSource } from "../../../core/store/blobs.ts";
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

/** Returns a derived-blob source whose snapshots are strings in a map. */
function textSource(snapshots: Map<string, string>): DerivedBlobSource {
  return {
    exists: (blob) => snapshots.has(blob.snapshot),
    open: (blob) => streamOf(snapshots.get(blob.snapshot)!),
  };
}

Deno.test("writeDerived() records a blob that open() and read() produce again", async () => {
  await using root = await temporaryRoot();
  const snapshots = new Map([["s1", "packed tar"]]);
  const blobs = new BlobStore(root.path, textSource(snapshots));
  const digest = digestOf("packed tar");
  assertEquals(await blobs.writeDerived({ digest, size: 10 }, { snapshot: "s1" }), {
    digest,
    size: 10,
  });

  assertEquals(await blobs.has(digest), true);
  assertEquals(await blobs.size(digest), 10);
  assertEquals(await blobs.diskBytes(digest), 0);
  assertEquals(new TextDecoder().decode(await blobs.read(digest)), "packed tar");
  assertEquals(await new Response(await blobs.open(digest)).text(), "packed tar");
  assertEquals(await Array.fromAsync(blobs.list()), [digest]);
  await assertRejects(() => Deno.stat(blobs.path(digest)), Deno.errors.NotFound);

  // Without its snapshot the record names nothing the store can produce.
  snapshots.delete("s1");
  assertEquals(await blobs.has(digest), false);
  await assertRejects(() => blobs.open(digest), Deno.errors.NotFound);

  await blobs.remove(digest);
  assertEquals(await Array.fromAsync(blobs.list()), []);
});

Deno.test("open() fails a derived blob whose bytes changed, naming the blob and its snapshot", async () => {
  await using root = await temporaryRoot();
  const snapshots = new Map([["s1", "packed tar"]]);
  const blobs = new BlobStore(root.path, textSource(snapshots));
  const digest = digestOf("packed tar");
  await blobs.writeDerived({ digest, size: 10 }, { snapshot: "s1" });

  for (const changed of ["packed taR", "packed tar, and more"]) {
    snapshots.set("s1", changed);
    const error = await assertRejects(
      async () => await new Response(await blobs.open(digest)).text(),
      DigestMismatchError,
      `Failed to read layer "${digest}": packed again from snapshot "s1"`,
    );
    assertStringIncludes(error.message, "tsbuild prune");
  }
});

Deno.test("a file blob wins over a derived record of the same digest", async () => {
  await using root = await temporaryRoot();
  const blobs = new BlobStore(root.path, textSource(new Map([["s1", "other bytes"]])));
  const info = await blobs.writeStream(streamOf("layer bytes"));
  await blobs.writeDerived(info, { snapshot: "s1" });
  assertEquals(await new Response(await blobs.open(info.digest)).text(), "layer bytes");
  assertEquals(await Array.fromAsync(blobs.list()), [info.digest]);
  await blobs.remove(info.digest);
  assertEquals(await blobs.has(info.digest), false);
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

Deno.test("writeBytes() keeps a stored copy that matches and replaces a damaged one", async () => {
  await using root = await temporaryRoot();
  const blobs = new BlobStore(root.path);
  const bytes = new TextEncoder().encode('{"config":true}');
  const info = await blobs.writeBytes(bytes);
  const first = await Deno.stat(blobs.path(info.digest));

  assertEquals(await blobs.writeBytes(bytes), info);
  assertEquals((await Deno.stat(blobs.path(info.digest))).ino, first.ino);

  await Deno.writeTextFile(blobs.path(info.digest), '{"config":fals}');
  assertEquals(await blobs.writeBytes(bytes), info);
  assertEquals(new TextDecoder().decode(await blobs.read(info.digest)), '{"config":true}');
});
