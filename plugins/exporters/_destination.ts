/**
 * Writes an exporter's output to its `dest` path so that a failed or interrupted export leaves
 * an existing destination as it was.
 *
 * @module
 */

// NOTE: plugins are meant to import only types from core. The plugin API does not offer error
// classes yet, so the built-in exporters take InvalidInputError from core until it does.
import { processExists } from "../../core/fs/process_exists.ts";
import { InvalidInputError } from "../../core/errors.ts";

/** Options for {@link writeFileAtomically} and {@link writeDirectoryInto}. */
export interface DestinationOptions {
  /** The exporter's name, used in error messages. */
  type: string;
  /** Advice added to the error raised when `dest` has the wrong kind, e.g. "set tar=false". */
  hint?: string;
}

/**
 * Checks that `dest` can receive a file and creates its parent directory when missing.
 *
 * @throws {InvalidInputError} when `dest` is a directory.
 */
export async function prepareFileDestination(
  dest: string,
  options: DestinationOptions,
): Promise<void> {
  await checkFileDestination(dest, options);
  await createParentDirectory(dest, options);
}

/**
 * Rejects a `dest` that is a directory for an exporter that writes a file. Exporters call it
 * from `onCheck` too, so the mistake shows before the build.
 *
 * @throws {InvalidInputError} when `dest` is a directory.
 */
export async function checkFileDestination(
  dest: string,
  options: DestinationOptions,
): Promise<void> {
  const info = await statIfExists(dest);
  if (info?.isDirectory) {
    throw new InvalidInputError(
      `Failed to export to "${dest}": the path is a directory, but type=${options.type} writes a file` +
        (options.hint ? ` (${options.hint})` : ""),
      { data: { type: options.type, dest } },
    );
  }
}

/**
 * Writes the file `dest` whole or not at all. `write` fills a temporary file beside `dest`
 * through the stream it is given and closes that stream. The file is then flushed to disk and
 * renamed over `dest`. When `write` fails, the temporary file is removed and `dest` is untouched.
 *
 * A process killed outright (SIGKILL) leaves its temporary file, named
 * ".<dest name>.tsbuild-tmp-<pid>-<random>", beside `dest`. The next export to
 * `dest` removes those whose process is gone.
 */
export async function writeFileAtomically(
  dest: string,
  options: DestinationOptions,
  write: (writable: WritableStream<Uint8Array>) => Promise<void>,
): Promise<void> {
  await prepareFileDestination(dest, options);
  removeAbandonedSiblings(dest);
  const temporary = temporarySibling(dest);
  const file = await Deno.open(temporary, { write: true, createNew: true, mode: 0o644 });
  const sink = createFileSink(file);

  try {
    await write(sink.writable);
    await sink.finish();
    await Deno.rename(temporary, dest);
  } catch (error) {
    sink.discard();
    await Deno.remove(temporary).catch(() => {});
    throw error;
  }
}

/**
 * Writes a directory tree to `dest`. `fill` writes the tree into a directory path it is given,
 * which does not exist yet. When `dest` is missing, that path is beside `dest` and is renamed to
 * `dest` at the end, so `dest` appears only when complete. When `dest` exists, the tree is
 * moved into it entry by entry, replacing entries of the same name and keeping the others, as
 * BuildKit's local exporter does. When `fill` fails, nothing in `dest` changes.
 *
 * NOTE: a failure while the entries are being moved into an existing `dest` (a full disk, a
 * mount point inside `dest`) leaves `dest` with part of the new tree.
 *
 * @throws {InvalidInputError} when `dest` exists and is not a directory.
 */
export async function writeDirectoryInto(
  dest: string,
  options: DestinationOptions,
  fill: (dir: string) => Promise<void>,
): Promise<void> {
  const info = await statIfExists(dest);
  if (info !== undefined && !info.isDirectory) {
    throw new InvalidInputError(
      `Failed to export to "${dest}": the path is a file, but type=${options.type} writes a directory` +
        (options.hint ? ` (${options.hint})` : ""),
      { data: { type: options.type, dest } },
    );
  }
  if (info === undefined) await writeNewDirectory(dest, options, fill);
  else await mergeIntoDirectory(dest, fill);
}

async function writeNewDirectory(
  dest: string,
  options: DestinationOptions,
  fill: (dir: string) => Promise<void>,
): Promise<void> {
  await createParentDirectory(dest, options);
  const temporary = temporarySibling(dest);
  try {
    await fill(temporary);
    await Deno.rename(temporary, dest);
  } catch (error) {
    await Deno.remove(temporary, { recursive: true }).catch(() => {});
    throw error;
  }
}

async function createParentDirectory(dest: string, options: DestinationOptions): Promise<void> {
  const parent = splitPath(dest).parent;
  try {
    await Deno.mkdir(parent, { recursive: true });
  } catch (error) {
    throw new InvalidInputError(
      `Failed to export to "${dest}": cannot create the parent directory "${parent}"`,
      { cause: error, data: { type: options.type, dest } },
    );
  }
}

