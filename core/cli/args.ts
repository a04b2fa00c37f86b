/**
 * A small command-line parser: long and short flags, `--flag=value` and
 * `--flag value`, repeatable flags, booleans and positional arguments.
 *
 * @module
 */

import { InvalidInputError } from "../errors.ts";

/** The definition of one flag: its names, kind and help text. */
export interface FlagSpec {
  /** Long name without dashes, e.g. "build-arg". */
  name: string;
  /** One-letter alias without a dash, e.g. "t". */
  short?: string;
  /** A boolean flag takes no value (`--no-cache`); `--flag=false` turns it off. */
  boolean?: boolean;
  /** A repeatable flag collects every value in order. */
  multiple?: boolean;
  /** Help text: what the flag sets, with its unit or form. */
  description: string;
  /** The value's placeholder in help, e.g. "PATH". */
  placeholder?: string;
  /** Names this flag is also accepted under. */
  aliases?: string[];
}

/** Parsed flags and positional arguments. */
export interface ParsedArgs {
  flags: Map<string, string[]>;
  positionals: string[];
}

/** Advice, by flag, for buildx flags that tsbuild does not have. */
const FLAG_HINTS: Record<string, string> = {
  "--load":
    "tsbuild has no Docker daemon to load into; export with -o type=docker,dest=image.tar, then run docker load -i image.tar",
};

/** Parses `argv` against `specs`; an unknown flag or a missing value is an InvalidInputError naming it. */
export function parseArgs(argv: string[], specs: FlagSpec[]): ParsedArgs {
  const byName = new Map<string, FlagSpec>();
  for (const spec of specs) {
    byName.set(`--${spec.name}`, spec);
    if (spec.short) byName.set(`-${spec.short}`, spec);
    for (const alias of spec.aliases ?? []) byName.set(`--${alias}`, spec);
  }
  const flags = new Map<string, string[]>();
  const positionals: string[] = [];
  const add = (spec: FlagSpec, value: string) => {
    const values = spec.multiple ? flags.get(spec.name) ?? [] : [];
    values.push(value);
    flags.set(spec.name, values);
  };

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith("-") || arg === "-") {
      positionals.push(arg);
      continue;
    }
    const equals = arg.startsWith("--") ? arg.indexOf("=") : -1;
    const name = equals > 0 ? arg.slice(0, equals) : arg;
    const spec = byName.get(name);
    if (!spec) {
      const hint = FLAG_HINTS[name] ?? "see --help for the accepted flags";
      throw new InvalidInputError(`Unknown flag "${name}": ${hint}`);
    }
    if (spec.boolean) {
      add(spec, equals > 0 ? arg.slice(equals + 1) : "true");
      continue;
    }
    if (equals > 0) {
      add(spec, arg.slice(equals + 1));
      continue;
    }
    if (i + 1 >= argv.length) throw new InvalidInputError(`Missing value for flag "${name}"`);
    add(spec, argv[++i]);
  }
  return { flags, positionals };
}

/** Returns the last value of flag `name`, or `fallback`. */
export function flagValue(args: ParsedArgs, name: string, fallback?: string): string | undefined {
  const values = args.flags.get(name);
  return values ? values[values.length - 1] : fallback;
}

/** Returns every value of flag `name`. */
export function flagValues(args: ParsedArgs, name: string): string[] {
  return args.flags.get(name) ?? [];
}

/** Returns whether boolean flag `name` is on. */
export function flagEnabled(args: ParsedArgs, name: string): boolean {
  const value = flagValue(args, name);
  return value !== undefined && value !== "false" && value !== "0";
}

/** Formats `specs` as help lines. */
export function formatFlags(specs: FlagSpec[]): string {
  const rows = specs.map((spec) => {
    const names = [spec.short ? `-${spec.short}, ` : "    ", `--${spec.name}`].join("");
    const value = spec.boolean ? "" : ` ${spec.placeholder ?? "VALUE"}`;
    return [`${names}${value}`, spec.description + (spec.multiple ? " (repeatable)" : "")];
  });
  const width = Math.max(...rows.map(([left]) => left.length)) + 2;
  return rows.map(([left, right]) => `  ${left.padEnd(width)}${right}`).join("\n");
}
