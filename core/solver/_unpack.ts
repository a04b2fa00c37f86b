/**
 * Extraction of local tar archives for Dockerfile ADD: plain, gzip, zstd,
 * bzip2 and xz archives are recognised by content, not by file name.
 *
 * @module
 */

import { InvalidInputError, NotFoundError } from "../errors.ts";
import { decompressStream } from "../oci/compression.ts";
// NOTE: the tar reader is private to core/oci; it is shared here rather than duplicated.
import { checksumMatches, extractEntries } from "../oci/_tar_read.ts";
import type { TarEntryHeader } from "../oci/_tar_diff_writer.ts";
import { scopedPath } from "../fs/scoped_path.ts";
import type { OwnerIds } from "./_owner.ts";
import { lchown, lutimes } from "../fs/link_metadata.ts";

type ArchiveCompression = "none" | "gzip" | "zstd" | "bzip2" | "xz";

const MAGIC: Array<[ArchiveCompression, number[]]> = [
  ["gzip", [0x1f, 0x8b]],
  ["zstd", [0x28, 0xb5, 0x2f, 0xfd]],
  ["bzip2", [0x42, 0x5a, 0x68]],
  ["xz", [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]],
];

// bzip2 and xz have no decoder in Node's zlib, so the host's tools decode them.
const EXTERNAL_DECODERS: Partial<Record<ArchiveCompression, string>> = {
  bzip2: "bzip2",
  xz: "xz",
};

const TAR_BLOCK = 512;

/** Options for {@link unpackIfArchive}. */
export interface UnpackOptions {
  /** The root of the filesystem being written, which symlinks may not leave. */
  root: string;
  /** Owner for every extracted entry; the archive's owners are kept when omitted. */
  owner?: OwnerIds;
}

/**
 * Extracts `file` into the directory `dest` (a host path inside
 * `options.root`, created when missing) when `file` is a tar archive, and
 * reports whether it was one. Entries keep their modes and times; `..` and
 * symlinks cannot place anything outside `dest`.
 *
 * NOTE: device nodes and FIFOs in the archive are skipped.
 *
 * @throws {InvalidInputError} when the archive is damaged or needs a decoder
 * that is not installed.
 */
export async function unpackIfArchive(
  file: string,
  dest: string,
  options: UnpackOptions,
): Promise<boolean> {
  const compression = detectArchiveCompression(await readHead(file, 6));
  if (!(await startsWithTarHeader(file, compression))) return false;

  await mkdirParents(dest, options);
  const directories: Array<{ path: string; header: TarEntryHeader }> = [];
  try {
    await extractEntries(await openDecompressed(file, compression), async (header, body) => {
      const written = await writeEntry(dest, header, body, options);
      if (written && header.type === "directory") directories.push({ path: written, header });
    });
    // Directory times are set last, since writing their entries changed them. A later entry may
    // have put a symlink in a directory's place or above it, so each path is resolved again and
    // only a directory still reached the same way gets its time.
    for (const { path, header } of directories.reverse()) {
      const current = await scopedPath(dest, path.slice(dest.length + 1));
      if (current !== path || !(await lstatOrUndefined(path))?.isDirectory) continue;
      await Deno.utime(path, header.mtime, header.mtime);
    }
  } catch (error) {
    if (error instanceof NotFoundError || error instanceof InvalidInputError) throw error;
    throw new InvalidInputError(
      `Failed to extract "${file.slice(file.lastIndexOf("/") + 1)}": ${(error as Error).message}`,
      { cause: error },
    );
  }
  return true;
}

function detectArchiveCompression(head: Uint8Array): ArchiveCompression {
  for (const [name, magic] of MAGIC) {
    if (head.length >= magic.length && magic.every((byte, i) => head[i] === byte)) return name;
  }
  return "none";
}

async function readHead(file: string, length: number): Promise<Uint8Array> {
  using handle = await Deno.open(file);
  const buffer = new Uint8Array(length);
  let filled = 0;
  while (filled < length) {
    const read = await handle.read(buffer.subarray(filled));
    if (read === null) break;
    filled += read;
  }
  return buffer.subarray(0, filled);
}

// As for Go's tar reader, which BuildKit uses to decide, an archive starts with a header block
// whose checksum is right. A file of zeros or of text is copied as it is.
async function startsWithTarHeader(file: string, compression: ArchiveCompression) {
  let stream: ReadableStream<Uint8Array>;
  try {
    stream = await openDecompressed(file, compression);
  } catch {
    return false;
  }
  const reader = stream.getReader();
  const block = new Uint8Array(TAR_BLOCK);
  let filled = 0;
  try {
    while (filled < TAR_BLOCK) {
      const { done, value } = await reader.read();
      if (done) break;
      const count = Math.min(value.length, TAR_BLOCK - filled);
      block.set(value.subarray(0, count), filled);
      filled += count;
    }
  } catch {
    return false;
  } finally {
    await reader.cancel().catch(() => {});
  }
  return filled === TAR_BLOCK && checksumMatches(block);
}

