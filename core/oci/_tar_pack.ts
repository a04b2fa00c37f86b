/**
 * Turning a directory tree into tar bytes, translating overlayfs whiteouts and
 * opaque directories into the ".wh." entries of the OCI layer format.
 *
 * @module
 */

import { isOpaque, OPAQUE_WHITEOUT, WHITEOUT_PREFIX } from "../snapshot/whiteout.ts";
import { type FileReader, openFileReader } from "../fs/file_reader.ts";
import { type FileStat, lstatPath } from "../fs/statx.ts";
import { listXattrs, readXattr } from "./_tar_libc.ts";
import { baseName, compareNames, joinRoot, parentPath } from "./_tar_paths.ts";
import { walkSorted } from "./_tar_walk.ts";
import type { WalkEntry } from "./_tar_walk.ts";
import { TarWriter } from "./_tar_writer.ts";
import { SHARED_FILE_XATTR } from "../fs/shared_file.ts";
import type { TarHeader } from "./_tar_writer.ts";

/** Settings of {@linkcode generateTar}, already checked. */
export interface TarSettings {
  /** Latest modification time to record, in seconds; later times are clamped to it. */
  sourceDateEpoch: number | undefined;
  /** Whether whiteout devices and opaque directories become ".wh." entries. */
  translateWhiteouts: boolean;
  /** Receives one sentence per entry that could not be packed as it is. */
  warnings: string[];
  /** Full chunks the consumer has finished with, for the writer to fill again. */
  chunkPool?: Uint8Array[];
}

/** Size of the chunks the tar is produced in; large, so later steps see few chunks. */
export const CHUNK_SIZE = 1024 * 1024;

/**
 * Attributes never packed: overlayfs's own (the opaque mark is translated, the
 * others are internal), and the SELinux label, which belongs to the build host.
 */
function isPackedXattr(name: string): boolean {
  return !name.startsWith("trusted.overlay.") && name !== "security.selinux" &&
    name !== SHARED_FILE_XATTR;
}

/** Reads the packed attributes of `path`, and whether the store shares the file between snapshots. */
function readXattrs(path: string): { xattrs: [string, Uint8Array][]; shared: boolean } {
  const all = listXattrs(path);
  const names = all.filter(isPackedXattr).sort(compareNames);
  const xattrs: [string, Uint8Array][] = [];
  for (const name of names) {
    const value = readXattr(path, name);
    if (value !== undefined) xattrs.push([name, value]);
  }
  return { xattrs, shared: all.includes(SHARED_FILE_XATTR) };
}

/**
 * Yields the tar of the tree under `root` in chunks of a MiB, the last one
 * shorter. The same tree and settings always give the same bytes: each
 * directory's entries follow it in byte order, uname and gname are empty, and
 * no access or change times are written.
 */
export function* generateTar(root: string, settings: TarSettings): Generator<Uint8Array> {
  const writer = new TarWriter(CHUNK_SIZE, { pool: settings.chunkPool });
  const packer = new EntryPacker(root, writer, settings);
  if (!Deno.statSync(root).isDirectory) {
    throw new Deno.errors.NotADirectory(`Failed to pack "${root}": not a directory`);
  }
  if (settings.translateWhiteouts && isOpaque(root)) packer.writeOpaqueMarker("", 0);

  // Reading a directory's children happens as the walk resumes after its entry, so an error there
  // is reported with the directory's path.
  let path = "";
  try {
    for (const entry of walkSorted(root)) {
      path = entry.path;
      const data = packer.write(entry);
      if (data) yield* data;
      if (writer.hasChunks()) yield* writer.takeChunks();
    }
  } catch (error) {
    if (path === "") throw error;
    const detail = error instanceof Error ? error.message : String(error);
    throw new Error(`Failed to pack "${root}" at "${path}": ${detail}`, { cause: error });
  }
  writer.finish();
  yield* writer.takeChunks();
}

/** Writes walked entries as tar entries, remembering hardlinked files by device and inode. */
class EntryPacker {
  readonly #root: string;
  readonly #writer: TarWriter;
  readonly #settings: TarSettings;
  /** First path written for each inode with several links, keyed "major:minor:ino" of its device and inode. */
  readonly #links = new Map<string, string>();

  constructor(root: string, writer: TarWriter, settings: TarSettings) {
    this.#root = root;
    this.#writer = writer;
    this.#settings = settings;
  }

