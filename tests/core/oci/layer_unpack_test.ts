import { assert, assertEquals, assertRejects, assertStringIncludes } from "../../_assert.ts";
import { gzipSync } from "../../../core/deps.ts";
import {
  CancelledError,
  DigestMismatchError,
  NotFoundError,
  PathEscapeError,
} from "../../../core/errors.ts";
import { unpackLayer } from "../../../core/oci/layer_unpack.ts";
import type { UnpackLayerOptions } from "../../../core/oci/layer_unpack.ts";
import { readXattr } from "../../../core/oci/_tar_libc.ts";
import {
  createWhiteout,
  isOpaque,
  isWhiteout,
  markOpaque,
} from "../../../core/snapshot/whiteout.ts";
import {
  buildTar,
  describeTree,
  filter,
  listDir,
  run,
  sha256,
  streamOf,
  withTempDir,
} from "./_layer_fixtures.ts";
import type { TarFixtureEntry } from "./_layer_fixtures.ts";

const decoder = new TextDecoder();

/**
 * Unpacks a gzipped tar of `entries` into `<dir>/sentinel/diff`, so that any
 * write outside the diff directory shows up next to it or next to the sentinel.
 */
async function unpackEntries(
  dir: string,
  entries: TarFixtureEntry[],
  options: UnpackLayerOptions = {},
) {
  const blob = gzipSync(await buildTar(entries));
  Deno.mkdirSync(`${dir}/sentinel`);
  return await unpackLayer(streamOf(blob), `${dir}/sentinel/diff`, options);
}

/** Asserts that the sentinel holds only the diff directory and the test directory only `allowed`. */
function assertNothingOutside(dir: string, allowed: string[] = []) {
  assertEquals(listDir(`${dir}/sentinel`), ["diff"]);
  assertEquals(listDir(dir), ["sentinel", ...allowed].sort());
}

async function assertEscapeRejected(entries: TarFixtureEntry[], entryName: string) {
  await withTempDir(async (dir) => {
    const blob = gzipSync(await buildTar(entries));
    const digest = sha256(blob) as `sha256:${string}`;
    Deno.mkdirSync(`${dir}/sentinel`);
    Deno.mkdirSync(`${dir}/outside`);
    Deno.writeTextFileSync(`${dir}/outside/secret`, "secret");

    const error = await assertRejects(
      () => unpackLayer(streamOf(blob), `${dir}/sentinel/diff`, { expectedDigest: digest }),
      PathEscapeError,
    );

    assertStringIncludes(
      error.message,
      `Failed to unpack layer "${digest}" into "${dir}/sentinel/diff"`,
    );
    assertStringIncludes(error.message, `at entry "${entryName}"`);
    assertNothingOutside(dir, ["outside"]);
    assertEquals(listDir(`${dir}/outside`), ["secret"]);
    assertEquals(Deno.readTextFileSync(`${dir}/outside/secret`), "secret");
  });
}

Deno.test("unpackLayer() refuses a ../ entry", async () => {
  await assertEscapeRejected([{ header: { name: "../evil" }, data: "x" }], "../evil");
});

Deno.test("unpackLayer() refuses a/../../ in an entry", async () => {
  await assertEscapeRejected([
    { header: { name: "a/", type: "directory" } },
    { header: { name: "a/../../evil" }, data: "x" },
  ], "a/../../evil");
});

Deno.test("unpackLayer() refuses a file below a symlink", async () => {
  await withTempDir(async (dir) => {
    await assertEscapeRejected([
      { header: { name: "a", type: "symlink", linkname: `${dir}/../outside` } },
      { header: { name: "a/passwd" }, data: "root::0:0::/:/bin/sh\n" },
    ], "a/passwd");
  });
  await assertEscapeRejected([
    { header: { name: "etc", type: "symlink", linkname: "../../outside" } },
    { header: { name: "etc/passwd" }, data: "x" },
  ], "etc/passwd");
});

Deno.test("unpackLayer() refuses a directory below a symlink", async () => {
  await assertEscapeRejected([
    { header: { name: "a", type: "symlink", linkname: "../../outside" } },
    { header: { name: "a/sub/", type: "directory" } },
  ], "a/sub/");
});

