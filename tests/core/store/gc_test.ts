import { assertEquals } from "../../_assert.ts";
import { openStore } from "../../../core/store/store.ts";
import { LINKS_FOLDER, prune } from "../../../core/store/gc.ts";

async function withStore(run: (root: string) => Promise<void>): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "tsbuild-gc-" });
  try {
    await run(root);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

function writeFile(path: string, bytes: number): void {
  Deno.mkdirSync(path.slice(0, path.lastIndexOf("/")), { recursive: true });
  Deno.writeFileSync(path, new Uint8Array(bytes));
}

function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

Deno.test("prune() removes linked files no snapshot uses and keeps the others", async () => {
  await withStore(async (root) => {
    await using store = await openStore(root);
    const links = `${root}/data/local/${LINKS_FOLDER}`;
    writeFile(`${links}/ab/unused`, 1000);
    writeFile(`${links}/cd/used`, 3000);
    const active = await store.snapshots.prepare();
    Deno.linkSync(`${links}/cd/used`, `${active.dir}/used`);
    const snapshot = await active.commit({ kind: "local", id: "local-kept" });
    await store.cache.put({
      key: `sha256:${"1".repeat(64)}`,
      snapshot: snapshot.id,
      createdAt: new Date().toISOString(),
    });

    const result = await prune(store, { keepNewerThanMs: 60_000 });

    assertEquals(result.linkedFiles, 1);
    assertEquals(result.bytes, 1000);
    assertEquals(exists(`${links}/ab`), false);
    assertEquals(exists(`${links}/cd/used`), true);
  });
});

Deno.test("prune() counts a file linked from a snapshot and a links folder once", async () => {
  await withStore(async (root) => {
    await using store = await openStore(root);
    const links = `${root}/data/local/${LINKS_FOLDER}`;
    writeFile(`${links}/ab/shared`, 5000);
    const active = await store.snapshots.prepare();
    Deno.linkSync(`${links}/ab/shared`, `${active.dir}/shared`);
    await active.commit({ kind: "local", id: "local-dropped" });
    const record = Deno.statSync(`${root}/snapshots/local-dropped/snapshot.json`).size;

    const result = await prune(store);

    assertEquals(result.snapshots, 1);
    assertEquals(result.linkedFiles, 1);
    assertEquals(result.bytes, 5000 + record);
  });
});

Deno.test("prune() sweeps a sandboxed plugin's links folder and nothing beside it", async () => {
  await withStore(async (root) => {
    await using store = await openStore(root);
    const plugin = `${root}/data/plugin-example`;
    writeFile(`${plugin}/cache/${LINKS_FOLDER}/file`, 10);
    writeFile(`${plugin}/cache/other/file`, 10);
    writeFile(`${root}/data/git/repo/links/file`, 10);

    const result = await prune(store);

    assertEquals(result.linkedFiles, 1);
    assertEquals(exists(`${plugin}/cache/${LINKS_FOLDER}/file`), false);
    assertEquals(exists(`${plugin}/cache/other/file`), true);
    assertEquals(exists(`${root}/data/git/repo/links/file`), true);
  });
});

Deno.test("prune() keeps a record that a build reused within the kept duration", async () => {
  await withStore(async (root) => {
    await using store = await openStore(root);
    const hourAgo = new Date(Date.now() - 3600_000).toISOString();
    const reused = `sha256:${"2".repeat(64)}` as const;
    const unused = `sha256:${"3".repeat(64)}` as const;
    await store.cache.put({ key: reused, createdAt: hourAgo });
    await store.cache.put({ key: unused, createdAt: hourAgo });
    // Records written now carry their creation time in the file's modification time too.
    const past = new Date(Date.now() - 3600_000);
    for (const key of [reused, unused]) {
      Deno.utimeSync(`${root}/cache/${key.slice("sha256:".length)}.json`, past, past);
    }

    await store.cache.get(reused);
    const result = await prune(store, { keepNewerThanMs: 60_000 });

    assertEquals(result.cacheRecords, 1);
    assertEquals((await store.cache.get(reused))?.key, reused);
    assertEquals(await store.cache.get(unused), undefined);
  });
});

Deno.test("prune() removes temporary files a killed build left and no file of a snapshot", async () => {
  await withStore(async (root) => {
    await using store = await openStore(root);
    const active = await store.snapshots.prepare();
    Deno.writeTextFileSync(`${active.dir}/.tmp-1-image-file`, "part of the image");
    const snapshot = await active.commit({ kind: "file", id: "kept" });
    await store.cache.put({
      key: `sha256:${"4".repeat(64)}`,
      snapshot: snapshot.id,
      createdAt: new Date().toISOString(),
    });
    const leftovers = [
      `${store.blobs.dir}/.tmp-999999-aa`,
      `${store.cache.dir}/.tmp-999999-bb`,
      `${store.snapshots.dir}/kept/.tmp-999999-cc`,
      `${root}/data/local/.tmp-999999-dd`,
    ];
    for (const path of leftovers) writeFile(path, 100);

    await prune(store, { keepNewerThanMs: 60_000 });

    for (const path of leftovers) assertEquals(exists(path), false, path);
    assertEquals(exists(`${store.snapshots.diffDir("kept")}/.tmp-1-image-file`), true);
  });
});
