import { assertEquals, assertRejects, assertStringIncludes } from "../../_assert.ts";
import { CancelledError } from "../../../core/errors.ts";
import { extractEntries } from "../../../core/oci/_tar_read.ts";
import type { TarEntryHeader } from "../../../core/oci/_tar_diff_writer.ts";
import { run, streamOf, withTempDir } from "./_layer_fixtures.ts";
import { concat, headerBlock, padded, paxRecord } from "./_tar_blocks.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

interface ReadEntry {
  header: TarEntryHeader;
  data: string;
}

/** Reads every entry of `tar`, fed in chunks of `chunkSize` bytes, with its data as text. */
async function readAll(tar: Uint8Array, chunkSize = 4096): Promise<ReadEntry[]> {
  const entries: ReadEntry[] = [];
  await extractEntries(streamOf(tar, chunkSize), async (header, body) => {
    let data = "";
    for await (const chunk of body) data += decoder.decode(chunk, { stream: true });
    entries.push({ header, data });
  });
  return entries;
}

/** Archives `paths` under `dir` with GNU tar in `format`, with extra `flags`. */
async function gnuTar(dir: string, format: string, paths: string[], flags: string[] = []) {
  await run("tar", ["-C", dir, `--format=${format}`, ...flags, "-cf", `${dir}.tar`, ...paths]);
  return await Deno.readFile(`${dir}.tar`);
}

Deno.test("extractEntries() reads GNU long names, long link targets and base-256 owners", async () => {
  await withTempDir(async (dir) => {
    const tree = `${dir}/tree`;
    const longDir = "d".repeat(90);
    const longName = `${longDir}/${"f".repeat(90)}`;
    const longTarget = `/${"t".repeat(150)}`;
    Deno.mkdirSync(`${tree}/${longDir}`, { recursive: true });
    Deno.writeTextFileSync(`${tree}/${longName}`, "long");
    Deno.symlinkSync(longTarget, `${tree}/link`);

    const tar = await gnuTar(tree, "gnu", [longDir, "link"], [
      "--owner=tsbuild:3000000",
      "--group=tsbuild:3000001",
      "--mtime=@1234567890",
    ]);
    const entries = await readAll(tar, 7);

    assertEquals(entries.map((entry) => [entry.header.name, entry.header.type]), [
      [`${longDir}/`, "directory"],
      [longName, "file"],
      ["link", "symlink"],
    ]);
    assertEquals(entries[1].data, "long");
    assertEquals(entries[2].header.linkname, longTarget);
    assertEquals([entries[1].header.uid, entries[1].header.gid], [3_000_000, 3_000_001]);
    assertEquals(entries[1].header.mtime, 1_234_567_890);
  });
});

Deno.test("extractEntries() reads PAX paths and UTF-8 names, and ustar prefixes", async () => {
  await withTempDir(async (dir) => {
    const tree = `${dir}/tree`;
    const deep = `${"a".repeat(60)}/${"b".repeat(60)}`;
    Deno.mkdirSync(`${tree}/${deep}`, { recursive: true });
    Deno.writeTextFileSync(`${tree}/${deep}/${"c".repeat(80)}`, "prefixed");
    Deno.writeTextFileSync(`${tree}/\u00e9t\u00e9.txt`, "summer");
    Deno.writeTextFileSync(`${tree}/${"p".repeat(200)}`, "pax");

    const ustar = await readAll(await gnuTar(tree, "ustar", [deep]));
    assertEquals(ustar.at(-1)?.header.name, `${deep}/${"c".repeat(80)}`);
    assertEquals(ustar.at(-1)?.data, "prefixed");

    const pax = await readAll(await gnuTar(tree, "posix", ["\u00e9t\u00e9.txt", "p".repeat(200)]));
    assertEquals(pax.map((entry) => [entry.header.name, entry.data]), [
      ["\u00e9t\u00e9.txt", "summer"],
      ["p".repeat(200), "pax"],
    ]);
  });
});