Deno.test("unpackLayer() refuses a whiteout below a symlink", async () => {
  await assertEscapeRejected([
    { header: { name: "a", type: "symlink", linkname: "../../outside" } },
    { header: { name: "a/.wh.secret" } },
  ], "a/.wh.secret");
});

Deno.test("unpackLayer() refuses a hardlink to ../../x", async () => {
  await assertEscapeRejected([{
    header: { name: "h", type: "link", linkname: "../../outside/secret" },
  }], "h");
});

Deno.test("unpackLayer() refuses a hardlink through a symlink", async () => {
  await assertEscapeRejected([
    { header: { name: "s", type: "symlink", linkname: "../../outside" } },
    { header: { name: "h", type: "link", linkname: "s/secret" } },
  ], "h");
});

Deno.test("unpackLayer() refuses a whiteout of ..", async () => {
  await assertEscapeRejected([{ header: { name: "a/.wh..." } }], "a/.wh...");
});

Deno.test("unpackLayer() refuses to replace the root with a symlink", async () => {
  await assertEscapeRejected([{ header: { name: "./", type: "symlink", linkname: "/" } }], "./");
});

Deno.test("unpackLayer() reads an absolute name as relative", async () => {
  await withTempDir(async (dir) => {
    const name = `tsbuild-test-${crypto.randomUUID()}`;
    await unpackEntries(dir, [{ header: { name: `/etc/${name}` }, data: "inside" }]);

    assertEquals(Deno.readTextFileSync(`${dir}/sentinel/diff/etc/${name}`), "inside");
    assertEquals(listDir("/etc").includes(name), false);
    assertNothingOutside(dir);
  });
});

Deno.test("unpackLayer() replaces a symlink entry with a later directory", async () => {
  await withTempDir(async (dir) => {
    Deno.mkdirSync(`${dir}/outside`);
    await unpackEntries(dir, [
      { header: { name: "a", type: "symlink", linkname: "../../outside" } },
      { header: { name: "a/", type: "directory" } },
      { header: { name: "a/file" }, data: "inside" },
    ]);

    assert(Deno.lstatSync(`${dir}/sentinel/diff/a`).isDirectory);
    assertEquals(Deno.readTextFileSync(`${dir}/sentinel/diff/a/file`), "inside");
    assertEquals(listDir(`${dir}/outside`), []);
  });
});

Deno.test("unpackLayer() writes every entry type with its metadata", async () => {
  await withTempDir(async (dir) => {
    const mtime = new Date(1_500_000_000_000);
    const result = await unpackEntries(dir, [
      { header: { name: "./", type: "directory", mode: 0o750, mtime } },
      { header: { name: "bin/", type: "directory", mode: 0o755, uid: 0, gid: 0, mtime } },
      { header: { name: "bin/su", mode: 0o4755, uid: 0, gid: 0, mtime }, data: "su" },
      { header: { name: "bin/su-link", type: "link", linkname: "bin/su" } },
      { header: { name: "bin/sh", type: "symlink", linkname: "su", uid: 7, gid: 8, mtime } },
      { header: { name: "data/", type: "directory", mode: 0o2770, uid: 1000, gid: 1001, mtime } },
      { header: { name: "data/secret", mode: 0o600, uid: 1000, gid: 1001, mtime }, data: "s" },
      {
        header: {
          name: "dev/null",
          type: "character-device",
          devmajor: 1,
          devminor: 3,
          mode: 0o666,
          mtime,
        },
      },
      {
        header: {
          name: "dev/big",
          type: "block-device",
          devmajor: 300,
          devminor: 70000,
          mode: 0o600,
          mtime,
        },
      },
      { header: { name: "dev/fifo", type: "fifo", mode: 0o620, mtime } },
    ]);
    const diff = `${dir}/sentinel/diff`;
    const tree = describeTree(diff);

    assertEquals(tree["bin"], "dir 755 0:0 mtime=1500000000");
    assertEquals(
      tree["bin/su"],
      `file 4755 0:0 mtime=1500000000 size=2 ${
        sha256(new TextEncoder().encode("su"))
      } links=bin/su`,
    );
    assertEquals(tree["bin/su-link"], tree["bin/su"]);
    assertEquals(tree["bin/sh"], "symlink 777 7:8 mtime=1500000000 -> su");
    assertEquals(tree["data"], "dir 2770 1000:1001 mtime=1500000000");
    assert(
      tree["data/secret"].startsWith("file 600 1000:1001 mtime=1500000000 size=1 "),
      tree["data/secret"],
    );
    assertEquals(tree["dev/fifo"], "fifo 620 0:0 mtime=1500000000");
    assertEquals(
      (await run("stat", ["-c", "%F %t:%T %a", `${diff}/dev/null`])).trim(),
      "character special file 1:3 666",
    );
    assertEquals(
      (await run("stat", ["-c", "%F %t:%T %a", `${diff}/dev/big`])).trim(),
      "block special file 12c:11170 600",
    );
    assertEquals(Deno.statSync(diff).mode! & 0o7777, 0o750);
    assertEquals(Deno.statSync(diff).mtime, mtime);
    assertEquals(tree["dev"], "dir 755 0:0 mtime=" + tree["dev"].split("mtime=")[1]);
    assertEquals(result.warnings, []);
  });
});

