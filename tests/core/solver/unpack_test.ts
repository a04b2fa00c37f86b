import { assert, assertEquals, assertRejects, assertStringIncludes } from "../../_assert.ts";
import { InvalidInputError } from "../../../core/errors.ts";
import { unpackIfArchive } from "../../../core/solver/_unpack.ts";
import { concat, headerBlock, padded } from "../oci/_tar_blocks.ts";
import { run, withTempDir } from "../oci/_layer_fixtures.ts";

const encoder = new TextEncoder();
const END = new Uint8Array(1024);

/** Writes `tar` as `<dir>/root/archive.tar` and returns the paths ADD would use. */
function setUp(dir: string, tar: Uint8Array) {
  const root = `${dir}/root`;
  Deno.mkdirSync(`${root}/x`, { recursive: true });
  Deno.writeTextFileSync(`${root}/x/keep`, "kept");
  Deno.mkdirSync(`${dir}/outside`);
  Deno.writeFileSync(`${dir}/archive.tar`, tar);
  return { root, dest: `${root}/x`, archive: `${dir}/archive.tar` };
}

Deno.test("unpackIfArchive() rejects entries that name the destination itself", async () => {
  for (const name of ["..", "a/..", "./..", "../.."]) {
    await withTempDir(async (dir) => {
      const tar = concat([
        headerBlock(name, "2", 0, { linkname: `${dir}/outside` }),
        headerBlock("pwned", "0", 4),
        padded(encoder.encode("evil")),
        END,
      ]);
      const { root, dest, archive } = setUp(dir, tar);

      const error = await assertRejects(
        () => unpackIfArchive(archive, dest, { root }),
        InvalidInputError,
      );

      assertStringIncludes(error.message, `entry "${name}" would replace the destination`);
      assert(Deno.lstatSync(dest).isDirectory, `${name}: the destination stays a directory`);
      assertEquals(Deno.readTextFileSync(`${dest}/keep`), "kept");
      assertEquals([...Deno.readDirSync(`${dir}/outside`)], []);
    });
  }
});

Deno.test("unpackIfArchive() skips a directory entry named ..", async () => {
  await withTempDir(async (dir) => {
    const tar = concat([headerBlock("..", "5", 0, { mode: 0o7777 }), END]);
    const { root, dest, archive } = setUp(dir, tar);
    Deno.chmodSync(dest, 0o755);

    assert(await unpackIfArchive(archive, dest, { root }));

    assertEquals(Deno.statSync(dest).mode! & 0o7777, 0o755);
    assertEquals(Deno.readTextFileSync(`${dest}/keep`), "kept");
  });
});

Deno.test("unpackIfArchive() sets no directory time through a later symlink", async () => {
  await withTempDir(async (dir) => {
    const victim = `${dir}/outside/victim`;
    const tar = concat([
      headerBlock("d/", "5", 0, { mode: 0o755, mtime: 1 }),
      headerBlock("d", "2", 0, { linkname: victim }),
      END,
    ]);
    const { root, dest, archive } = setUp(dir, tar);
    Deno.writeTextFileSync(victim, "victim");
    Deno.utimeSync(victim, 1_700_000_000, 1_700_000_000);

    assert(await unpackIfArchive(archive, dest, { root }));

    assertEquals(Deno.lstatSync(`${dest}/d`).isSymlink, true);
    assertEquals(Deno.statSync(victim).mtime?.getTime(), 1_700_000_000_000);
  });
});

Deno.test("unpackIfArchive() extracts a V7 archive", async () => {
  await withTempDir(async (dir) => {
    Deno.mkdirSync(`${dir}/tree`);
    Deno.writeTextFileSync(`${dir}/tree/old.txt`, "seventh edition");
    await run("tar", ["-C", `${dir}/tree`, "--format=v7", "-cf", `${dir}/v7.tar`, "old.txt"]);
    const { root, dest, archive } = setUp(dir, Deno.readFileSync(`${dir}/v7.tar`));

    assert(await unpackIfArchive(archive, dest, { root }));

    assertEquals(Deno.readTextFileSync(`${dest}/old.txt`), "seventh edition");
  });
});
