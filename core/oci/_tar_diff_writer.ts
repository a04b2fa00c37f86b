/**
 * Writing the entries of an OCI layer tar into a snapshot diff directory, in
 * overlayfs's upper-directory format and without ever leaving that directory.
 *
 * @module
 */

import { NotFoundError, PathEscapeError } from "../errors.ts";
import { createWhiteout, isWhiteout, markOpaque } from "../snapshot/whiteout.ts";
import { findInLowers } from "./_tar_lower.ts";
import type { LowerEntry } from "./_tar_lower.ts";
import {
  listXattrs,
  makeDev,
  mknod,
  readXattr,
  S_IFBLK,
  S_IFCHR,
  S_IFIFO,
  writeXattr,
} from "./_tar_libc.ts";
import { cleanEntryPath, joinRoot, parentPath, parseWhiteout } from "./_tar_paths.ts";
import { lchown, lutimes } from "../fs/link_metadata.ts";

/** Entry types the writer creates; "unsupported" stands for any other tar type flag. */
export type TarEntryType =
  | "file"
  | "directory"
  | "symlink"
  | "link"
  | "character-device"
  | "block-device"
  | "fifo"
  | "unsupported";

/** One entry of a layer tar, with its PAX records already applied. */
export interface TarEntryHeader {
  /** The name as stored in the tar, before cleaning. */
  name: string;
  type: TarEntryType;
  /** Permission bits, set-id and sticky bits included. */
  mode: number;
  uid: number;
  gid: number;
  /** Modification time in seconds since the epoch, possibly fractional. */
  mtime: number;
  /** Target of a symlink, or the stored name of a hardlink's target. */
  linkname: string;
  devmajor: number;
  devminor: number;
  /** Extended attributes from `SCHILY.xattr.` PAX records, values as stored. */
  xattrs: [string, Uint8Array<ArrayBuffer>][];
}

/** Size of the buffer that collects file data, so most files take a single write. */
const WRITE_BUFFER_SIZE = 1024 * 1024;

/** Attribute prefix overlayfs reserves; a layer that sets one could redirect lookups. */
const OVERLAY_XATTR_PREFIX = "trusted.overlay.";

const DEFAULT_DIR_MODE = 0o755;
const PERMISSION_BITS = 0o777;
const SPECIAL_BITS = 0o7000;

/** Reads the process umask from /proc without changing it, which `Deno.umask()` would do. */
function readUmask(): number {
  try {
    const status = Deno.readTextFileSync("/proc/self/status");
    const match = /^Umask:\s*([0-7]+)$/m.exec(status);
    if (match) return parseInt(match[1], 8);
  } catch {
    // Without /proc the umask is unknown; assuming every bit masked makes each file get a chmod.
  }
  return PERMISSION_BITS;
}

function writeAll(file: Deno.FsFile, data: Uint8Array): void {
  let offset = 0;
  while (offset < data.byteLength) offset += file.writeSync(data.subarray(offset));
}

/** Reports whether `error` means that the path to create already exists. */
function isAlreadyExists(error: unknown): boolean {
  return error instanceof Deno.errors.AlreadyExists;
}

/**
 * Writes the entries of one layer, in tar order, into a diff directory.
 *
 * Every parent directory is checked once with `lstat` and then remembered, so
 * most entries cost only the calls that create them. Entries are created with
 * exclusive flags, so an existing symlink is never followed. A path that exists
 * is removed and created again, because later tar entries replace earlier ones.
 */
export class DiffWriter {
  readonly #root: string;
  readonly #lowerDirs: readonly string[];
  readonly #warnings: string[];
  readonly #umask = readUmask();
  readonly #buffer = new Uint8Array(WRITE_BUFFER_SIZE);
  /** Relative paths checked to be real directories, not symlinks; "" is the root. */
  readonly #realDirs = new Set<string>([""]);
  /** Modification times of directories, set at the end because adding children changes them. */
  readonly #dirTimes = new Map<string, number>();

  constructor(root: string, lowerDirs: readonly string[], warnings: string[]) {
    this.#root = root;
    this.#lowerDirs = lowerDirs;
    this.#warnings = warnings;
  }

