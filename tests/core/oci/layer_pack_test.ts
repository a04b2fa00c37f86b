import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "../../_assert.ts";
import { lutimes } from "../../../core/fs/link_metadata.ts";
import { CancelledError } from "../../../core/errors.ts";
import { digestLayer, packLayer, packTree } from "../../../core/oci/layer_pack.ts";
import type { PackLayerOptions } from "../../../core/oci/layer_pack.ts";
import { unpackLayer } from "../../../core/oci/layer_unpack.ts";
import { readXattr, writeXattr } from "../../../core/oci/_tar_libc.ts";
import { markSharedFile } from "../../../core/fs/shared_file.ts";
import { createWhiteout, markOpaque } from "../../../core/snapshot/whiteout.ts";
import {
  describeTree,
  listDir,
  readAll,
  run,
  sha256,
  streamOf,
  withTempDir,
} from "./_layer_fixtures.ts";

const FIXED_TIME = Date.UTC(2020, 0, 1) / 1000;
const LONG_DIR = `deep/${"d".repeat(120)}`;
const LONG_FILE = `${LONG_DIR}/${"f".repeat(150)}`;
const encoder = new TextEncoder();

function writeFile(
  root: string,
  path: string,
  data: string | Uint8Array,
  mode: number,
  uid = 0,
  gid = 0,
) {
  Deno.writeFileSync(`${root}/${path}`, typeof data === "string" ? encoder.encode(data) : data);
  Deno.chownSync(`${root}/${path}`, uid, gid);
  Deno.chmodSync(`${root}/${path}`, mode);
}

function makeDir(root: string, path: string, mode: number, uid = 0, gid = 0) {
  Deno.mkdirSync(`${root}/${path}`, { recursive: true });
  Deno.chownSync(`${root}/${path}`, uid, gid);
  Deno.chmodSync(`${root}/${path}`, mode);
}

/** Sets every entry's mtime to `seconds`, children before their directory. */
function setAllTimes(root: string, seconds: number) {
  for (const name of listDir(root)) {
    const path = `${root}/${name}`;
    const info = Deno.lstatSync(path);
    if (info.isDirectory) setAllTimes(path, seconds);
    lutimes(path, seconds, seconds);
  }
}

/**
 * Builds a diff directory with every kind of entry the codec handles. It has
 * modes with set-id bits, owners beyond ustar's range, hardlinks, symlinks,
 * devices, a FIFO, whiteouts, an opaque directory, long and non-ASCII names,
 * and a file larger than one output chunk.
 */
async function buildDiffDir(root: string): Promise<void> {
  makeDir(root, "bin", 0o755);
  writeFile(root, "bin/tool", "#!/bin/sh\necho tool\n", 0o4755);
  Deno.linkSync(`${root}/bin/tool`, `${root}/bin/tool-link`);
  Deno.symlinkSync("busybox", `${root}/bin/sh`);

  makeDir(root, "etc", 0o755);
  writeFile(root, "etc/passwd", "root:x:0:0::/root:/bin/sh\n", 0o644);
  writeXattr(`${root}/etc/passwd`, "user.comment", encoder.encode("kept"));
  Deno.symlinkSync("/usr/share/zoneinfo/UTC", `${root}/etc/localtime`);
  createWhiteout(`${root}/etc/old.conf`);
  createWhiteout(`${root}/removed`);

  makeDir(root, "home/user", 0o700, 1000, 1000);
  writeFile(root, "home/user/.profile", "export A=1\n", 0o600, 1000, 1000);
  makeDir(root, "var/cache", 0o2775, 0, 50);
  markOpaque(`${root}/var/cache`);
  writeFile(root, "var/cache/new", "", 0o644);
  makeDir(root, "tmp", 0o1777);

  makeDir(root, LONG_DIR, 0o755);
  writeFile(root, LONG_FILE, "long", 0o644);
  makeDir(root, "données", 0o755);
  writeFile(root, "données/ünïcode.txt", "utf-8", 0o644);
  writeFile(root, "big-uid", "owned", 0o640, 3_000_000, 3_000_001);
  const big = new Uint8Array(3 * 1024 * 1024 + 123);
  for (let i = 0; i < big.length; i += 65536) crypto.getRandomValues(big.subarray(i, i + 65536));
  writeFile(root, "big.bin", big, 0o644);

  makeDir(root, "dev", 0o755);
  await run("mknod", ["-m", "666", `${root}/dev/null`, "c", "1", "3"]);
  await run("mknod", ["-m", "660", `${root}/dev/loop0`, "b", "7", "0"]);
  await run("mknod", ["-m", "620", `${root}/dev/pipe`, "p"]);

  // A hardlink pair whose later name sorts first, so the link points the other way.
  makeDir(root, "z", 0o755);
  writeFile(root, "z/orig", "pair", 0o644);
  makeDir(root, "a", 0o755);
  Deno.linkSync(`${root}/z/orig`, `${root}/a/link`);

  setAllTimes(root, FIXED_TIME);
}