Deno.test("unpackLayer() turns .wh. entries into whiteouts and opaque dirs", async () => {
  await withTempDir(async (dir) => {
    await unpackEntries(dir, [
      { header: { name: ".wh.gone" } },
      { header: { name: "etc/.wh.old.conf" } },
      { header: { name: "var/cache/", type: "directory" } },
      { header: { name: "var/cache/.wh..wh..opq" } },
      { header: { name: "var/cache/new" }, data: "new" },
      { header: { name: ".wh..wh.plnk/", type: "directory" } },
      { header: { name: "kept" }, data: "same layer" },
      { header: { name: ".wh.kept" } },
      { header: { name: ".wh.reborn" } },
      { header: { name: "reborn/", type: "directory" } },
    ]);
    const diff = `${dir}/sentinel/diff`;

    assert(isWhiteout(Deno.lstatSync(`${diff}/gone`)));
    assert(isWhiteout(Deno.lstatSync(`${diff}/etc/old.conf`)));
    assert(isOpaque(`${diff}/var/cache`));
    assert(!isOpaque(`${diff}/var`));
    assertEquals(listDir(`${diff}/var/cache`), ["new"]);
    assertEquals(Deno.readTextFileSync(`${diff}/kept`), "same layer");
    // A directory that replaces a whiteout in the same layer hides the lower one's contents.
    assert(isOpaque(`${diff}/reborn`));
    assertEquals(listDir(diff), ["etc", "gone", "kept", "reborn", "var"]);
  });
});

Deno.test("unpackLayer() lets later entries replace earlier ones", async () => {
  await withTempDir(async (dir) => {
    await unpackEntries(dir, [
      { header: { name: "x" }, data: "file first" },
      { header: { name: "x/", type: "directory" } },
      { header: { name: "x/y" }, data: "child" },
      { header: { name: "d/", type: "directory" } },
      { header: { name: "d/child" }, data: "gone" },
      { header: { name: "d" }, data: "file last" },
      { header: { name: "f" }, data: "one" },
      { header: { name: "g", type: "link", linkname: "f" } },
      { header: { name: "g" }, data: "replaced" },
    ]);
    const diff = `${dir}/sentinel/diff`;

    assertEquals(Deno.readTextFileSync(`${diff}/x/y`), "child");
    assertEquals(Deno.readTextFileSync(`${diff}/d`), "file last");
    // Replacing a hardlink must not write through it into the other name.
    assertEquals(Deno.readTextFileSync(`${diff}/f`), "one");
    assertEquals(Deno.readTextFileSync(`${diff}/g`), "replaced");
  });
});