  /** Writes one entry; `body` yields a regular file's data and is drained for other types. */
  async write(header: TarEntryHeader, body: AsyncIterable<Uint8Array>): Promise<void> {
    const path = cleanEntryPath(header.name);
    const whiteout = parseWhiteout(path);
    if (whiteout !== undefined) {
      if (whiteout.kind === "whiteout") this.#writeWhiteout(whiteout.path);
      if (whiteout.kind === "opaque") this.#writeOpaque(whiteout.dir);
      return await drain(body);
    }

    if (path === "") return await this.#writeRoot(header, body);
    this.#ensureDir(parentPath(path));
    if (header.type === "file") return await this.#writeFile(path, header, body);

    await drain(body);
    switch (header.type) {
      case "directory":
        return this.#writeDir(path, header);
      case "symlink":
        return this.#writeSymlink(path, header);
      case "link":
        return this.#writeHardlink(path, header);
      case "character-device":
      case "block-device":
      case "fifo":
        return this.#writeNode(path, header);
      case "unsupported":
        throw new TypeError(`entry type is not supported`);
    }
  }

  /** Sets the directories' modification times; call once after the last entry. */
  finish(): void {
    for (const [path, mtime] of this.#dirTimes) {
      Deno.utimeSync(joinRoot(this.#root, path), mtime, mtime);
    }
  }

  async #writeRoot(header: TarEntryHeader, body: AsyncIterable<Uint8Array>): Promise<void> {
    await drain(body);
    if (header.type !== "directory") {
      throw new PathEscapeError(`entry would replace the layer root with a ${header.type}`);
    }
    this.#applyOwnerAndMode(this.#root, header, true);
    this.#applyXattrs(this.#root, header);
    this.#dirTimes.set("", header.mtime);
  }

  async #writeFile(
    path: string,
    header: TarEntryHeader,
    body: AsyncIterable<Uint8Array>,
  ): Promise<void> {
    const target = joinRoot(this.#root, path);
    const mode = header.mode & PERMISSION_BITS;
    const file = this.#create(
      path,
      () => Deno.openSync(target, { write: true, createNew: true, mode }),
    );
    try {
      await this.#copyBody(file, body);
      file.utimeSync(header.mtime, header.mtime);
    } finally {
      file.close();
    }
    this.#applyOwnerAndMode(target, header, false);
    this.#applyXattrs(target, header);
  }

