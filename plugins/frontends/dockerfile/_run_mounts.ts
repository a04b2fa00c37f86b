/**
 * Parses `RUN --mount=` values with BuildKit's rules: the mount types bind,
 * cache, tmpfs, secret and ssh, their options and defaults, and the checks
 * BuildKit applies.
 *
 * @module
 */

import { splitCsvFields } from "./_csv.ts";

/** The type of a RUN mount. */
export type MountKind = "bind" | "cache" | "tmpfs" | "secret" | "ssh";

/** A cache mount's sharing mode. */
export type MountSharing = "shared" | "private" | "locked";

/** One parsed `--mount` value, with expanded option values and nothing defaulted yet but `readonly`. */
export interface MountSpec {
  type: MountKind;
  /** A stage name or index, an image, or undefined for the build context. */
  from?: string;
  source?: string;
  target?: string;
  /** Defaults to false for cache and tmpfs mounts and true for the others. */
  readonly: boolean;
  /** tmpfs size limit in bytes. */
  size?: number;
  /** The cache, secret or SSH agent id. */
  id?: string;
  sharing?: MountSharing;
  /** For secret and ssh mounts: fail when the client gave none. */
  required: boolean;
  /** For a secret: the environment variable that receives it. */
  env?: string;
  mode?: number;
  uid?: number;
  gid?: number;
}

const MOUNT_KINDS: readonly MountKind[] = ["bind", "cache", "tmpfs", "secret", "ssh"];
const SHARING_MODES: readonly MountSharing[] = ["shared", "private", "locked"];

/**
 * Parses one `--mount` value. Option values are expanded with `expand`,
 * except `from`, which may not use variables. Keys are case-insensitive.
 *
 * @throws {SyntaxError} with BuildKit's conditions: an unknown key or type, a
 * bad number, an option the type does not take, a secret without an id or
 * target, or `from` with a variable.
 */
export function parseMountSpec(text: string, expand: (value: string) => string): MountSpec {
  let fields: string[];
  try {
    fields = splitCsvFields(text);
  } catch (error) {
    throw new SyntaxError(`invalid --mount "${text}": ${(error as Error).message}`);
  }
  const spec: MountSpec = { type: "bind", readonly: true, required: false };
  let readonlySet = false;

  for (const field of fields) {
    const equals = field.indexOf("=");
    const key = (equals < 0 ? field : field.slice(0, equals)).toLowerCase();
    if (equals < 0) {
      readonlySet = applyFlag(spec, key, field) || readonlySet;
      continue;
    }
    const raw = field.slice(equals + 1);
    if (key === "from" && /\$(?!$)/.test(raw)) {
      throw new SyntaxError(
        `"from" in --mount does not support variable expansion: define a stage alias instead`,
      );
    }
    const value = key === "from" ? raw : expand(raw);
    readonlySet = applyOption(spec, key, value, field) || readonlySet;
  }

  checkMountSpec(spec);
  if (!readonlySet) spec.readonly = spec.type !== "cache" && spec.type !== "tmpfs";
  return spec;
}

// Handles a key without a value; returns whether it set `readonly`.
function applyFlag(spec: MountSpec, key: string, field: string): boolean {
  switch (key) {
    case "readonly":
    case "ro":
      spec.readonly = true;
      return true;
    case "readwrite":
    case "rw":
      spec.readonly = false;
      return true;
    case "required":
      requireType(spec, key, ["secret", "ssh"]);
      spec.required = true;
      return false;
    default:
      throw new SyntaxError(`invalid field "${field}" in --mount: must be a key=value pair`);
  }
}