async function packToBytes(dir: string, options: PackLayerOptions, tree = false) {
  const packed = (tree ? packTree : packLayer)(dir, options);
  const bytes = await readAll(packed.stream);
  return { bytes, result: await packed.done };
}

for (const compression of ["gzip", "zstd", "none"] as const) {
  Deno.test(`packLayer() round trip keeps the tree with ${compression}`, async () => {
    await withTempDir(async (dir) => {
      await buildDiffDir(`${dir}/src`);
      const { bytes, result } = await packToBytes(`${dir}/src`, { compression });

      const unpacked = await unpackLayer(streamOf(bytes), `${dir}/out`, {
        expectedDigest: result.digest,
      });

      assertEquals(describeTree(`${dir}/out`), describeTree(`${dir}/src`));
      assertEquals(unpacked.digest, result.digest);
      assertEquals(unpacked.diffId, result.diffId);
      assertEquals(unpacked.size, bytes.length);
      assertEquals(unpacked.warnings, []);
      assertEquals(
        new TextDecoder().decode(readXattr(`${dir}/out/etc/passwd`, "user.comment")),
        "kept",
      );
    });
  });
}

Deno.test("packLayer() reports digest, diff ID and size of the blob", async () => {
  await withTempDir(async (dir) => {
    await buildDiffDir(`${dir}/src`);
    const { bytes, result } = await packToBytes(`${dir}/src`, { compression: "gzip" });
    const { bytes: plain, result: plainResult } = await packToBytes(`${dir}/src`, {
      compression: "none",
    });

    assertEquals(result.digest, sha256(bytes));
    assertEquals(result.size, bytes.length);
    assertEquals(result.diffId, sha256(plain));
    assertEquals(plainResult.digest, plainResult.diffId);
    assertEquals(bytes.subarray(4, 8), new Uint8Array([0, 0, 0, 0]), "gzip header mtime");
  });
});

for (const [where, offloadAfter] of [["in place", undefined], ["on a worker", 1]] as const) {
  Deno.test(`digestLayer() gives the diff ID and size of the packed tar, hashed ${where}`, async () => {
    await withTempDir(async (dir) => {
      await buildDiffDir(`${dir}/src`);
      for (const sourceDateEpoch of [undefined, FIXED_TIME - 10]) {
        const { bytes } = await packToBytes(`${dir}/src`, { compression: "none", sourceDateEpoch });
        const digest = await digestLayer(`${dir}/src`, { sourceDateEpoch, offloadAfter });
        assertEquals(digest.diffId, sha256(bytes));
        assertEquals(digest.size, bytes.length);
        assertEquals(digest.warnings, []);
      }
    });
  });
}

Deno.test("digestLayer() stops when its signal is aborted", async () => {
  await withTempDir(async (dir) => {
    await buildDiffDir(`${dir}/src`);
    const abort = new AbortController();
    abort.abort(new Error("build cancelled"));
    await assertRejects(
      () => digestLayer(`${dir}/src`, { offloadAfter: 1 }, abort.signal),
      CancelledError,
    );
  });
});