  /** Copies `body` into `file` through the write buffer, so small files take one write. */
  async #copyBody(file: Deno.FsFile, body: AsyncIterable<Uint8Array>): Promise<void> {
    const buffer = this.#buffer;
    let used = 0;
    for await (const chunk of body) {
      if (used + chunk.byteLength > buffer.byteLength) {
        writeAll(file, buffer.subarray(0, used));
        used = 0;
      }
      if (chunk.byteLength >= buffer.byteLength) {
        writeAll(file, chunk);
        continue;
      }
      buffer.set(chunk, used);
      used += chunk.byteLength;
    }
    if (used > 0) writeAll(file, buffer.subarray(0, used));
  }

  #writeDir(path: string, header: TarEntryHeader): void {
    const target = joinRoot(this.#root, path);
    this.#makeDir(path, header.mode & PERMISSION_BITS);
    this.#applyOwnerAndMode(target, header, true);
    this.#applyXattrs(target, header);
    this.#dirTimes.set(path, header.mtime);
  }

  /**
   * Creates the directory `path` or keeps the one there. A whiteout in its place
   * becomes an opaque directory: the layer deleted the lower directory and made a
   * new one, so none of the lower contents may show through.
   */
  #makeDir(path: string, mode: number): void {
    const target = joinRoot(this.#root, path);
    try {
      Deno.mkdirSync(target, { mode });
    } catch (error) {
      if (!isAlreadyExists(error)) throw error;
      const info = Deno.lstatSync(target);
      if (!info.isDirectory) {
        this.#remove(path, info);
        Deno.mkdirSync(target, { mode });
        if (isWhiteout(info)) markOpaque(target);
      }
    }
    this.#realDirs.add(path);
  }

  #writeSymlink(path: string, header: TarEntryHeader): void {
    const target = joinRoot(this.#root, path);
    this.#create(path, () => Deno.symlinkSync(header.linkname, target));
    lchown(target, header.uid, header.gid);
    lutimes(target, header.mtime, header.mtime);
    this.#applyXattrs(target, header);
  }

  #writeNode(path: string, header: TarEntryHeader): void {
    const target = joinRoot(this.#root, path);
    const typeBits = header.type === "character-device"
      ? S_IFCHR
      : header.type === "block-device"
      ? S_IFBLK
      : S_IFIFO;
    if (typeBits === S_IFCHR && header.devmajor === 0 && header.devminor === 0) {
      this.#warnings.push(
        `entry "${header.name}" is a character device 0:0, which overlayfs reads as a whiteout`,
      );
    }

    const dev = makeDev(header.devmajor, header.devminor);
    this.#create(path, () => mknod(target, typeBits | (header.mode & PERMISSION_BITS), dev));
    this.#applyOwnerAndMode(target, header, false);
    Deno.utimeSync(target, header.mtime, header.mtime);
    this.#applyXattrs(target, header);
  }

  #writeHardlink(path: string, header: TarEntryHeader): void {
    const linkTarget = cleanEntryPath(header.linkname);
    if (linkTarget === "") {
      throw new PathEscapeError(`hardlink target "${header.linkname}" is the layer root`);
    }

    const target = joinRoot(this.#root, path);
    if (this.#existsInDiff(linkTarget)) {
      const source = joinRoot(this.#root, linkTarget);
      this.#create(path, () => Deno.linkSync(source, target));
      return;
    }

    const lower = findInLowers(this.#lowerDirs, linkTarget);
    if (lower === undefined) {
      throw new NotFoundError(
        `hardlink target "${header.linkname}" not found in the layer or its lower layers`,
      );
    }
    this.#copyFromLower(path, lower, header);
  }

  /**
   * Reports whether the clean path `path` exists in the diff directory. Parents
   * are checked as in `#ensureDir`, but a missing one
   * means the path does not exist rather than a directory to create.
   */
  #existsInDiff(path: string): boolean {
    let dir = "";
    for (const part of parentPath(path).split("/")) {
      if (part === "") break;
      dir = dir === "" ? part : `${dir}/${part}`;
      if (this.#realDirs.has(dir)) continue;
      const info = lstatOrUndefined(joinRoot(this.#root, dir));
      if (info === undefined || isWhiteout(info)) return false;
      if (info.isSymlink) {
        throw new PathEscapeError(`parent "${dir}" is a symlink`, { data: { path: dir } });
      }
      if (!info.isDirectory) return false;
      this.#realDirs.add(dir);
    }
    return lstatOrUndefined(joinRoot(this.#root, path)) !== undefined;
  }

  /**
   * Copies a lower layer's file to `path`. A hardlink cannot cross layers, so
   * the upper layer gets its own copy, as overlayfs copy-up would make.
   */
  #copyFromLower(path: string, lower: LowerEntry, header: TarEntryHeader): void {
    const target = joinRoot(this.#root, path);
    const { info } = lower;
    if (info.isSymlink) {
      const linkname = Deno.readLinkSync(lower.path);
      this.#create(path, () => Deno.symlinkSync(linkname, target));
    } else if (info.isFile) {
      this.#create(path, () => this.#copyFile(lower.path, target));
    } else {
      throw new TypeError(
        `hardlink target "${header.linkname}" in a lower layer is not a file or symlink`,
      );
    }

    const mtime = (info.mtime?.getTime() ?? 0) / 1000;
    lchown(target, info.uid ?? 0, info.gid ?? 0);
    if (!info.isSymlink) Deno.chmodSync(target, (info.mode ?? 0) & 0o7777);
    lutimes(target, mtime, mtime);
    for (const name of listXattrs(lower.path)) {
      const value = readXattr(lower.path, name);
      if (value !== undefined && !name.startsWith(OVERLAY_XATTR_PREFIX)) {
        writeXattr(target, name, new Uint8Array(value));
      }
    }
  }

  /** Copies a regular file through the write buffer into a new file at `target`. */
  #copyFile(source: string, target: string): void {
    using input = Deno.openSync(source, { read: true });
    using output = Deno.openSync(target, { write: true, createNew: true, mode: 0o600 });
    for (;;) {
      const count = input.readSync(this.#buffer);
      if (count === null) break;
      writeAll(output, this.#buffer.subarray(0, count));
    }
  }

  /**
   * Creates a whiteout for `path` unless the layer itself already wrote that
   * path: the OCI format applies a whiteout only to lower layers, and this
   * layer's entry hides the lower one anyway.
   */
  #writeWhiteout(path: string): void {
    this.#ensureDir(parentPath(path));
    const target = joinRoot(this.#root, path);
    if (lstatOrUndefined(target) !== undefined) return;
    createWhiteout(target);
  }

  #writeOpaque(dir: string): void {
    this.#ensureDir(dir);
    markOpaque(joinRoot(this.#root, dir));
  }

  /**
   * Makes sure the directory `path` exists as a real directory, creating it and
   * its parents when missing. A created directory copies the mode, owner and
   * time the lower layers give it, so adding a file to /tmp keeps /tmp's mode.
   */
  #ensureDir(path: string): void {
    if (this.#realDirs.has(path)) return;
    this.#ensureDir(parentPath(path));

    const target = joinRoot(this.#root, path);
    const info = lstatOrUndefined(target);
    if (info === undefined) return this.#makeImplicitDir(path);
    if (info.isSymlink) {
      throw new PathEscapeError(`parent "${path}" is a symlink`, { data: { path } });
    }
    if (info.isDirectory) {
      this.#realDirs.add(path);
      return;
    }
    if (!isWhiteout(info)) throw new TypeError(`parent "${path}" is not a directory`);
    this.#makeDir(path, DEFAULT_DIR_MODE);
  }

  #makeImplicitDir(path: string): void {
    const target = joinRoot(this.#root, path);
    const lower = this.#lowerDirectory(path);
    if (lower === undefined) {
      this.#makeDir(path, DEFAULT_DIR_MODE);
      return;
    }
    this.#makeDir(path, (lower.mode ?? DEFAULT_DIR_MODE) & PERMISSION_BITS);
    Deno.chownSync(target, lower.uid ?? 0, lower.gid ?? 0);
    Deno.chmodSync(target, (lower.mode ?? DEFAULT_DIR_MODE) & 0o7777);
    this.#dirTimes.set(path, (lower.mtime?.getTime() ?? 0) / 1000);
  }

  /** Returns the lower layers' directory at `path`, or undefined when they have none to copy. */
  #lowerDirectory(path: string): Deno.FileInfo | undefined {
    try {
      const lower = findInLowers(this.#lowerDirs, path);
      return lower?.info.isDirectory ? lower.info : undefined;
    } catch (error) {
      // A lower symlink on the way has no directory metadata to copy. The new
      // directory replaces it in the merged view either way.
      if (error instanceof PathEscapeError) return undefined;
      throw error;
    }
  }

  /** Runs `create`; when the path exists, removes it and runs `create` once more. */
  #create<T>(path: string, create: () => T): T {
    try {
      return create();
    } catch (error) {
      if (!isAlreadyExists(error)) throw error;
    }
    this.#remove(path, Deno.lstatSync(joinRoot(this.#root, path)));
    return create();
  }

  /** Removes the entry `path` and drops the cached state of it and everything below it. */
  #remove(path: string, info: Deno.FileInfo): void {
    Deno.removeSync(joinRoot(this.#root, path), { recursive: info.isDirectory });
    if (!info.isDirectory) return;
    const prefix = `${path}/`;
    for (const dir of this.#realDirs) {
      if (dir === path || dir.startsWith(prefix)) this.#realDirs.delete(dir);
    }
    for (const dir of this.#dirTimes.keys()) {
      if (dir === path || dir.startsWith(prefix)) this.#dirTimes.delete(dir);
    }
  }

  /**
   * Sets owner, then mode, of a path that is not a symlink; chown clears the
   * set-id bits, so chmod comes second. Chmod is skipped when creation with the
   * umask already gave the mode.
   */
  #applyOwnerAndMode(target: string, header: TarEntryHeader, isDirectory: boolean): void {
    Deno.chownSync(target, header.uid, header.gid);
    const mode = header.mode & 0o7777;
    // A new directory inherits the set-group-ID bit from its parent, so directories always get chmod.
    const needsChmod = isDirectory || (mode & SPECIAL_BITS) !== 0 || (mode & this.#umask) !== 0;
    if (needsChmod) Deno.chmodSync(target, mode);
  }

  /**
   * Sets the entry's extended attributes, after chown, which drops
   * `security.capability`. Overlayfs's own attributes are never taken from a
   * layer.
   */
  #applyXattrs(target: string, header: TarEntryHeader): void {
    for (const [name, value] of header.xattrs) {
      if (name.startsWith(OVERLAY_XATTR_PREFIX)) {
        this.#warnings.push(
          `entry "${header.name}": skipped extended attribute "${name}", reserved for overlayfs`,
        );
        continue;
      }
      writeXattr(target, name, value);
    }
  }
}

function lstatOrUndefined(path: string): Deno.FileInfo | undefined {
  try {
    return Deno.lstatSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

async function drain(body: AsyncIterable<Uint8Array>): Promise<void> {
  for await (const _chunk of body) {
    // The data of a non-file entry carries nothing to write.
  }
}