Deno.test("extractEntries() keeps binary xattr values and applies a global PAX header", async () => {
  const binary = new Uint8Array([0x01, 0x00, 0x00, 0x02, 0xff, 0xfe]);
  const globalRecords = concat([
    paxRecord("uid", encoder.encode("4242")),
    paxRecord("SCHILY.xattr.user.shared", encoder.encode("all")),
  ]);
  const entryRecords = paxRecord("SCHILY.xattr.security.capability", binary);
  const tar = concat([
    headerBlock("pax_global_header", "g", globalRecords.length),
    padded(globalRecords),
    headerBlock("PaxHeaders/first", "x", entryRecords.length),
    padded(entryRecords),
    headerBlock("first", "0", 3),
    padded(encoder.encode("one")),
    headerBlock("second", "0", 0),
    new Uint8Array(1024),
  ]);

  const entries = await readAll(tar, 100);

  assertEquals(entries.map((entry) => [entry.header.name, entry.header.uid, entry.data]), [
    ["first", 4242, "one"],
    ["second", 4242, ""],
  ]);
  assertEquals(entries[0].header.xattrs, [
    ["security.capability", binary],
    ["user.shared", encoder.encode("all")],
  ]);
  assertEquals(entries[1].header.xattrs, [["user.shared", encoder.encode("all")]]);
});

Deno.test("extractEntries() skips the data a handler leaves unread and reads to the end", async () => {
  const tar = concat([
    headerBlock("skipped", "0", 1000),
    padded(new Uint8Array(1000).fill(0x61)),
    headerBlock("kept", "0", 4),
    padded(encoder.encode("kept")),
    new Uint8Array(1024),
    // Bytes after the end-of-archive blocks still belong to the blob and its digest.
    encoder.encode("trailing"),
  ]);
  let delivered = 0;
  const counted = streamOf(tar, 300).pipeThrough(
    new TransformStream({
      transform(chunk, controller) {
        delivered += chunk.length;
        controller.enqueue(chunk);
      },
    }),
  );
  const seen: string[] = [];

  await extractEntries(counted, async (header, body) => {
    if (header.name === "skipped") {
      for await (const _chunk of body) break;
      return;
    }
    let data = "";
    for await (const chunk of body) data += decoder.decode(chunk);
    seen.push(`${header.name}=${data}`);
  });

  assertEquals(seen, ["kept=kept"]);
  assertEquals(delivered, tar.length);
});

Deno.test("extractEntries() names the entry a truncated archive ends in", async () => {
  const tar = concat([headerBlock("cut", "0", 2000), new Uint8Array(700)]);

  const error = await assertRejects(() => readAll(tar), Error);

  assertEquals(error.message, 'unexpected end of the tar stream in entry "cut"');
});

Deno.test("extractEntries() rejects a header whose checksum does not match, with its offset", async () => {
  const second = headerBlock("second", "0", 0);
  second[0] ^= 0x01;
  const tar = concat([headerBlock("first", "0", 1), padded(encoder.encode("1")), second]);

  const error = await assertRejects(() => readAll(tar), Error);

  assertStringIncludes(error.message, "invalid tar header at offset 1024");
  assertStringIncludes(error.message, "checksum does not match");
});

Deno.test("extractEntries() rejects a malformed PAX record", async () => {
  const records = encoder.encode("99 path=x\n");
  const tar = concat([
    headerBlock("PaxHeaders/x", "x", records.length),
    padded(records),
    headerBlock("x", "0", 0),
  ]);

  const error = await assertRejects(() => readAll(tar), Error);

  assertStringIncludes(error.message, "invalid PAX header");
});

Deno.test("extractEntries() stops with CancelledError when its signal aborts", async () => {
  const controller = new AbortController();
  const stalled = new ReadableStream<Uint8Array>({
    start(stream) {
      stream.enqueue(headerBlock("slow", "0", 4096));
    },
  });

  const reading = extractEntries(stalled, async (_header, body) => {
    controller.abort();
    for await (const _chunk of body) {
      // The stream never sends the data.
    }
  }, controller.signal);

  await assertRejects(() => reading, CancelledError);
});

