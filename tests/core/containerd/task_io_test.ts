import { createTaskIo } from "../../../core/containerd/task_io.ts";
import { assert, assertEquals, assertRejects } from "../../_assert.ts";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "tsbuild-task-io-test-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function writeAndClose(path: string, text: string): Promise<void> {
  const file = await Deno.open(path, { write: true });
  await file.write(new TextEncoder().encode(text));
  file.close();
}

Deno.test("createTaskIo() forwards what writers write until they close", async () => {
  await withDir(async (dir) => {
    const out: string[] = [];
    const err: string[] = [];
    const decoder = new TextDecoder();
    await using io = createTaskIo(dir, {
      stdout: (chunk) => out.push(decoder.decode(chunk)),
      stderr: (chunk) => err.push(decoder.decode(chunk)),
    });

    assert(Deno.lstatSync(io.stdout).isFifo);
    await writeAndClose(io.stdout, "to stdout\n");
    await writeAndClose(io.stderr, "to stderr\n");
    await io.done;

    assertEquals(out.join(""), "to stdout\n");
    assertEquals(err.join(""), "to stderr\n");
  });
});

Deno.test("createTaskIo() closes although no writer ever opened the FIFOs", async () => {
  await withDir(async (dir) => {
    const io = createTaskIo(dir);
    const started = Date.now();

    await io.close();

    assert(Date.now() - started < 2000, `closing took ${Date.now() - started} ms`);
    assertEquals([...Deno.readDirSync(dir)], []);
  });
});

Deno.test("createTaskIo() reports a failing callback through done", async () => {
  await withDir(async (dir) => {
    const io = createTaskIo(dir, {
      stdout: () => {
        throw new Error("consumer failed");
      },
    });

    await writeAndClose(io.stdout, "data");
    await assertRejects(() => io.done, Error, "consumer failed");
    await io.close();
    assertEquals([...Deno.readDirSync(dir)], []);
  });
});