// The temporary directory is made inside `dest`, not beside it, so that moving entries into
// `dest` stays on one filesystem even when `dest` is a mount point.
async function mergeIntoDirectory(
  dest: string,
  fill: (dir: string) => Promise<void>,
): Promise<void> {
  const temporary = `${dest}/.tsbuild-tmp-${Deno.pid}-${randomHex()}`;
  try {
    await fill(temporary);
    await moveEntries(temporary, dest);
  } finally {
    await Deno.remove(temporary, { recursive: true }).catch(() => {});
  }
}

/**
 * Moves every entry of `source` into `target`. Directories present in both are merged, taking
 * the mode, owner and times of the `source` copy. Any other entry replaces the `target` entry
 * of the same name, and symbolic links in `target` are replaced, never followed.
 */
async function moveEntries(source: string, target: string): Promise<void> {
  // The names are read first because renaming entries out of a directory while reading it
  // can make the read skip some.
  const names: string[] = [];
  for await (const entry of Deno.readDir(source)) names.push(entry.name);

  for (const name of names) {
    const from = `${source}/${name}`;
    const to = `${target}/${name}`;
    const incoming = await Deno.lstat(from);
    const existing = await lstatIfExists(to);
    if (incoming.isDirectory && existing?.isDirectory) {
      await moveEntries(from, to);
      await copyDirectoryMetadata(incoming, to);
      continue;
    }
    // rename(2) replaces a file or link atomically, but not a directory with a non-directory
    // or the other way round, so such an entry is removed first.
    if (existing !== undefined && (existing.isDirectory || incoming.isDirectory)) {
      await Deno.remove(to, { recursive: true });
    }
    await Deno.rename(from, to);
  }
}

async function copyDirectoryMetadata(info: Deno.FileInfo, path: string): Promise<void> {
  await Deno.chmod(path, (info.mode ?? 0o755) & 0o7777);
  if (info.uid !== null && info.gid !== null) {
    // Only root can give a directory away; anyone else gets directories they own, as
    // writeFilesystem would have given them.
    await Deno.chown(path, info.uid, info.gid).catch((error) => {
      if (!(error instanceof Deno.errors.PermissionDenied)) throw error;
    });
  }
  if (info.atime !== null && info.mtime !== null) await Deno.utime(path, info.atime, info.mtime);
}

function createFileSink(file: Deno.FsFile) {
  let open = true;
  const discard = () => {
    if (!open) return;
    open = false;
    file.close();
  };
  const finish = async () => {
    if (!open) return;
    await file.sync();
    discard();
  };
  const writable = new WritableStream<Uint8Array>({
    async write(chunk) {
      for (let written = 0; written < chunk.byteLength;) {
        written += await file.write(chunk.subarray(written));
      }
    },
    close: finish,
    abort: discard,
  });
  return { writable, finish, discard };
}

/** Removes the temporary files that exports to `dest` by processes no longer running left beside it. */
function removeAbandonedSiblings(dest: string): void {
  const { parent, base } = splitPath(dest);
  const prefix = `.${base}.tsbuild-tmp-`;
  let entries: Deno.DirEntry[];
  try {
    entries = Array.from(Deno.readDirSync(parent));
  } catch {
    return;
  }
  for (const entry of entries) {
    if (!entry.isFile || !entry.name.startsWith(prefix)) continue;
    const pid = Number(entry.name.slice(prefix.length).split("-")[0]);
    if (!Number.isInteger(pid) || pid === Deno.pid || processExists(pid)) continue;
    try {
      Deno.removeSync(`${parent}/${entry.name}`);
    } catch {
      // Another export removed it first, or the directory does not allow it: it stays.
    }
  }
}

// A name in the same directory as `path`, so the final rename stays on one filesystem.
function temporarySibling(path: string): string {
  const { parent, base } = splitPath(path);
  return `${parent}/.${base}.tsbuild-tmp-${Deno.pid}-${randomHex()}`;
}

function splitPath(path: string): { parent: string; base: string } {
  const trimmed = path.length > 1 ? path.replace(/\/+$/, "") : path;
  const slash = trimmed.lastIndexOf("/");
  if (slash === -1) return { parent: ".", base: trimmed };
  return { parent: slash === 0 ? "/" : trimmed.slice(0, slash), base: trimmed.slice(slash + 1) };
}

function randomHex(): string {
  return Array.from(
    crypto.getRandomValues(new Uint8Array(6)),
    (byte) => byte.toString(16).padStart(2, "0"),
  )
    .join("");
}

async function statIfExists(path: string): Promise<Deno.FileInfo | undefined> {
  try {
    return await Deno.stat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

async function lstatIfExists(path: string): Promise<Deno.FileInfo | undefined> {
  try {
    return await Deno.lstat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}