Deno.test("unpackLayer() applies PAX names, owners, times and xattrs", async () => {
  await withTempDir(async (dir) => {
    const longName = `${"d".repeat(120)}/${"f".repeat(160)}`;
    const result = await unpackEntries(dir, [
      {
        header: {
          name: longName,
          uid: 3_000_000,
          gid: 3_000_001,
          pax: { uid: "3000000", gid: "3000001" },
        },
        data: "x",
      },
      { header: { name: "frac", pax: { mtime: "1234567890.5" } }, data: "t" },
      {
        header: {
          name: "attrs/",
          type: "directory",
          pax: { "SCHILY.xattr.user.note": "hello", "SCHILY.xattr.trusted.overlay.opaque": "y" },
        },
      },
      { header: { name: "text", pax: { "SCHILY.xattr.user.text": "\u00e9t\u00e9" } }, data: "b" },
    ]);
    const diff = `${dir}/sentinel/diff`;
    const info = Deno.lstatSync(`${diff}/${longName}`);

    assertEquals([info.uid, info.gid], [3_000_000, 3_000_001]);
    assertEquals(Deno.lstatSync(`${diff}/frac`).mtime?.getTime(), 1_234_567_890_500);
    assertEquals(decoder.decode(readXattr(`${diff}/attrs`, "user.note")), "hello");
    assert(!isOpaque(`${diff}/attrs`));
    assertEquals(decoder.decode(readXattr(`${diff}/text`, "user.text")), "\u00e9t\u00e9");
    assertEquals(result.warnings, [
      'entry "attrs/": skipped extended attribute "trusted.overlay.opaque", reserved for overlayfs',
    ]);
  });
});

/** Builds lower layers: bottom has bin/x, bin/y, opq/z, tmp and a symlink; top overrides and hides. */
function buildLowers(dir: string): string[] {
  const bottom = `${dir}/lower0`;
  const top = `${dir}/lower1`;
  for (const path of ["bin", "opq", "tmp"]) {
    Deno.mkdirSync(`${bottom}/${path}`, { recursive: true });
  }
  Deno.writeTextFileSync(`${bottom}/bin/x`, "bottom");
  Deno.writeTextFileSync(`${bottom}/bin/y`, "deleted above");
  Deno.writeTextFileSync(`${bottom}/opq/z`, "hidden by opaque");
  Deno.chmodSync(`${bottom}/tmp`, 0o1777);
  Deno.utimeSync(`${bottom}/tmp`, 1_000_000, 1_000_000);
  Deno.symlinkSync("/etc", `${bottom}/host`);
  Deno.mkdirSync(`${top}/bin`, { recursive: true });
  Deno.mkdirSync(`${top}/opq`);
  Deno.writeTextFileSync(`${top}/bin/x`, "top");
  Deno.chownSync(`${top}/bin/x`, 42, 43);
  Deno.chmodSync(`${top}/bin/x`, 0o751);
  createWhiteout(`${top}/bin/y`);
  markOpaque(`${top}/opq`);
  return [bottom, top];
}

Deno.test("unpackLayer() copies a hardlink target from the top lower layer", async () => {
  await withTempDir(async (dir) => {
    const lowerDirs = buildLowers(dir);
    await unpackEntries(
      dir,
      [{ header: { name: "bin/x-link", type: "link", linkname: "bin/x" } }],
      { lowerDirs },
    );
    const copy = Deno.lstatSync(`${dir}/sentinel/diff/bin/x-link`);

    assertEquals(Deno.readTextFileSync(`${dir}/sentinel/diff/bin/x-link`), "top");
    assertEquals([copy.uid, copy.gid, copy.mode! & 0o7777], [42, 43, 0o751]);
    assertEquals(Deno.readTextFileSync(`${dir}/lower1/bin/x`), "top");
  });
});

Deno.test("unpackLayer() does not link to a lower file hidden by a whiteout", async () => {
  for (const linkname of ["bin/y", "opq/z", "missing"]) {
    await withTempDir(async (dir) => {
      const lowerDirs = buildLowers(dir);
      const error = await assertRejects(
        () =>
          unpackEntries(dir, [{ header: { name: "l", type: "link", linkname } }], { lowerDirs }),
        NotFoundError,
      );
      assertStringIncludes(
        error.message,
        `hardlink target "${linkname}" not found in the layer or its lower layers`,
      );
    });
  }
});