Deno.test("packLayer() gives the same bytes twice", async () => {
  await withTempDir(async (dir) => {
    await buildDiffDir(`${dir}/src`);
    const first = await packToBytes(`${dir}/src`, { compression: "gzip" });
    const second = await packToBytes(`${dir}/src`, { compression: "gzip" });

    assertEquals(second.result.digest, first.result.digest);
    assertEquals(second.bytes, first.bytes);
  });
});

Deno.test("packLayer() clamps mtimes to sourceDateEpoch", async () => {
  await withTempDir(async (dir) => {
    await buildDiffDir(`${dir}/src`);
    const options = { compression: "gzip", sourceDateEpoch: FIXED_TIME } as const;
    const before = await packToBytes(`${dir}/src`, options);
    const unclamped = await packToBytes(`${dir}/src`, { compression: "gzip" });

    setAllTimes(`${dir}/src`, Math.floor(Date.now() / 1000));
    const after = await packToBytes(`${dir}/src`, options);
    const afterUnclamped = await packToBytes(`${dir}/src`, { compression: "gzip" });

    assertEquals(after.result.digest, before.result.digest);
    assertEquals(before.result.digest, unclamped.result.digest);
    assert(
      afterUnclamped.result.digest !== unclamped.result.digest,
      "touched mtimes must change an unclamped layer",
    );
  });
});

Deno.test("packLayer() writes whiteouts and opaque dirs as .wh. entries", async () => {
  await withTempDir(async (dir) => {
    await buildDiffDir(`${dir}/src`);
    const { bytes } = await packToBytes(`${dir}/src`, { compression: "gzip" });
    await Deno.writeFile(`${dir}/layer.tgz`, bytes);

    const names = (await run("tar", ["-tzf", `${dir}/layer.tgz`])).trim().split("\n");

    assert(names.includes(".wh.removed"), names.join(", "));
    assert(names.includes("etc/.wh.old.conf"));
    assert(names.includes("var/cache/.wh..wh..opq"));
    assert(!names.includes("removed"));
    assert(!names.includes("etc/old.conf"));
    assertEquals(names.indexOf("var/cache/.wh..wh..opq"), names.indexOf("var/cache/") + 1);
  });
});

Deno.test("packLayer() lists entries in byte order, parents first", async () => {
  await withTempDir(async (dir) => {
    const src = `${dir}/src`;
    for (const path of ["a/c", "a.b", "B", "é", "a-", "\u{1F600}", "\uFFFD"]) {
      Deno.mkdirSync(`${src}/${path}`, { recursive: true });
    }
    const { bytes } = await packToBytes(src, { compression: "gzip" });
    await Deno.writeFile(`${dir}/layer.tgz`, bytes);

    const names = (await run("tar", ["-tzf", `${dir}/layer.tgz`])).trim().split("\n");

    // Each directory's names are sorted and its children follow it, as Go's filepath.Walk does.
    // U+FFFD is EF BF BD in UTF-8 and sorts before U+1F600 (F0 9F 98 80), unlike in UTF-16.
    assertEquals(names, ["B/", "a/", "a/c/", "a-/", "a.b/", "é/", "\uFFFD/", "\u{1F600}/"]);
  });
});

