/**
 * `tsbuild du` and `tsbuild prune`.
 *
 * @module
 */

import { InvalidInputError } from "../errors.ts";
import { diskUsage, prune } from "../store/gc.ts";
import { openStore } from "../store/store.ts";
import { flagEnabled, type FlagSpec, flagValue, formatFlags, parseArgs } from "./args.ts";
import { type CommandIo, storeRoot } from "./build_command.ts";

const ROOT_FLAG: FlagSpec = {
  name: "root",
  placeholder: "DIR",
  description: "Store directory (env TSBUILD_ROOT; default ~/.cache/tsbuild)",
};
const HELP_FLAG: FlagSpec = {
  name: "help",
  short: "h",
  boolean: true,
  description: "Show this help",
};
const DU_FLAGS = [ROOT_FLAG, HELP_FLAG];
const PRUNE_FLAGS: FlagSpec[] = [
  ROOT_FLAG,
  {
    name: "all",
    short: "a",
    boolean: true,
    description: "Also remove cache mounts and source data",
  },
  {
    name: "keep-duration",
    placeholder: "DURATION",
    description: "Keep results built or reused within this time, e.g. 24h, 1h30m",
  },
  {
    name: "force",
    short: "f",
    boolean: true,
    description: "Accepted for docker buildx prune's habit; tsbuild prune never asks first",
  },
  HELP_FLAG,
];

/** Runs `tsbuild du`. */
export async function runDuCommand(argv: string[], io: CommandIo): Promise<number> {
  const args = parseArgs(argv, DU_FLAGS);
  if (flagEnabled(args, "help")) {
    io.stdout(`Usage: tsbuild du [flags]\n\nFlags:\n${formatFlags(DU_FLAGS)}\n`);
    return 0;
  }
  const root = storeRoot(flagValue(args, "root"));
  if (!pathExists(root)) {
    io.stdout(`The store "${root}" does not exist yet: nothing is stored\n`);
    return 0;
  }
  await using store = await openStore(root);
  const usage = await diskUsage(store);
  const total = usage.blobs.bytes + usage.snapshots.bytes + usage.data.bytes;
  io.stdout(
    [
      `${"TYPE".padEnd(16)}${"COUNT".padStart(8)}${"SIZE".padStart(12)}`,
      `${"blobs".padEnd(16)}${String(usage.blobs.count).padStart(8)}${
        formatSize(usage.blobs.bytes).padStart(12)
      }`,
      `${"snapshots".padEnd(16)}${String(usage.snapshots.count).padStart(8)}${
        formatSize(usage.snapshots.bytes).padStart(12)
      }`,
      `${"cache records".padEnd(16)}${String(usage.cacheRecords).padStart(8)}${"".padStart(12)}`,
      `${"plugin data".padEnd(16)}${"".padStart(8)}${formatSize(usage.data.bytes).padStart(12)}`,
      `${"total".padEnd(16)}${"".padStart(8)}${formatSize(total).padStart(12)}`,
      `store: ${store.root}`,
      "A file shared by hard links counts once, in the first row that has it.",
      "",
    ].join("\n"),
  );
  return 0;
}

/** Runs `tsbuild prune`. */
export async function runPruneCommand(argv: string[], io: CommandIo): Promise<number> {
  const args = parseArgs(argv, PRUNE_FLAGS);
  if (flagEnabled(args, "help")) {
    io.stdout(`Usage: tsbuild prune [flags]\n\nFlags:\n${formatFlags(PRUNE_FLAGS)}\n`);
    return 0;
  }
  const keep = flagValue(args, "keep-duration");
  const root = storeRoot(flagValue(args, "root"));
  if (!pathExists(root)) {
    io.stdout(`The store "${root}" does not exist yet: nothing to prune\n`);
    return 0;
  }
  await using store = await openStore(root, {
    exclusive: true,
  });
  const all = flagEnabled(args, "all");
  const result = await prune(store, {
    all,
    keepNewerThanMs: keep ? parseDuration(keep) : undefined,
  });
  io.stdout(
    `Removed ${result.cacheRecords} cache records, ${result.snapshots} snapshots, ${result.blobs} blobs and ${
      all ? "all plugin data" : `${result.linkedFiles} shared files no snapshot used`
    }: ${formatSize(result.bytes)} reclaimed\n`,
  );
  return 0;
}

const DURATION_UNITS_MS = { ms: 1, s: 1e3, m: 60e3, h: 3600e3, d: 86400e3 } as const;

/** Parses durations as buildctl writes them, such as "24h", "1h30m" or "1.5h", into milliseconds. */
export function parseDuration(text: string): number {
  const part = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/y;
  let total = 0;
  let offset = 0;
  while (offset < text.length) {
    part.lastIndex = offset;
    const match = part.exec(text);
    if (!match) break;
    total += Number(match[1]) * DURATION_UNITS_MS[match[2] as keyof typeof DURATION_UNITS_MS];
    offset = part.lastIndex;
  }
  if (text === "" || offset !== text.length) {
    throw new InvalidInputError(
      `Invalid --keep-duration "${text}": expected numbers with ms, s, m, h or d, e.g. 24h or 1h30m`,
    );
  }
  return total;
}

function formatSize(bytes: number): string {
  if (bytes >= 1e9) return `${(bytes / 1e9).toFixed(2)} GB`;
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(2)} MB`;
  if (bytes >= 1e3) return `${(bytes / 1e3).toFixed(1)} kB`;
  return `${bytes} B`;
}

// A file at the path counts as existing, so openStore reports that it is not a directory.
function pathExists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}
