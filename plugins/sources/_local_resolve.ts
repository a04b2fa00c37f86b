/**
 * Resolving a local source: finding its directory, reading its patterns and
 * running an incremental scan as a progress step.
 *
 * @module
 */

import type { PluginContext } from "../../core/plugin/types.ts";
import { InvalidInputError, NotFoundError } from "../../core/errors.ts";
import { createLocalFilter } from "./_local_filter.ts";
import { fileSystemNow, readRecord, recordPath, writeRecord } from "./_local_record.ts";
import { type ScanCounts, scanDirectory } from "./_local_scan.ts";
import type { DirectoryEntry } from "./_local_tree.ts";

/** The include and exclude patterns of a local source, in `.dockerignore` syntax. */
export interface LocalPatterns {
  include: string[];
  exclude: string[];
}

/** One scan of a local directory. */
export interface LocalScan {
  tree: DirectoryEntry;
  counts: ScanCounts;
  /** File system time when the scan started, in milliseconds. */
  stampMs: number;
}

/** Returns the real path of the directory given for local `name`. */
export async function localDirectory(
  name: string,
  locals: Readonly<Record<string, string>>,
): Promise<string> {
  const dir = Object.hasOwn(locals, name) ? locals[name] : undefined;
  if (!dir) {
    throw new NotFoundError(
      `Failed to read local "${name}": no directory was given for it (use --local ${name}=DIR)`,
      {
        data: { local: name },
      },
    );
  }

  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(dir);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new NotFoundError(`Failed to read local "${name}": directory "${dir}" does not exist`, {
        cause: error,
        data: { local: name, path: dir },
      });
    }
    throw new InvalidInputError(
      `Failed to read local "${name}": cannot read "${dir}": ${(error as Error).message}`,
      {
        cause: error,
        data: { local: name, path: dir },
      },
    );
  }
  if (!info.isDirectory) {
    throw new InvalidInputError(`Failed to read local "${name}": "${dir}" is not a directory`, {
      data: { local: name, path: dir },
    });
  }
  return await Deno.realPath(dir);
}

/** Reads the `include-patterns` and `exclude-patterns` attributes, each a JSON array of strings. */
export function localPatterns(name: string, attrs: Record<string, string>): LocalPatterns {
  return {
    include: patternList(name, attrs, "include-patterns"),
    exclude: patternList(name, attrs, "exclude-patterns"),
  };
}

function patternList(name: string, attrs: Record<string, string>, attr: string): string[] {
  const text = attrs[attr];
  if (text === undefined || text === "") return [];
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    value = error;
  }
  if (!Array.isArray(value) || !value.every((pattern) => typeof pattern === "string")) {
    throw new InvalidInputError(
      `Invalid attribute "${attr}" of local "${name}": expected a JSON array of strings, got ${
        JSON.stringify(text)
      }`,
      {
        data: { local: name, attr },
      },
    );
  }
  return value;
}

/**
 * Scans `dir` as the step "[internal] load local NAME", reusing and then
 * replacing the record of the previous scan. The step's last status gives
 * the counts, e.g. "1 of 2001 files read, 2000 reused, 0 skipped, 3 excluded".
 */
export async function scanLocal(
  name: string,
  dir: string,
  patterns: LocalPatterns,
  context: PluginContext,
): Promise<LocalScan> {
  return await context.progress.step(`[internal] load local ${name}`, async (progress) => {
    const dataDir = await context.content.dataDir("local");
    const record = recordPath(dataDir, dir, patterns.include, patterns.exclude);
    const previous = await readRecord(record);
    // NOTE: the clock is read from the store's file system; both use the kernel's clock unless one is a network mount.
    const stampMs = fileSystemNow(dataDir);

    const { tree, counts, complete, reusedWhole, fewRehashed } = await scanDirectory(dir, {
      name,
      filter: createLocalFilter(name, patterns.include, patterns.exclude),
      previous,
      signal: context.signal,
      onSkipped: (path, reason) =>
        context.logger.warn(
          `Skipped "${path}" in local "${name}": ${reason}`,
          {
            local: name,
            path,
          },
        ),
    });
    // Rewriting the record of 20,000 files takes about 50 ms. A record reused whole stays as it is,
    // and so does one that left only a few small files to hash again, since the next scan hashes
    // them again for less. Any other difference is recorded.
    if (!reusedWhole && !fewRehashed) {
      await writeRecord(record, stampMs, tree, { excluded: counts.excluded, complete });
    }

    const files = counts.read + counts.reused;
    progress.status(formatCounts(counts), counts.read, files, "files");
    return { tree, counts, stampMs };
  });
}

/** Formats scan counts as the step's final status. */
export function formatCounts(counts: ScanCounts): string {
  const files = counts.read + counts.reused;
  return `${counts.read} of ${files} files read, ${counts.reused} reused, ${counts.skipped} skipped, ${counts.excluded} excluded`;
}