Deno.test("packLayer() output is read by GNU tar", async () => {
  await withTempDir(async (dir) => {
    await buildDiffDir(`${dir}/src`);
    const { bytes } = await packToBytes(`${dir}/src`, { compression: "gzip" });
    await Deno.writeFile(`${dir}/layer.tgz`, bytes);

    const listing = await run("tar", ["-tvzf", `${dir}/layer.tgz`, "--numeric-owner"]);
    Deno.mkdirSync(`${dir}/gnu`);
    await run("tar", ["-xzf", `${dir}/layer.tgz`, "-C", `${dir}/gnu`, "--numeric-owner", "-p"]);

    assertMatch(listing, /^-rwsr-xr-x 0\/0 +20 2020-01-01 00:00 bin\/tool$/m);
    assertMatch(listing, /^hrwsr-xr-x 0\/0 +0 2020-01-01 00:00 bin\/tool-link link to bin\/tool$/m);
    assertMatch(listing, /^-rw-r----- 3000000\/3000001 +5 2020-01-01 00:00 big-uid$/m);
    assertMatch(listing, /^crw-rw-rw- 0\/0 +1,3 2020-01-01 00:00 dev\/null$/m);
    assertStringIncludes(listing, LONG_FILE);
    const expected = describeTree(`${dir}/src`);
    const actual = describeTree(`${dir}/gnu`);
    for (const [path, description] of Object.entries(expected)) {
      if (description === "whiteout") {
        const whiteout = path.replace(/([^/]+)$/, ".wh.$1");
        assertMatch(actual[whiteout], /^file 0 0:0 .* size=0 /, whiteout);
        delete actual[whiteout];
        continue;
      }
      if (description.endsWith(" opaque")) {
        assertMatch(actual[`${path}/.wh..wh..opq`], /^file 0 0:0 .* size=0 /);
        delete actual[`${path}/.wh..wh..opq`];
        assertEquals(actual[path], description.slice(0, -" opaque".length), path);
        delete actual[path];
        continue;
      }
      assertEquals(actual[path], description, path);
      delete actual[path];
    }
    assertEquals(Object.keys(actual), [], "GNU tar extracted entries the diff dir does not have");
  });
});

Deno.test("packLayer() writes binary xattrs GNU tar restores", async () => {
  await withTempDir(async (dir) => {
    Deno.mkdirSync(`${dir}/src`);
    writeFile(`${dir}/src`, "ping", "x", 0o755);
    const binary = new Uint8Array([0x01, 0x00, 0x00, 0x02, 0x80, 0xff, 0x0a, 0x3d]);
    writeXattr(`${dir}/src/ping`, "user.binary", binary);
    markOpaque(`${dir}/src`);
    makeDir(`${dir}/src`, "cache", 0o755);
    markOpaque(`${dir}/src/cache`);
    const { bytes } = await packToBytes(`${dir}/src`, { compression: "none" });
    await Deno.writeFile(`${dir}/layer.tar`, bytes);
    Deno.mkdirSync(`${dir}/gnu`);

    await run("tar", [
      "--xattrs",
      "--xattrs-include=*",
      "-xf",
      `${dir}/layer.tar`,
      "-C",
      `${dir}/gnu`,
    ]);

    assertEquals(readXattr(`${dir}/gnu/ping`, "user.binary"), binary);
    // The root's opaque mark becomes a top-level marker entry and no overlayfs attribute is packed.
    assertEquals(listDir(`${dir}/gnu`), [".wh..wh..opq", "cache", "ping"]);
    assertEquals(listDir(`${dir}/gnu/cache`), [".wh..wh..opq"]);
    assert(
      !new TextDecoder().decode(bytes).includes("trusted.overlay"),
      "overlayfs attribute packed",
    );
  });
});

Deno.test("packTree() keeps devices and skips whiteout translation", async () => {
  await withTempDir(async (dir) => {
    await buildDiffDir(`${dir}/src`);
    const { bytes } = await packToBytes(`${dir}/src`, { compression: "none" }, true);
    await Deno.writeFile(`${dir}/tree.tar`, bytes);

    const listing = await run("tar", ["-tvf", `${dir}/tree.tar`, "--numeric-owner"]);

    assertMatch(listing, /^c--------- 0\/0 +0,0 2020-01-01 00:00 removed$/m);
    assert(!listing.includes(".wh."), listing);
  });
});

