/**
 * Shared helpers of the layer codec tests: temporary directories, tars built
 * with tar-stream, and a textual description of a tree to compare two trees.
 *
 * @module
 */

import { createHash } from "../../../core/deps.ts";
import { tarStream } from "../../_fixtures/tar_stream.ts";
import { isOpaque, isWhiteout } from "../../../core/snapshot/whiteout.ts";

/** Creates a temporary directory, passes it to `fn` and removes it afterwards. */
export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "tsbuild-layer-test-" });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Reads a whole stream into one array. */
export async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Returns a stream that yields `bytes` in chunks of `chunkSize`. */
export function streamOf(bytes: Uint8Array, chunkSize = 64 * 1024): ReadableStream<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for (let offset = 0; offset < bytes.length; offset += chunkSize) {
    chunks.push(bytes.slice(offset, offset + chunkSize));
  }
  return ReadableStream.from(chunks);
}

/** One entry of a tar built by {@linkcode buildTar}: a tar-stream header and optional data. */
export interface TarFixtureEntry {
  header: Parameters<ReturnType<typeof tarStream.pack>["entry"]>[0];
  data?: string | Uint8Array;
}

/** Builds an uncompressed tar with tar-stream, an encoder independent of tsbuild's. */
export async function buildTar(entries: TarFixtureEntry[]): Promise<Uint8Array> {
  const pack = tarStream.pack();
  const chunks: Uint8Array[] = [];
  const ended = new Promise<void>((resolve, reject) => {
    pack.on("data", (chunk) => chunks.push(chunk as Uint8Array));
    pack.on("end", () => resolve());
    pack.on("error", reject);
  });
  for (const { header, data } of entries) {
    const fullHeader = { mtime: new Date(1_000_000_000_000), ...header };
    // tar-stream waits for the data of a file entry given without a buffer, so files get one.
    const isFile = (header.type ?? "file") === "file";
    if (data === undefined && !isFile) pack.entry(fullHeader);
    else pack.entry(fullHeader, data ?? "");
  }
  pack.finalize();
  await ended;
  const result = new Uint8Array(chunks.reduce((total, chunk) => total + chunk.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    result.set(chunk, offset);
    offset += chunk.length;
  }
  return result;
}

/** Returns the sha256 digest of `bytes` in the OCI form. */
export function sha256(bytes: Uint8Array): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

function describeEntry(path: string, info: Deno.FileInfo, links: Map<string, string>): string {
  const owner = `${info.uid}:${info.gid}`;
  const mode = ((info.mode ?? 0) & 0o7777).toString(8);
  const mtime = Math.floor((info.mtime?.getTime() ?? 0) / 1000);
  const common = `${mode} ${owner} mtime=${mtime}`;
  if (info.isSymlink) return `symlink ${common} -> ${Deno.readLinkSync(path)}`;
  if (info.isDirectory) return `dir ${common}${isOpaque(path) ? " opaque" : ""}`;
  if (isWhiteout(info)) return "whiteout";
  if (info.isCharDevice || info.isBlockDevice) {
    return `${info.isCharDevice ? "char" : "block"} ${common} rdev=${info.rdev}`;
  }
  if (info.isFifo) return `fifo ${common}`;
  const key = `${info.dev}:${info.ino}`;
  const group = (info.nlink ?? 1) > 1 ? ` links=${links.get(key) ?? ""}` : "";
  const digest = sha256(Deno.readFileSync(path));
  return `file ${common} size=${info.size} ${digest}${group}`;
}

/**
 * Describes every entry under `root` as one line of text: type, mode, owner,
 * whole-second mtime, and contents, link target, device number or opaque mark.
 * Hardlinked files name the first path of their group.
 */
export function describeTree(root: string): Record<string, string> {
  const result: Record<string, string> = {};
  const links = new Map<string, string>();
  const visit = (relative: string) => {
    const names = [...Deno.readDirSync(`${root}/${relative}`)].map((entry) => entry.name).sort();
    for (const name of names) {
      const path = relative === "" ? name : `${relative}/${name}`;
      const info = Deno.lstatSync(`${root}/${path}`);
      const key = `${info.dev}:${info.ino}`;
      if ((info.nlink ?? 1) > 1 && info.isFile && !links.has(key)) links.set(key, path);
      result[path] = describeEntry(`${root}/${path}`, info, links);
      if (info.isDirectory) visit(path);
    }
  };
  visit("");
  return result;
}

/** Lists the names directly inside `dir`, sorted. */
export function listDir(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((entry) => entry.name).sort();
}

/** Runs a command and returns its standard output; fails the test when it exits non-zero. */
export async function run(command: string, args: string[]): Promise<string> {
  const output = await new Deno.Command(command, { args, stdout: "piped", stderr: "piped" })
    .output();
  if (!output.success) {
    throw new Error(
      `${command} ${args.join(" ")} failed: ${new TextDecoder().decode(output.stderr)}`,
    );
  }
  return new TextDecoder().decode(output.stdout);
}

/** Runs a command with `input` on its standard input and returns its standard output bytes. */
export async function filter(
  command: string,
  args: string[],
  input: Uint8Array,
): Promise<Uint8Array> {
  const child = new Deno.Command(command, {
    args,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(input);
  await writer.close();
  const output = await child.output();
  if (!output.success) {
    throw new Error(
      `${command} ${args.join(" ")} failed: ${new TextDecoder().decode(output.stderr)}`,
    );
  }
  return output.stdout;
}
