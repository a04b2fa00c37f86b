import { join } from "../../../core/deps.ts";
import { applyDelta, PackReader } from "../../../plugins/sources/_git_pack.ts";
import { indexPack, writePack } from "../../../plugins/sources/_git_pack_write.ts";
import { assert, assertEquals, assertRejects, assertThrows } from "../../_assert.ts";
import { git } from "../../_fixtures/git_server.ts";

/** A repository whose history is in one pack made by `git repack`, with deltas. */
async function withPackedRepository(
  fn: (dir: string, pack: { name: string; pack: string; index: string }) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "tsbuild-git-pack-" });
  try {
    await git(["init", "--quiet", "--initial-branch=main"], { cwd: dir });
    for (let commit = 0; commit < 12; commit++) {
      for (let file = 0; file < 20; file++) {
        const line = `file ${file} revision ${commit} with enough text to make deltas\n`;
        await Deno.writeTextFile(join(dir, `f${file}.txt`), line.repeat(40 + file));
      }
      await git(["add", "--all"], { cwd: dir });
      await git(["commit", "--quiet", "-m", `commit ${commit}`], {
        cwd: dir,
        date: 1_700_000_000 + commit,
      });
    }
    await git(["repack", "-a", "-d", "-f", "--quiet"], { cwd: dir });
    const packDir = join(dir, ".git/objects/pack");
    const name = (await Array.fromAsync(Deno.readDir(packDir)))
      .find((entry) => entry.name.endsWith(".pack"))!.name.slice(0, -5);
    await fn(dir, {
      name,
      pack: join(packDir, `${name}.pack`),
      index: join(packDir, `${name}.idx`),
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("indexPack() writes the index git writes", async () => {
  await withPackedRepository(async (dir, pack) => {
    const copy = join(dir, "copy.pack");
    await Deno.copyFile(pack.pack, copy);

    const { checksum, oids } = await indexPack(copy);

    assertEquals(`pack-${checksum}`, pack.name);
    assertEquals(await Deno.readFile(join(dir, "copy.idx")), await Deno.readFile(pack.index));
    const count = await git(["count-objects", "-v"], { cwd: dir });
    assert(count.includes(`in-pack: ${oids.length}`), count);
  });
});

Deno.test("indexPack() rejects a pack with a flipped byte", async () => {
  await withPackedRepository(async (dir, pack) => {
    const bytes = await Deno.readFile(pack.pack);
    bytes[Math.floor(bytes.length / 2)] ^= 0xff;
    const damaged = join(dir, "damaged.pack");
    await Deno.writeFile(damaged, bytes);

    await assertRejects(() => indexPack(damaged), RangeError, "does not match its checksum");
  });
});

Deno.test("PackReader reads every object as git does", async () => {
  await withPackedRepository(async (dir, pack) => {
    const reader = await PackReader.open(join(dir, ".git"));
    const listing = await git(["cat-file", "--batch-all-objects", "--batch-check"], { cwd: dir });
    const verified = await git(["verify-pack", "-v", pack.index], { cwd: dir });

    const lines = listing.split("\n");
    for (const line of lines) {
      const [oid, type, size] = line.split(" ");
      const object = reader.read(oid);
      assertEquals(object.type, type, `type of ${oid}`);
      assertEquals(object.data.length, Number(size), `size of ${oid}`);
    }
    const blob = await git(["rev-parse", "HEAD:f3.txt"], { cwd: dir });
    const content = await git(["cat-file", "blob", blob], { cwd: dir });
    assertEquals(new TextDecoder().decode(reader.readTyped(blob, "blob")).trim(), content);
    assertEquals(lines.length, [...reader.objects()].length);
    assert(verified.includes("chain length = 2"), "git stored objects as delta chains");
  });
});

Deno.test("writePack() writes a pack git accepts", async () => {
  await withPackedRepository(async (dir) => {
    const reader = await PackReader.open(join(dir, ".git"));
    const head = await git(["rev-parse", "HEAD"], { cwd: dir });
    const tree = await git(["rev-parse", "HEAD^{tree}"], { cwd: dir });
    const blob = await git(["rev-parse", "HEAD:f0.txt"], { cwd: dir });
    const out = join(dir, "out");
    await Deno.mkdir(out);

    const name = await writePack([head, tree, blob].map((oid) => reader.read(oid)), out);

    const verified = await git(["verify-pack", "-v", join(out, `${name}.idx`)], { cwd: dir });
    for (const oid of [head, tree, blob]) assert(verified.includes(oid), `${oid} is in the pack`);
  });
});

Deno.test("applyDelta() rejects a delta for another base", () => {
  // Base size 3, result size 3, copy 3 bytes from offset 0.
  const delta = new Uint8Array([3, 3, 0x90, 3]);

  assertEquals(new TextDecoder().decode(applyDelta(new TextEncoder().encode("abc"), delta)), "abc");
  assertThrows(() => applyDelta(new TextEncoder().encode("abcd"), delta), RangeError);
  assertThrows(
    () => applyDelta(new TextEncoder().encode("abc"), new Uint8Array([3, 5, 0x90, 9])),
    RangeError,
  );
});
