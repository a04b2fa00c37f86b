/**
 * Resolution of a RUN step's user ("app", "1000:1000", "app:staff") to numeric
 * ids against the root file system's /etc/passwd and /etc/group.
 *
 * @module
 */

import { InvalidInputError, NotFoundError } from "../errors.ts";
import { resolveInRoot } from "./_root_path.ts";

/** A user resolved to the ids a process runs with. */
export interface ResolvedUser {
  uid: number;
  gid: number;
  /** Supplementary groups: those that list the user as a member, unless a group was given. */
  additionalGids: number[];
  /** Home directory from /etc/passwd, or "/" when the user has no entry. */
  home: string;
}

/** One line of /etc/passwd. */
export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

/** One line of /etc/group. */
export interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

/** Contents of the account files; undefined stands for a missing file. */
export interface AccountFiles {
  passwd?: string;
  group?: string;
}

/** The highest uid or gid accepted, as Docker does: 2^31 - 1. */
const MAX_ID = 2 ** 31 - 1;

/**
 * Resolves `user` against the account files of the root file system at
 * `rootfs`. Symlinks to the files are followed inside `rootfs`.
 *
 * @throws {NotFoundError} when a user or group name has no entry
 * @throws {InvalidInputError} when `user` is malformed or an id is out of range
 */
export function resolveUser(rootfs: string, user: string): ResolvedUser {
  const files: AccountFiles = {
    passwd: readOptional(resolveInRoot(rootfs, "/etc/passwd")),
    group: readOptional(resolveInRoot(rootfs, "/etc/group")),
  };
  return resolveUserFromFiles(user, files);
}

/**
 * Resolves `user` ("", "uid", "name", "uid:gid", "name:group" and mixes)
 * against the given account files, as Docker does:
 * - "" means uid 0;
 * - a name must have a passwd entry; a numeric uid may lack one, and then
 *   runs with gid 0 and home "/";
 * - without a group, the gid comes from the passwd entry and every group that
 *   lists the user's name becomes a supplementary group;
 * - with a group, that gid is used and there are no supplementary groups.
 *
 * @throws {NotFoundError} when a user or group name has no entry
 * @throws {InvalidInputError} when `user` is malformed or an id is out of range
 */
export function resolveUserFromFiles(user: string, files: AccountFiles): ResolvedUser {
  const [userPart, groupPart, ...rest] = user.split(":");
  if (rest.length > 0) {
    throw new InvalidInputError(`Invalid user "${user}": expected "user" or "user:group"`, {
      data: { user },
    });
  }

  const entry = findPasswdEntry(user, userPart, files.passwd);
  const uid = entry?.uid ?? parseId(user, userPart === "" ? "0" : userPart);
  const resolved: ResolvedUser = {
    uid,
    gid: entry?.gid ?? 0,
    additionalGids: [],
    home: entry?.home ?? "/",
  };

  if (groupPart !== undefined) {
    resolved.gid = resolveGroup(user, groupPart, files.group);
  } else if (entry) {
    resolved.additionalGids = memberGids(entry.name, files.group);
  }
  return resolved;
}

function findPasswdEntry(
  user: string,
  userPart: string,
  passwd: string | undefined,
): PasswdEntry | undefined {
  const entries = parsePasswd(passwd ?? "");
  if (userPart === "" || isNumeric(userPart)) {
    const uid = parseId(user, userPart === "" ? "0" : userPart);
    return entries.find((entry) => entry.uid === uid);
  }

  const entry = entries.find((candidate) => candidate.name === userPart);
  if (entry) return entry;
  const state = passwd === undefined ? "/etc/passwd does not exist" : "no entry in /etc/passwd";
  throw new NotFoundError(`Failed to resolve user "${userPart}": ${state}`, {
    data: { user, file: "/etc/passwd" },
  });
}

function resolveGroup(user: string, groupPart: string, group: string | undefined): number {
  if (groupPart === "") {
    throw new InvalidInputError(`Invalid user "${user}": the group after ":" is empty`, {
      data: { user },
    });
  }
  if (isNumeric(groupPart)) return parseId(user, groupPart);

  const entry = parseGroup(group ?? "").find((candidate) => candidate.name === groupPart);
  if (entry) return entry.gid;
  const state = group === undefined ? "/etc/group does not exist" : "no entry in /etc/group";
  throw new NotFoundError(`Failed to resolve group "${groupPart}": ${state}`, {
    data: { user, file: "/etc/group" },
  });
}

function memberGids(name: string, group: string | undefined): number[] {
  const gids = parseGroup(group ?? "")
    .filter((entry) => entry.members.includes(name))
    .map((entry) => entry.gid);
  return [...new Set(gids)];
}

/** Parses /etc/passwd, skipping comments and lines without numeric ids. */
export function parsePasswd(text: string): PasswdEntry[] {
  const entries: PasswdEntry[] = [];
  for (const fields of accountLines(text)) {
    const [name, , uid, gid, , home] = fields;
    if (!isNumeric(uid ?? "") || !isNumeric(gid ?? "")) continue;
    entries.push({ name, uid: Number(uid), gid: Number(gid), home: home || "/" });
  }
  return entries;
}

/** Parses /etc/group, skipping comments and lines without a numeric gid. */
export function parseGroup(text: string): GroupEntry[] {
  const entries: GroupEntry[] = [];
  for (const fields of accountLines(text)) {
    const [name, , gid, members] = fields;
    if (!isNumeric(gid ?? "")) continue;
    const list = (members ?? "").split(",").map((member) => member.trim()).filter((member) =>
      member !== ""
    );
    entries.push({ name, gid: Number(gid), members: list });
  }
  return entries;
}

function accountLines(text: string): string[][] {
  return text.split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"))
    .map((line) => line.split(":"));
}

function isNumeric(value: string): boolean {
  return /^[0-9]+$/.test(value);
}

function parseId(user: string, value: string): number {
  const id = Number(value);
  if (!isNumeric(value) || id > MAX_ID) {
    throw new InvalidInputError(
      `Invalid user "${user}": ids must be between 0 and ${MAX_ID}, got "${value}"`,
      {
        data: { user },
      },
    );
  }
  return id;
}

function readOptional(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
      return undefined;
    }
    throw error;
  }
}
