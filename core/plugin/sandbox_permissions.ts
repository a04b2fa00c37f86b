/**
 * Plugin permissions: what a plugin declares, what the user grants with `--plugin-allow` or
 * tsbuild.json, the intersection the plugin's worker runs with, and the message for an access
 * that was denied.
 *
 * @module
 */

import { dirname, isAbsolute, resolve } from "../deps.ts";
import { InvalidInputError } from "../errors.ts";
import type { PluginPermissions } from "./types.ts";

/** The permission kinds a plugin can declare and be granted. */
export const PERMISSION_KINDS = ["read", "write", "net", "run", "env"] as const;

/** One permission kind. */
export type PermissionKind = typeof PERMISSION_KINDS[number];

/** Permissions with every kind present, as the sandbox uses them. */
export type ResolvedPermissions = Record<PermissionKind, string[]>;

/** Returns permissions with no access at all. */
export function noPermissions(): ResolvedPermissions {
  return { read: [], write: [], net: [], run: [], env: [] };
}

/**
 * Parses one `--plugin-allow` value, e.g. "read=/etc,net=127.0.0.1:8080", adding to `into`.
 * Relative paths are resolved against `cwd`.
 *
 * @throws {InvalidInputError} naming the flag value and the part that is invalid.
 */
export function parsePluginAllow(
  value: string,
  cwd: string,
  into: ResolvedPermissions = noPermissions(),
): ResolvedPermissions {
  for (const item of value.split(",")) {
    const equals = item.indexOf("=");
    const kind = equals > 0 ? item.slice(0, equals) : item;
    const target = equals > 0 ? item.slice(equals + 1) : "";
    if (!isPermissionKind(kind)) {
      throw new InvalidInputError(
        `Invalid --plugin-allow "${value}": unknown permission "${kind}" (expected ${
          PERMISSION_KINDS.join(", ")
        })`,
      );
    }
    if (target === "") {
      throw new InvalidInputError(
        `Invalid --plugin-allow "${value}": "${kind}" needs a value, e.g. ${EXAMPLES[kind]}`,
      );
    }
    into[kind].push(isPathKind(kind) ? resolve(cwd, target) : target);
  }
  return into;
}

const EXAMPLES: Record<PermissionKind, string> = {
  read: "read=/etc/hosts",
  write: "write=/tmp/out",
  net: "net=127.0.0.1:8080",
  run: "run=git",
  env: "env=HOME",
};

/**
 * Checks the `permissions` a plugin's default export declares: an object whose keys are
 * permission kinds and whose values are lists of strings, with absolute paths for read and write.
 *
 * @param where Names the plugin in messages, e.g. `Failed to load plugin from "./x.ts"`.
 * @throws {InvalidInputError} naming the key or entry that is invalid.
 */
export function checkDeclaredPermissions(declared: unknown, where: string): ResolvedPermissions {
  const result = noPermissions();
  if (declared === undefined) return result;
  const fail = (problem: string): never => {
    throw new InvalidInputError(`${where}: ${problem}`);
  };
  if (typeof declared !== "object" || declared === null || Array.isArray(declared)) {
    fail(`"permissions" must be an object such as { read: ["/etc/hosts"] }`);
  }
  for (const [kind, list] of Object.entries(declared as Record<string, unknown>)) {
    if (!isPermissionKind(kind)) {
      fail(
        `unknown permission "${kind}" in "permissions" (allowed: ${PERMISSION_KINDS.join(", ")})`,
      );
    }
    if (!Array.isArray(list) || list.some((entry) => typeof entry !== "string" || entry === "")) {
      fail(`"permissions.${kind}" must be a list of non-empty strings`);
    }
    for (const entry of list as string[]) {
      if (isPathKind(kind as PermissionKind) && !isAbsolute(entry)) {
        fail(`"permissions.${kind}" entry "${entry}" must be an absolute path`);
      }
      result[kind as PermissionKind].push(entry);
    }
  }
  return result;
}

/**
 * Returns what the plugin may use: each granted entry that a declared entry covers, or each
 * declared entry that a granted one covers, whichever is narrower. Nothing beyond the declaration
 * is ever returned, whatever the user grants.
 */
export function intersectPermissions(
  declared: ResolvedPermissions,
  granted: ResolvedPermissions,
): ResolvedPermissions {
  const result = noPermissions();
  for (const kind of PERMISSION_KINDS) {
    const entries = new Set<string>();
    for (const grant of granted[kind]) {
      for (const declaration of declared[kind]) {
        if (covers(kind, declaration, grant)) entries.add(grant);
        else if (covers(kind, grant, declaration)) entries.add(declaration);
      }
    }
    result[kind] = [...entries];
  }
  return result;
}