Deno.test("packLayer() skips a socket with a warning", async () => {
  await withTempDir(async (dir) => {
    Deno.mkdirSync(`${dir}/src`);
    writeFile(`${dir}/src`, "file", "x", 0o644);
    const listener = Deno.listen({ transport: "unix", path: `${dir}/src/socket` });
    try {
      const { bytes, result } = await packToBytes(`${dir}/src`, { compression: "none" });
      await Deno.writeFile(`${dir}/layer.tar`, bytes);

      assertEquals(result.warnings, ['skipped "socket": sockets cannot be stored in a tar']);
      assertEquals((await run("tar", ["-tf", `${dir}/layer.tar`])).trim(), "file");
    } finally {
      listener.close();
    }
  });
});

Deno.test("packLayer() rejects done when the stream is cancelled", async () => {
  await withTempDir(async (dir) => {
    await buildDiffDir(`${dir}/src`);
    const packed = packLayer(`${dir}/src`, { compression: "gzip" });
    const reader = packed.stream.getReader();
    await reader.read();
    await reader.cancel("stop");

    await assertRejects(() => packed.done, CancelledError, "Layer pack cancelled");
  });
});

Deno.test("packLayer() fails for a missing directory", async () => {
  await withTempDir(async (dir) => {
    const packed = packLayer(`${dir}/missing`, { compression: "gzip" });

    await assertRejects(() => readAll(packed.stream), Deno.errors.NotFound);
    await assertRejects(() => packed.done, Deno.errors.NotFound);
  });
});

Deno.test("packLayer() names the entry that fails", async () => {
  await withTempDir(async (dir) => {
    Deno.mkdirSync(`${dir}/src`);
    // Deno decodes file names as UTF-8, so a name with byte 0xFF comes back as U+FFFD and the
    // lstat of that name fails.
    await run("bash", ["-c", `touch "$1/"$'\\xff'`, "bash", `${dir}/src`]);
    const packed = packLayer(`${dir}/src`, { compression: "none" });

    const error = await assertRejects(() => readAll(packed.stream));

    assertStringIncludes(error.message, `Failed to pack "${dir}/src" at "\uFFFD"`);
    assert(error.cause instanceof Deno.errors.NotFound);
  });
});

Deno.test("packLayer() rejects bad options", () => {
  assertThrows(
    () => packLayer("/nonexistent", { compression: "bzip2" as "gzip" }),
    TypeError,
    'compression "bzip2" is not "gzip", "zstd" or "none"',
  );
  assertThrows(
    () => packLayer("/nonexistent", { compression: "gzip", sourceDateEpoch: -1 }),
    RangeError,
  );
  assertThrows(() => packLayer("/nonexistent", { compression: "gzip", level: 10 }), RangeError);
});

Deno.test("packLayer() writes a file the store shares as a separate file at each name", async () => {
  await withTempDir(async (dir) => {
    makeDir(dir, "src", 0o755);
    writeFile(`${dir}/src`, "shared.txt", "shared\n", 0o644);
    markSharedFile(`${dir}/src/shared.txt`);
    Deno.linkSync(`${dir}/src/shared.txt`, `${dir}/src/alias.txt`);
    writeFile(`${dir}/src`, "own.txt", "own\n", 0o644);
    Deno.linkSync(`${dir}/src/own.txt`, `${dir}/src/own-link.txt`);
    const { bytes } = await packToBytes(`${dir}/src`, { compression: "none" });
    await Deno.writeFile(`${dir}/layer.tar`, bytes);

    const listing = await run("tar", ["-tvf", `${dir}/layer.tar`]);

    const lines = listing.trim().split("\n");
    const line = (name: string) => lines.find((entry) => entry.endsWith(` ${name}`)) ?? "";
    assertEquals(line("alias.txt").startsWith("-"), true, line("alias.txt"));
    assertEquals(line("shared.txt").startsWith("-"), true, line("shared.txt"));
    assertEquals(lines.some((entry) => entry.includes("own.txt link to own-link.txt")), true);
    // The mark stays in the store: no PAX record carries it into the layer.
    assertEquals(new TextDecoder("latin1").decode(bytes).includes("tsbuild.shared"), false);
  });
});