Deno.test("unpackLayer() refuses a hardlink through a lower symlink", async () => {
  await withTempDir(async (dir) => {
    const lowerDirs = buildLowers(dir);
    const error = await assertRejects(
      () =>
        unpackEntries(dir, [{ header: { name: "l", type: "link", linkname: "host/passwd" } }], {
          lowerDirs,
        }),
      PathEscapeError,
    );
    assertStringIncludes(error.message, 'lower layer path "host" is a symlink');
    assertEquals(listDir(`${dir}/sentinel/diff`), []);
  });
});

Deno.test("unpackLayer() gives a missing parent the lower layer's metadata", async () => {
  await withTempDir(async (dir) => {
    const lowerDirs = buildLowers(dir);
    await unpackEntries(dir, [
      { header: { name: "tmp/file" }, data: "x" },
      { header: { name: "new/file" }, data: "y" },
    ], { lowerDirs });
    const tmp = Deno.lstatSync(`${dir}/sentinel/diff/tmp`);

    assertEquals(tmp.mode! & 0o7777, 0o1777);
    assertEquals(tmp.mtime?.getTime(), 1_000_000_000);
    assertEquals(Deno.lstatSync(`${dir}/sentinel/diff/new`).mode! & 0o7777, 0o755);
  });
});

Deno.test("unpackLayer() rejects a blob whose digest does not match", async () => {
  await withTempDir(async (dir) => {
    const blob = gzipSync(await buildTar([{ header: { name: "f" }, data: "x" }]));
    const actual = sha256(blob);
    const expected = sha256(new TextEncoder().encode("other")) as `sha256:${string}`;

    const error = await assertRejects(
      () => unpackLayer(streamOf(blob), `${dir}/diff`, { expectedDigest: expected }),
      DigestMismatchError,
    );

    assertEquals(
      error.message,
      `Failed to verify layer "${expected}": the blob's digest is "${actual}"`,
    );
    assertEquals(error.data, { expected, actual });
  });
});

Deno.test("unpackLayer() rejects a tar whose diff ID does not match", async () => {
  await withTempDir(async (dir) => {
    const tar = await buildTar([{ header: { name: "f" }, data: "x" }]);
    const blob = gzipSync(tar);
    const expectedDiffId = sha256(new TextEncoder().encode("other")) as `sha256:${string}`;

    const error = await assertRejects(
      () => unpackLayer(streamOf(blob), `${dir}/diff`, { expectedDiffId }),
      DigestMismatchError,
    );

    assertEquals(
      error.message,
      `Failed to verify layer "${sha256(blob)}": the diff ID is "${
        sha256(tar)
      }", expected "${expectedDiffId}"`,
    );
  });
});

Deno.test("unpackLayer() reports a truncated gzip stream", async () => {
  await withTempDir(async (dir) => {
    const blob = gzipSync(await buildTar([{ header: { name: "f" }, data: "x".repeat(100_000) }]));
    const truncated = blob.subarray(0, blob.length - 20);
    const digest = sha256(blob) as `sha256:${string}`;

    const error = await assertRejects(
      () => unpackLayer(streamOf(truncated, 100), `${dir}/diff`, { expectedDigest: digest }),
      Error,
    );

    assertStringIncludes(error.message, `Failed to unpack layer "${digest}" into "${dir}/diff"`);
    assertStringIncludes(error.message, "unexpected end of file");
  });
});

Deno.test("unpackLayer() reports data that is not a tar", async () => {
  await withTempDir(async (dir) => {
    const garbage = new Uint8Array(2048).fill(0x41);

    const error = await assertRejects(() => unpackLayer(streamOf(garbage), `${dir}/diff`), Error);

    assertStringIncludes(
      error.message,
      `Failed to unpack layer into "${dir}/diff": invalid tar header at offset 0: its checksum does not match`,
    );
  });
});

Deno.test("unpackLayer() rejects bzip2 blobs", async () => {
  await withTempDir(async (dir) => {
    const blob = await filter(
      "bzip2",
      ["-c"],
      await buildTar([{ header: { name: "f" }, data: "x" }]),
    );

    const error = await assertRejects(() => unpackLayer(streamOf(blob), `${dir}/diff`), Error);

    assertStringIncludes(error.message, "bzip2 and xz are not supported");
  });
});