/** Sets the size field of a header block to a base-256 value and fixes its checksum. */
function withBase256Size(block: Uint8Array, bytes: number[]): Uint8Array {
  block.set(bytes, 124);
  block.fill(0x20, 148, 156);
  const sum = block.reduce((total, byte) => total + byte, 0);
  block.set(encoder.encode(`${sum.toString(8).padStart(6, "0")}\0 `), 148);
  return block;
}

Deno.test("extractEntries() rejects negative and malformed sizes", async () => {
  const negative = withBase256Size(headerBlock("neg", "0", 0), [0xff, ...new Array(11).fill(0xff)]);
  const negativeError = await assertRejects(() =>
    readAll(concat([negative, new Uint8Array(1024)]))
  );
  assertEquals(negativeError.message, "the size field is negative, in the header at offset 0");

  for (const size of ["-1024", "1.5", "", "1e3"]) {
    const records = paxRecord("size", encoder.encode(size));
    const tar = concat([
      headerBlock("PaxHeaders/a", "x", records.length),
      padded(records),
      headerBlock("a", "0", 1024),
      new Uint8Array(1024),
      new Uint8Array(1024),
    ]);
    const error = await assertRejects(() => readAll(tar));
    assertEquals(
      error.message,
      `invalid PAX header: "size" is ${JSON.stringify(size)}, in the header at offset 1024`,
    );
  }
});

Deno.test("extractEntries() rejects a lone zero block followed by entries", async () => {
  const tar = concat([
    headerBlock("first", "0", 0),
    new Uint8Array(512),
    headerBlock("hidden", "0", 0),
    new Uint8Array(1024),
  ]);

  const error = await assertRejects(() => readAll(tar));

  assertEquals(error.message, "a lone zero block at offset 512 is followed by more data");
});

Deno.test("extractEntries() reads V7 archives and rejects sparse files", async () => {
  await withTempDir(async (dir) => {
    const tree = `${dir}/tree`;
    Deno.mkdirSync(tree);
    Deno.writeTextFileSync(`${tree}/old`, "v7");
    const v7 = await readAll(await gnuTar(tree, "v7", ["old"]));
    assertEquals(v7.map((entry) => [entry.header.name, entry.data]), [["old", "v7"]]);

    using file = Deno.openSync(`${tree}/holes`, { write: true, create: true });
    file.truncateSync(1024 * 1024);
    file.writeSync(encoder.encode("data"));
    for (const format of ["gnu", "posix"]) {
      const sparse = await gnuTar(tree, format, ["holes"], ["--sparse"]);
      const error = await assertRejects(() => readAll(sparse));
      assertStringIncludes(error.message, "is a sparse file, which tsbuild cannot unpack");
    }
  });
});

Deno.test("extractEntries() bounds names and global PAX records", async () => {
  const longName = encoder.encode(`${"d/".repeat(3000)}f\0`);
  const tooLong = concat([
    headerBlock("././@LongLink", "L", longName.length),
    padded(longName),
    headerBlock("f", "0", 0),
    new Uint8Array(1024),
  ]);
  const nameError = await assertRejects(() => readAll(tooLong));
  assertStringIncludes(nameError.message, "is 6001 characters, more than 4096");

  const value = new Uint8Array(40 * 1024).fill(0x61);
  const globals = [1, 2].map((index) => paxRecord(`SCHILY.xattr.user.v${index}`, value));
  const tooMuch = concat([
    ...globals.flatMap((records) => [headerBlock("g", "g", records.length), padded(records)]),
    headerBlock("f", "0", 0),
    new Uint8Array(1024),
  ]);
  const globalError = await assertRejects(() => readAll(tooMuch));
  assertStringIncludes(globalError.message, "global PAX headers hold");

  const nulName = paxRecord("SCHILY.xattr.trusted.overlay\0.opaque", encoder.encode("y"));
  const badXattr = concat([
    headerBlock("PaxHeaders/f", "x", nulName.length),
    padded(nulName),
    headerBlock("f", "0", 0),
    new Uint8Array(1024),
  ]);
  const xattrError = await assertRejects(() => readAll(badXattr));
  assertStringIncludes(xattrError.message, "has an invalid extended attribute name");
});
