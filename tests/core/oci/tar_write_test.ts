import { InternalError } from "../../../core/errors.ts";
import { createTarWriter, encodeHeader } from "../../../core/oci/_tar_write.ts";
import {
  assert,
  assertEquals,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "../../_assert.ts";
import { run } from "./_test_image.ts";

function streamOf(...chunks: string[]): ReadableStream<Uint8Array> {
  return ReadableStream.from(chunks.map((chunk) => new TextEncoder().encode(chunk)));
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "tsbuild-tar-write-test-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("createTarWriter() writes an archive GNU tar lists and extracts", async () => {
  await withTempDir(async (dir) => {
    const file = await Deno.open(`${dir}/out.tar`, { write: true, create: true });
    const tar = createTarWriter(file.writable, { mtime: 1700000000 });
    await tar.addDirectory("blobs/");
    await tar.addFile("blobs/small", new TextEncoder().encode("abc"));
    const big = "x".repeat(1000);
    await tar.addFileStream("blobs/streamed", 1003, streamOf(big, "yz", "!"), { mode: 0o600 });
    await tar.addFile("empty", new Uint8Array());
    await tar.close();

    const listing = await run("tar", ["--numeric-owner", "-tvf", `${dir}/out.tar`]);
    const lines = listing.trim().split("\n");
    assertEquals(lines.length, 4);
    assertStringIncludes(lines[0], "drwxr-xr-x 0/0");
    assertStringIncludes(lines[0], "blobs/");
    assertStringIncludes(lines[1], "-rw-r--r-- 0/0");
    assertStringIncludes(lines[1], " 3 2023-11-14");
    assertStringIncludes(lines[2], "-rw------- 0/0");
    assertStringIncludes(lines[2], "1003 ");
    assertStringIncludes(lines[3], " 0 ");

    await Deno.mkdir(`${dir}/x`);
    await run("tar", ["-xf", `${dir}/out.tar`, "-C", `${dir}/x`]);
    assertEquals(await Deno.readTextFile(`${dir}/x/blobs/small`), "abc");
    assertEquals(await Deno.readTextFile(`${dir}/x/blobs/streamed`), `${big}yz!`);
    assertEquals((await Deno.stat(`${dir}/x/empty`)).size, 0);
  });
});

Deno.test("createTarWriter() ends with two zero blocks after padded entries", async () => {
  const chunks: Uint8Array[] = [];
  const tar = createTarWriter(new WritableStream({ write: (chunk) => void chunks.push(chunk) }));
  await tar.addFile("a", new TextEncoder().encode("hello"));
  await tar.close();

  const bytes = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.byteLength, 0));
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  assertEquals(bytes.byteLength, 512 * 4);
  assert(bytes.subarray(512 * 2).every((byte) => byte === 0), "the last two blocks are zero");
});

Deno.test("addFileStream() rejects content longer than declared", async () => {
  const tar = createTarWriter(new WritableStream());
  const error = await assertRejects(
    () => tar.addFileStream("f", 2, streamOf("abc")),
    InternalError,
  );
  assertStringIncludes(
    error.message,
    `Failed to write tar entry "f": content is longer than the declared 2 bytes`,
  );
});

Deno.test("addFileStream() rejects content shorter than declared", async () => {
  const tar = createTarWriter(new WritableStream());
  const error = await assertRejects(
    () => tar.addFileStream("f", 5, streamOf("abc")),
    InternalError,
  );
  assertStringIncludes(
    error.message,
    `Failed to write tar entry "f": content ended after 3 of the declared 5 bytes`,
  );
});

Deno.test("createTarWriter() stops when its signal is aborted", async () => {
  const controller = new AbortController();
  const tar = createTarWriter(new WritableStream(), { signal: controller.signal });
  await tar.addFile("a", new Uint8Array(1));
  controller.abort(new Error("stopped"));
  await assertRejects(() => tar.addFile("b", new Uint8Array(1)), Error, "stopped");
});

Deno.test("abort() aborts the underlying stream", async () => {
  let abortReason: unknown;
  const tar = createTarWriter(
    new WritableStream({ abort: (reason) => void (abortReason = reason) }),
  );
  await tar.addFile("a", new Uint8Array(1));
  await tar.abort("gone");
  assertEquals(abortReason, "gone");
});

Deno.test("encodeHeader() writes sizes of 8 GiB and more in base-256", () => {
  const size = 2 ** 33 + 5;
  const header = encodeHeader({ name: "big", size, type: "0", mode: 0o644, mtime: 0 });
  assertEquals(header[124], 0x80);
  let value = 0n;
  for (let offset = 125; offset < 136; offset++) value = (value << 8n) | BigInt(header[offset]);
  assertEquals(value, BigInt(size));
});

Deno.test("encodeHeader() writes the ustar checksum", () => {
  const header = encodeHeader({ name: "x", size: 7, type: "0", mode: 0o644, mtime: 12 });
  const stored = parseInt(new TextDecoder().decode(header.subarray(148, 154)), 8);
  const copy = header.slice();
  copy.fill(0x20, 148, 156);
  assertEquals(stored, copy.reduce((sum, byte) => sum + byte, 0));
});

Deno.test("encodeHeader() rejects a name longer than 100 bytes", () => {
  assertThrows(
    () => encodeHeader({ name: "a".repeat(101), size: 0, type: "0", mode: 0o644, mtime: 0 }),
    InternalError,
    "is longer than 100 bytes",
  );
});