// Handles `key=value`; returns whether it set `readonly`. As in BuildKit, a type-specific key
// is checked against the type given before it.
function applyOption(spec: MountSpec, key: string, value: string, field: string): boolean {
  switch (key) {
    case "type":
      spec.type = oneOf(value.toLowerCase(), MOUNT_KINDS, "mount type", value);
      return false;
    case "from":
      spec.from = value;
      return false;
    case "source":
    case "src":
      spec.source = value;
      return false;
    case "target":
    case "dst":
    case "destination":
      spec.target = value;
      return false;
    case "readonly":
    case "ro":
      spec.readonly = parseBool(key, value);
      return true;
    case "readwrite":
    case "rw":
      spec.readonly = !parseBool(key, value);
      return true;
    case "required":
      requireType(spec, key, ["secret", "ssh"]);
      spec.required = parseBool(key, value);
      return false;
    case "size":
      requireType(spec, key, ["tmpfs"]);
      spec.size = parseRamSize(key, value);
      return false;
    case "id":
      spec.id = value;
      return false;
    case "sharing":
      spec.sharing = oneOf(value.toLowerCase(), SHARING_MODES, "sharing value", value);
      return false;
    case "mode":
      spec.mode = parseUnsigned(key, value, 8);
      return false;
    case "uid":
    case "gid":
      spec[key] = parseUnsigned(key, value, 10);
      return false;
    case "env":
      spec.env = value;
      return false;
    default:
      throw new SyntaxError(`unexpected key "${key}" in "${field}" of --mount`);
  }
}

function checkMountSpec(spec: MountSpec): void {
  const fileInfoAllowed = spec.type === "secret" || spec.type === "ssh" || spec.type === "cache";
  for (const name of ["mode", "uid", "gid"] as const) {
    if (!fileInfoAllowed && spec[name] !== undefined) {
      throw new SyntaxError(`${name} is not allowed for "${spec.type}" mounts`);
    }
  }
  if (spec.type === "secret") {
    if (spec.from !== undefined) throw new SyntaxError("a secret mount cannot have a from");
    if (spec.sharing !== undefined) throw new SyntaxError("a secret mount cannot set sharing");
    if (!spec.source && !spec.target && !spec.id) {
      throw new SyntaxError("invalid secret mount: one of id, source or target is required");
    }
    if (spec.source && spec.id) {
      throw new SyntaxError("invalid secret mount: source and id cannot both be set");
    }
  }
  if (spec.sharing !== undefined && spec.type !== "cache") {
    throw new SyntaxError(`sharing is only allowed for cache mounts, not "${spec.type}"`);
  }
}

function requireType(spec: MountSpec, key: string, types: MountKind[]): void {
  if (!types.includes(spec.type)) {
    throw new SyntaxError(`unexpected key "${key}" for mount type "${spec.type}"`);
  }
}

function oneOf<T extends string>(value: string, allowed: readonly T[], what: string, raw: string) {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new SyntaxError(`unsupported ${what} "${raw}": must be one of ${allowed.join(", ")}`);
}

// Go's strconv.ParseBool, which BuildKit uses.
function parseBool(key: string, value: string): boolean {
  if (["1", "t", "T", "true", "TRUE", "True"].includes(value)) return true;
  if (["0", "f", "F", "false", "FALSE", "False"].includes(value)) return false;
  throw new SyntaxError(`invalid value "${value}" for ${key} in --mount`);
}

function parseUnsigned(key: string, value: string, radix: 8 | 10): number {
  const digits = radix === 8 ? /^[0-7]+$/ : /^[0-9]+$/;
  const number = digits.test(value) ? parseInt(value, radix) : NaN;
  if (!Number.isSafeInteger(number) || number > 0xffffffff) {
    throw new SyntaxError(`invalid value "${value}" for ${key} in --mount`);
  }
  return number;
}

/**
 * Parses a size such as "64m", "1.5GiB" or "1024" in bytes with binary
 * multiples, as Docker's RAMInBytes does.
 */
export function parseRamSize(key: string, value: string): number {
  const match = /^(\d+(?:\.\d*)?|\.\d+) ?([kmgtp]?)(i?b?)$/i.exec(value);
  const suffixOk = match && (match[3] === "" || (match[2] !== "" && /^(b|ib)$/i.test(match[3])) ||
    (match[2] === "" && /^b$/i.test(match[3])));
  if (!match || !suffixOk) throw new SyntaxError(`invalid value "${value}" for ${key} in --mount`);
  const power = " kmgtp".indexOf(match[2].toLowerCase() || " ");
  return Math.trunc(Number(match[1]) * 1024 ** power);
}