async function openDecompressed(
  file: string,
  compression: ArchiveCompression,
): Promise<ReadableStream<Uint8Array>> {
  const input = (await Deno.open(file)).readable;
  if (compression === "none" || compression === "gzip" || compression === "zstd") {
    return decompressStream(input, compression);
  }
  return decodeWithTool(input, EXTERNAL_DECODERS[compression]!, compression);
}

function decodeWithTool(
  input: ReadableStream<Uint8Array>,
  tool: string,
  compression: string,
): ReadableStream<Uint8Array> {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(tool, {
      args: ["-d", "-c"],
      stdin: "piped",
      stdout: "piped",
      stderr: "null",
    }).spawn();
  } catch (error) {
    throw new InvalidInputError(
      `Failed to extract a ${compression} archive: "${tool}" is not installed on this host`,
      { cause: error },
    );
  }
  input.pipeTo(child.stdin).catch(() => {});
  const status = child.status;
  return child.stdout.pipeThrough(
    new TransformStream({
      async flush() {
        const { code } = await status;
        if (code !== 0) throw new Error(`"${tool} -d" exited with code ${code}`);
      },
    }),
  );
}

/** Writes one entry; returns its host path, or undefined when it was skipped. */
async function writeEntry(
  dest: string,
  header: TarEntryHeader,
  body: AsyncIterable<Uint8Array>,
  options: UnpackOptions,
): Promise<string | undefined> {
  const name = header.name.replace(/^\/+/, "").replace(/\/+$/, "");
  if (name === "" || name === ".") {
    await drain(body);
    return undefined;
  }
  const path = await scopedPath(dest, name);
  if (path === dest) {
    // A name such as ".." or "a/.." means the destination itself, which an entry never replaces.
    if (header.type !== "directory") {
      throw new Error(`entry "${header.name}" would replace the destination directory itself`);
    }
    await drain(body);
    return undefined;
  }
  await mkdirParents(path.slice(0, path.lastIndexOf("/")), options);
  const existing = await lstatOrUndefined(path);
  if (existing && !(existing.isDirectory && header.type === "directory")) {
    await Deno.remove(path, { recursive: true });
  }

  switch (header.type) {
    case "directory":
      if (!existing?.isDirectory) await Deno.mkdir(path);
      break;
    case "file":
      await writeFile(path, body);
      break;
    case "symlink":
      await Deno.symlink(header.linkname, path);
      break;
    case "link":
      await Deno.link(await scopedPath(dest, header.linkname.replace(/^\/+/, "")), path);
      await drain(body);
      return path;
    default:
      await drain(body);
      return undefined;
  }
  await applyHeader(path, header, options);
  return path;
}

async function writeFile(path: string, body: AsyncIterable<Uint8Array>): Promise<void> {
  using file = await Deno.open(path, { write: true, create: true, truncate: true, mode: 0o600 });
  for await (const chunk of body) {
    let written = 0;
    while (written < chunk.length) written += await file.write(chunk.subarray(written));
  }
}

async function applyHeader(path: string, header: TarEntryHeader, options: UnpackOptions) {
  const uid = options.owner?.uid ?? header.uid;
  const gid = options.owner?.gid ?? header.gid;
  lchown(path, uid, gid);
  if (header.type === "symlink") {
    lutimes(path, header.mtime, header.mtime);
    return;
  }
  // chown clears the set-user-ID and set-group-ID bits, so the mode comes after it.
  await Deno.chmod(path, header.mode & 0o7777);
  await Deno.utime(path, header.mtime, header.mtime);
}

// Directories the archive does not list are created root-owned (or with the --chown owner)
// and mode 0755, as Docker does.
async function mkdirParents(dir: string, options: UnpackOptions): Promise<void> {
  const missing: string[] = [];
  for (
    let current = dir;
    current.length > options.root.length;
    current = current.slice(0, current.lastIndexOf("/"))
  ) {
    if (await lstatOrUndefined(current)) break;
    missing.unshift(current);
  }
  for (const path of missing) {
    await Deno.mkdir(path, { mode: 0o755 });
    await Deno.chmod(path, 0o755);
    if (options.owner) await Deno.chown(path, options.owner.uid, options.owner.gid);
  }
}

async function drain(body: AsyncIterable<Uint8Array>): Promise<void> {
  for await (const _ of body) { /* discard */ }
}

async function lstatOrUndefined(path: string): Promise<Deno.FileInfo | undefined> {
  try {
    return await Deno.lstat(path);
  } catch {
    return undefined;
  }
}