/** Reports whether permission entry `outer` of `kind` allows everything `inner` does. */
export function covers(kind: PermissionKind, outer: string, inner: string): boolean {
  if (isPathKind(kind)) {
    return inner === outer || inner.startsWith(outer.endsWith("/") ? outer : `${outer}/`);
  }
  if (kind === "net") return inner === outer || (!hasPort(outer) && hostOf(inner) === outer);
  return inner === outer;
}

/** Returns the Deno permissions of a worker that may use exactly `permissions`. */
export function workerPermissions(permissions: ResolvedPermissions): Deno.PermissionOptionsObject {
  const list = (entries: string[]) => (entries.length > 0 ? [...entries] : false);
  return {
    read: list(permissions.read),
    write: list(permissions.write),
    net: list(permissions.net),
    run: list(permissions.run),
    env: list(permissions.env),
    // Named explicitly because an omitted kind would inherit the host's permission.
    sys: false,
    ffi: false,
    import: false,
  };
}

/** An access a plugin attempted, as Deno reports it when permission is missing. */
export interface AttemptedAccess {
  kind: string;
  target: string;
}

/**
 * Finds the access in a Deno `NotCapable` error ("Requires read access to "/etc/passwd", …") in
 * `error` or its causes, or returns undefined.
 */
export function findDeniedAccess(error: unknown): AttemptedAccess | undefined {
  for (let current = error, depth = 0; current instanceof Error && depth < 8; depth++) {
    const match = current.message.match(/Requires (\w+) access(?: to "?([^",]*)"?)?/);
    if (match && (current.name === "NotCapable" || current.name === "PermissionDenied")) {
      return { kind: match[1], target: match[2] ?? "" };
    }
    current = current.cause;
  }
  return undefined;
}

/** Returns how the user can allow `access`, or why they cannot. */
export function grantAdvice(access: AttemptedAccess, declared: ResolvedPermissions): string {
  if (!isPermissionKind(access.kind)) {
    return `plugins cannot be granted ${access.kind} access`;
  }
  const declaredEntry = declared[access.kind].some((entry) =>
    access.target === "" || covers(access.kind as PermissionKind, entry, access.target)
  );
  if (!declaredEntry) {
    return `the plugin does not declare it in "permissions.${access.kind}", so it cannot be granted`;
  }
  return `grant it with --plugin-allow ${access.kind}=${access.target}`;
}

/** Reports whether `path` lies inside one of `roots`, after resolving symlinks where it exists. */
export async function pathAllowed(path: string, roots: string[]): Promise<boolean> {
  const real = await realPathOfPrefix(resolve(path));
  for (const root of roots) {
    if (covers("write", await realPathOfPrefix(root), real)) return true;
  }
  return false;
}

// Resolves symlinks in the longest existing prefix of `path`, so that a granted directory
// cannot be left through a symlink placed inside it.
async function realPathOfPrefix(path: string): Promise<string> {
  const rest: string[] = [];
  let current = path;
  for (;;) {
    try {
      const real = await Deno.realPath(current);
      return rest.length > 0 ? `${real.replace(/\/$/, "")}/${rest.reverse().join("/")}` : real;
    } catch {
      const parent = dirname(current);
      if (parent === current) return path;
      rest.push(current.slice(parent.length).replace(/^\//, ""));
      current = parent;
    }
  }
}

function isPermissionKind(kind: string): kind is PermissionKind {
  return (PERMISSION_KINDS as readonly string[]).includes(kind);
}

function isPathKind(kind: PermissionKind): boolean {
  return kind === "read" || kind === "write";
}

function hasPort(host: string): boolean {
  return /:\d+$/.test(host) && !host.endsWith("]");
}

function hostOf(host: string): string {
  return hasPort(host) ? host.slice(0, host.lastIndexOf(":")) : host;
}

/** Returns `permissions` as the public {@link PluginPermissions} shape, leaving out empty kinds. */
export function toPluginPermissions(permissions: ResolvedPermissions): PluginPermissions {
  const result: PluginPermissions = {};
  for (const kind of PERMISSION_KINDS) {
    if (permissions[kind].length > 0) result[kind] = [...permissions[kind]];
  }
  return result;
}