  /**
   * Writes one entry. The data of a file larger than a chunk is left to the
   * returned generator, which yields chunks as they fill. Everything else is
   * written before this returns, because two generators per entry cost about
   * 25 ms over a tree of 20,000 files.
   */
  write(entry: WalkEntry): Generator<Uint8Array> | undefined {
    const { path, absolute } = entry;
    const info = lstatPath(absolute);
    const translate = this.#settings.translateWhiteouts;
    // Whiteouts come first: since Linux 5.8, overlayfs may share one whiteout inode among names.
    // A whiteout is a character device numbered 0:0.
    if (translate && info.kind === "char" && info.rdevMajor === 0 && info.rdevMinor === 0) {
      this.#writeWhiteout(path, info);
      return undefined;
    }

    const { header, shared } = this.#baseHeader(path, info);
    if (info.kind === "symlink") {
      this.#writeEntry({ ...header, type: "symlink", linkname: Deno.readLinkSync(absolute) });
    } else if (info.kind === "dir") {
      this.#writeEntry({ ...header, type: "directory" });
      if (translate && isOpaque(absolute)) this.writeOpaqueMarker(path, header.mtime);
    } else if (info.kind === "file") {
      return this.#writeFile(entry, info, header, shared);
    } else if (info.kind === "char" || info.kind === "block") {
      const type = info.kind === "char" ? "character-device" : "block-device";
      this.#writeEntry({ ...header, type, devmajor: info.rdevMajor, devminor: info.rdevMinor });
    } else if (info.kind === "fifo") {
      this.#writeEntry({ ...header, type: "fifo" });
    } else {
      this.#settings.warnings.push(`skipped "${path}": sockets cannot be stored in a tar`);
    }
    return undefined;
  }

  /** Writes the ".wh..wh..opq" entry that marks the directory `dir` opaque. */
  writeOpaqueMarker(dir: string, mtime: number): void {
    const name = dir === "" ? OPAQUE_WHITEOUT : `${dir}/${OPAQUE_WHITEOUT}`;
    this.#writeEntry({ name, type: "file", mode: 0, uid: 0, gid: 0, size: 0, mtime });
  }

  #writeWhiteout(path: string, info: FileStat): void {
    const parent = parentPath(path);
    const base = `${WHITEOUT_PREFIX}${baseName(path)}`;
    const name = parent === "" ? base : `${parent}/${base}`;
    this.#writeEntry({
      name,
      type: "file",
      mode: 0,
      uid: 0,
      gid: 0,
      size: 0,
      mtime: this.#mtime(info),
    });
  }

  #writeFile(
    entry: WalkEntry,
    info: FileStat,
    header: Omit<TarHeader, "type">,
    shared: boolean,
  ): Generator<Uint8Array> | undefined {
    // A file the store shares between snapshots is a separate file wherever it appears.
    if (info.nlink > 1 && !shared) {
      const key = `${info.devMajor}:${info.devMinor}:${info.ino}`;
      const first = this.#links.get(key);
      if (first !== undefined) {
        this.#writeEntry({ ...header, type: "link", linkname: first });
        return undefined;
      }
      this.#links.set(key, entry.path);
    }

    const size = info.size;
    this.#writer.writeHeader({ ...header, type: "file", size });
    const file = openFileReader(entry.absolute);
    if (size > CHUNK_SIZE) return this.#copyLargeFile(file, size);
    try {
      this.#copyData(file, size, size);
    } finally {
      file.close();
    }
    this.#writer.endEntry();
    return undefined;
  }

  /** Copies a large file's data a chunk at a time, yielding each chunk once it is full. */
  *#copyLargeFile(file: FileReader, size: number): Generator<Uint8Array> {
    try {
      for (let remaining = size; remaining > 0;) {
        const step = Math.min(remaining, CHUNK_SIZE);
        this.#copyData(file, size, step);
        remaining -= step;
        yield* this.#writer.takeChunks();
      }
    } finally {
      file.close();
    }
    this.#writer.endEntry();
  }

  /** Reads the next `count` bytes of `file`, whose size is `size`, into the writer. */
  #copyData(file: FileReader, size: number, count: number): void {
    for (let left = count; left > 0;) {
      const space = this.#writer.space();
      const read = file.read(space.subarray(0, Math.min(space.length, left)));
      if (read === 0) throw new Error(`file shrank while being packed: expected ${size} bytes`);
      this.#writer.commit(read);
      left -= read;
    }
  }

  #writeEntry(header: TarHeader): void {
    this.#writer.writeHeader(header);
    this.#writer.endEntry();
  }

  /** Returns the header fields every entry type shares, and whether the store shares the file. */
  #baseHeader(
    path: string,
    info: FileStat,
  ): { header: Omit<TarHeader, "type">; shared: boolean } {
    const { xattrs, shared } = readXattrs(joinRoot(this.#root, path));
    const header = {
      name: path,
      mode: info.mode,
      uid: info.uid,
      gid: info.gid,
      size: 0,
      mtime: this.#mtime(info),
      xattrs,
    };
    return { header, shared };
  }

  #mtime(info: FileStat): number {
    const seconds = info.mtimeSec;
    const epoch = this.#settings.sourceDateEpoch;
    return epoch !== undefined && seconds > epoch ? epoch : seconds;
  }
}
