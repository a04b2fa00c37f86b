/**
 * End-to-end tests of uncompressed layers, which the store keeps as the
 * snapshot they were packed from instead of as a file. The exported layer
 * matches its digest. A snapshot changed outside tsbuild fails the export,
 * which names it. Prune removes the record with its snapshot.
 *
 * @module
 */

import { createHash } from "../../core/deps.ts";
import { assert, assertEquals, assertRejects, assertStringIncludes } from "../_assert.ts";
import { sharedRegistry } from "../_fixtures/shared_registry.ts";
import { buildDockerfile, createTempDir, runTool, writeFiles } from "./_build.ts";
import { openStore } from "../../core/store/store.ts";
import { prune } from "../../core/store/gc.ts";

const DOCKERFILE = "ARG BASE\nFROM ${BASE}\nCOPY . /app\n";

async function buildUncompressed(root: string, context: string, dest: string) {
  const registry = await sharedRegistry();
  return await buildDockerfile({
    root,
    context,
    buildArgs: { BASE: registry.busyboxRef },
    outputs: [{ type: "oci", attrs: { dest, compression: "uncompressed" } }],
  });
}

/** Extracts the OCI archive `archive` into `dir` and returns the top layer's digest and path. */
async function topLayer(archive: string, dir: string): Promise<{ digest: string; path: string }> {
  await Deno.mkdir(dir);
  await runTool("tar", ["-xf", archive, "-C", dir]);
  const index = JSON.parse(await Deno.readTextFile(`${dir}/index.json`));
  const blob = (digest: string) => `${dir}/blobs/sha256/${digest.slice("sha256:".length)}`;
  const manifest = JSON.parse(await Deno.readTextFile(blob(index.manifests[0].digest)));
  const digest = manifest.layers.at(-1).digest;
  return { digest, path: blob(digest) };
}

/** Builds a context containing a.txt into a new store, uncompressed, and returns its paths and layer. */
async function buildOnce(temp: string) {
  const context = `${temp}/context`;
  await writeFiles(context, { Dockerfile: DOCKERFILE, "a.txt": "alpha\n" });
  const root = `${temp}/root`;
  await buildUncompressed(root, context, `${temp}/one.tar`);
  const layer = await topLayer(`${temp}/one.tar`, `${temp}/one`);
  const recordPath = `${root}/blobs/derived/${layer.digest.slice("sha256:".length)}`;
  const { snapshot } = JSON.parse(await Deno.readTextFile(recordPath));
  return { context, root, layer, recordPath, snapshot: snapshot as string };
}

function sha256File(path: string): string {
  return `sha256:${createHash("sha256").update(Deno.readFileSync(path)).digest("hex")}`;
}

Deno.test("uncompressed layer: kept as its snapshot, exported whole with its digest", async () => {
  await using temp = await createTempDir();
  const context = `${temp.path}/context`;
  await writeFiles(context, { Dockerfile: DOCKERFILE, "a.txt": "alpha\n", "sub/b.txt": "beta\n" });
  const root = `${temp.path}/root`;
  await buildUncompressed(root, context, `${temp.path}/one.tar`);

  const layer = await topLayer(`${temp.path}/one.tar`, `${temp.path}/one`);
  const hex = layer.digest.slice("sha256:".length);
  assertEquals(sha256File(layer.path), layer.digest);
  const listing = (await runTool("tar", ["-tf", layer.path])).split("\n");
  assert(listing.includes("app/sub/b.txt"), listing.join(", "));
  // The store keeps a record of the layer, not a copy of its bytes.
  const record = JSON.parse(await Deno.readTextFile(`${root}/blobs/derived/${hex}`));
  assertEquals(record.size, (await Deno.stat(layer.path)).size);
  await assertRejects(() => Deno.stat(`${root}/blobs/sha256/${hex}`), Deno.errors.NotFound);

  // A cached rebuild packs the same bytes again.
  await buildUncompressed(root, context, `${temp.path}/two.tar`);
  const again = await topLayer(`${temp.path}/two.tar`, `${temp.path}/two`);
  assertEquals(again.digest, layer.digest);
  assertEquals(sha256File(again.path), layer.digest);
});

Deno.test("uncompressed layer: a snapshot changed outside tsbuild fails the export and names it", async () => {
  await using temp = await createTempDir();
  const { context, root, layer, recordPath, snapshot } = await buildOnce(temp.path);

  // Replacing the file, rather than writing to it, changes only this snapshot's copy.
  const copied = `${root}/snapshots/${snapshot}/diff/app/a.txt`;
  await Deno.remove(copied);
  await Deno.writeTextFile(copied, "tampered\n");
  const dest = `${temp.path}/two.tar`;
  const error = await assertRejects(() => buildUncompressed(root, context, dest));
  assertStringIncludes(String(error), layer.digest);
  assertStringIncludes(String(error), snapshot);
  assertStringIncludes(String(error), "tsbuild prune");
  await assertRejects(() => Deno.stat(dest), Deno.errors.NotFound);

  // Prune drops the record with the snapshot, and the next build packs the layer anew.
  const store = await openStore(root, { exclusive: true });
  try {
    await prune(store);
  } finally {
    await store.close();
  }
  await assertRejects(() => Deno.stat(recordPath), Deno.errors.NotFound);
  await buildUncompressed(root, context, dest);
  const rebuilt = await topLayer(dest, `${temp.path}/three`);
  assertEquals(sha256File(rebuilt.path), rebuilt.digest);
  assertEquals(await runTool("tar", ["-xOf", rebuilt.path, "app/a.txt"]), "alpha\n");
});

Deno.test("uncompressed layer: a damaged record is packed again, a lost snapshot named", async () => {
  await using temp = await createTempDir();
  const { context, root, layer, recordPath, snapshot } = await buildOnce(temp.path);

  for (const damaged of ['{"snapshot":"', "", '{"snapshot":"../x","size":1}']) {
    await Deno.writeTextFile(recordPath, damaged);
    await buildUncompressed(root, context, `${temp.path}/again.tar`);
    const again = await topLayer(`${temp.path}/again.tar`, `${temp.path}/again`);
    assertEquals(again.digest, layer.digest);
    assertEquals(JSON.parse(await Deno.readTextFile(recordPath)).snapshot, snapshot);
    await Deno.remove(`${temp.path}/again`, { recursive: true });
  }

  await Deno.remove(`${root}/snapshots/${snapshot}/diff`, { recursive: true });
  const dest = `${temp.path}/lost.tar`;
  const error = await assertRejects(() => buildUncompressed(root, context, dest));
  assertStringIncludes(String(error), `snapshot "${snapshot}"`);
  assertStringIncludes(String(error), "tsbuild prune");
  await assertRejects(() => Deno.stat(dest), Deno.errors.NotFound);
});