Deno.test("unpackLayer() reads zstd and plain layers", async () => {
  await withTempDir(async (dir) => {
    const tar = await buildTar([{ header: { name: "f" }, data: "zstd" }]);
    const zstd = await filter("zstd", ["-q", "-c"], tar);

    const fromZstd = await unpackLayer(streamOf(zstd, 7), `${dir}/zstd`);
    const fromTar = await unpackLayer(streamOf(tar, 3), `${dir}/tar`);

    assertEquals(Deno.readTextFileSync(`${dir}/zstd/f`), "zstd");
    assertEquals(Deno.readTextFileSync(`${dir}/tar/f`), "zstd");
    assertEquals(fromZstd.diffId, sha256(tar));
    assertEquals(fromZstd.digest, sha256(zstd));
    assertEquals(fromTar.digest, sha256(tar));
  });
});

Deno.test("unpackLayer() unpacks GNU tar layers like GNU tar does", async () => {
  for (const format of ["gnu", "pax"]) {
    await withTempDir(async (dir) => {
      const src = `${dir}/src`;
      const longDir = `${src}/${"d".repeat(110)}`;
      Deno.mkdirSync(longDir, { recursive: true });
      Deno.writeTextFileSync(`${longDir}/${"f".repeat(120)}`, "long");
      Deno.symlinkSync(`${"t".repeat(150)}`, `${src}/long-link`);
      Deno.writeTextFileSync(`${src}/file`, "data");
      Deno.linkSync(`${src}/file`, `${src}/hard`);
      Deno.chownSync(`${src}/file`, 1234, 5678);
      await run("tar", [`--format=${format}`, "-czf", `${dir}/layer.tgz`, "-C", src, "."]);

      await unpackLayer(streamOf(await Deno.readFile(`${dir}/layer.tgz`)), `${dir}/out`);

      assertEquals(describeTree(`${dir}/out`), describeTree(src));
    });
  }
});

Deno.test("unpackLayer() stops when the signal aborts", async () => {
  await withTempDir(async (dir) => {
    const controller = new AbortController();
    const first = gzipSync(await buildTar([{ header: { name: "f" }, data: "x" }])).subarray(0, 40);
    // A stream that sends a few bytes and then stalls, as a hung download would.
    const stalled = new ReadableStream<Uint8Array>({
      start(streamController) {
        streamController.enqueue(first);
      },
    });
    setTimeout(() => controller.abort(new Error("user stop")), 50);

    await assertRejects(
      () => unpackLayer(stalled, `${dir}/diff`, { signal: controller.signal }),
      CancelledError,
      "Layer unpack cancelled",
    );
  });
});

Deno.test("unpackLayer() fails without waiting for a stalled stream", async () => {
  await withTempDir(async (dir) => {
    const blob = gzipSync(await buildTar([{ header: { name: "../evil" }, data: "x" }]));
    let cancelled = false;
    // The whole blob arrives, but the stream never closes, as a hung download would behave.
    const stalled = new ReadableStream<Uint8Array>({
      start(streamController) {
        streamController.enqueue(blob);
      },
      cancel() {
        cancelled = true;
      },
    });

    await assertRejects(() => unpackLayer(stalled, `${dir}/diff`), PathEscapeError);

    assert(cancelled, "the input stream must be cancelled");
  });
});

Deno.test("unpackLayer() warns about a character device 0:0", async () => {
  await withTempDir(async (dir) => {
    const result = await unpackEntries(dir, [{
      header: { name: "c", type: "character-device", devmajor: 0, devminor: 0 },
    }]);

    assertEquals(result.warnings, [
      'entry "c" is a character device 0:0, which overlayfs reads as a whiteout',
    ]);
  });
});

Deno.test("unpackLayer() streams a file larger than its write buffer", async () => {
  await withTempDir(async (dir) => {
    const big = new Uint8Array(5 * 1024 * 1024 + 17);
    for (let i = 0; i < big.length; i += 65536) crypto.getRandomValues(big.subarray(i, i + 65536));
    await unpackEntries(dir, [{ header: { name: "big" }, data: big }]);

    assertEquals(sha256(Deno.readFileSync(`${dir}/sentinel/diff/big`)), sha256(big));
  });
});
