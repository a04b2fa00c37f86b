import { assertEquals, assertRejects, assertThrows } from "../../_assert.ts";
import {
  compressStream,
  decompressStream,
  detectCompression,
  sniffCompression,
} from "../../../core/oci/compression.ts";
import type { Compression } from "../../../core/oci/compression.ts";
import { filter, readAll, run, streamOf, withTempDir } from "./_layer_fixtures.ts";

function concat(parts: Uint8Array[]): Uint8Array {
  const result = new Uint8Array(parts.reduce((total, part) => total + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    result.set(part, offset);
    offset += part.length;
  }
  return result;
}

function sampleBytes(): Uint8Array {
  const bytes = new Uint8Array(300_000);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7919) % 251;
  return bytes;
}

Deno.test("detectCompression() recognises gzip, zstd and plain tar", () => {
  assertEquals(detectCompression(new Uint8Array([0x1f, 0x8b, 0x08, 0])), "gzip");
  assertEquals(detectCompression(new Uint8Array([0x28, 0xb5, 0x2f, 0xfd, 0])), "zstd");
  assertEquals(detectCompression(new TextEncoder().encode("etc/passwd")), "none");
  assertEquals(detectCompression(new Uint8Array([0x1f])), "none");
});

Deno.test("detectCompression() rejects bzip2 and xz", () => {
  assertThrows(
    () => detectCompression(new TextEncoder().encode("BZh91AY")),
    TypeError,
    "bzip2 and xz",
  );
  assertThrows(
    () => detectCompression(new Uint8Array([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])),
    TypeError,
    "bzip2 and xz",
  );
});

Deno.test("sniffCompression() keeps every byte of a one-byte-chunk stream", async () => {
  const bytes = await filter("gzip", ["-c"], sampleBytes());

  const sniffed = await sniffCompression(streamOf(bytes, 1));

  assertEquals(sniffed.compression, "gzip");
  assertEquals(await readAll(sniffed.stream), bytes);
});

Deno.test("sniffCompression() reads an empty stream as plain", async () => {
  const sniffed = await sniffCompression(streamOf(new Uint8Array(0)));

  assertEquals(sniffed.compression, "none");
  assertEquals(await readAll(sniffed.stream), new Uint8Array(0));
});

for (const [compression, tool] of [["gzip", "gzip"], ["zstd", "zstd"]] as const) {
  Deno.test(`compressStream() output is read by the ${tool} tool`, async () => {
    const input = sampleBytes();

    const compressed = await readAll(compressStream(streamOf(input, 1000), { compression }));

    assertEquals(detectCompression(compressed), compression);
    assertEquals(await filter(tool, ["-d", "-c"], compressed), input);
  });

  Deno.test(`decompressStream() reads ${tool} tool output`, async () => {
    const input = sampleBytes();
    const compressed = await filter(tool, ["-c"], input);

    assertEquals(await readAll(decompressStream(streamOf(compressed, 333), compression)), input);
  });
}

Deno.test("compressStream() writes a host-independent gzip header", async () => {
  const compressed = await readAll(
    compressStream(streamOf(sampleBytes()), { compression: "gzip" }),
  );

  // Magic, deflate, no flags, mtime 0, "fastest" extra flags for level 1, OS unknown.
  assertEquals(compressed.subarray(0, 10), new Uint8Array([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 255]));
});

Deno.test("compressStream() writes zstd frames without checksum or size", async () => {
  const compressed = await readAll(
    compressStream(streamOf(sampleBytes()), { compression: "zstd" }),
  );

  assertEquals(compressed[4], 0, "frame header descriptor");
});

Deno.test("compressStream() gives the same bytes for the same input", async () => {
  for (const compression of ["gzip", "zstd", "none"] satisfies Compression[]) {
    const first = await readAll(
      compressStream(streamOf(sampleBytes(), 4096), { compression, level: 5 }),
    );
    const second = await readAll(
      compressStream(streamOf(sampleBytes(), 100_000), { compression, level: 5 }),
    );

    assertEquals(second, first, compression);
  }
});

Deno.test("compressStream() rejects a level out of range", () => {
  assertThrows(
    () => compressStream(streamOf(new Uint8Array(1)), { compression: "gzip", level: 10 }),
    RangeError,
    'Failed to set gzip level "10": expected an integer from 0 to 9',
  );
  assertThrows(
    () => compressStream(streamOf(new Uint8Array(1)), { compression: "zstd", level: 0 }),
    RangeError,
  );
});

Deno.test("decompressStream() reports a truncated zstd stream", async () => {
  const compressed = await filter("zstd", ["-c"], sampleBytes());

  for (const length of [3, 100, compressed.length - 2]) {
    await assertRejects(
      () => readAll(decompressStream(streamOf(compressed.subarray(0, length)), "zstd")),
      Error,
      "Failed to decompress zstd: unexpected end of file inside a frame",
    );
  }
});

Deno.test("decompressStream() reads several zstd frames and skippable frames", async () => {
  const input = sampleBytes();
  await withTempDir(async (dir) => {
    // A file argument lets zstd record the content size, which changes the frame header layout.
    await Deno.writeFile(`${dir}/input`, input.subarray(0, 1000));
    await run("zstd", ["-q", "--no-check", `${dir}/input`, "-o", `${dir}/input.zst`]);
    const sized = await Deno.readFile(`${dir}/input.zst`);
    const checked = await filter("zstd", ["-c", "--check", "-19"], input);
    // Zeros compress into RLE blocks, which store one byte for a whole block.
    const zeros = await filter("zstd", ["-c"], new Uint8Array(300_000));
    const skippable = new Uint8Array([0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 1, 2, 3]);
    const stream = concat([skippable, sized, skippable, checked, zeros, skippable]);

    for (const chunkSize of [5, 4096, stream.length]) {
      const output = await readAll(decompressStream(streamOf(stream, chunkSize), "zstd"));

      assertEquals(
        output,
        concat([input.subarray(0, 1000), input, new Uint8Array(300_000)]),
        `chunks of ${chunkSize}`,
      );
    }
  });
});

for (const compression of ["gzip", "zstd"] as const) {
  Deno.test(`decompressStream() passes a cancel on to its ${compression} source`, async () => {
    const compressed = await filter(compression, ["-c"], sampleBytes());
    let cancelled: unknown;
    const source = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(compressed.subarray(0, 1000));
      },
      cancel(reason) {
        cancelled = reason;
      },
    });
    const reader = decompressStream(source, compression).getReader();
    await reader.read();

    await reader.cancel("stop");

    assertEquals(cancelled, "stop");
  });
}
