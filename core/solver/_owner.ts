/**
 * Resolves the owner of files a file action creates (`COPY --chown`) against
 * the target filesystem's /etc/passwd and /etc/group.
 *
 * @module
 */

import { NotFoundError } from "../errors.ts";
import { scopedPath } from "../fs/scoped_path.ts";

/** Numeric owner ids. */
export interface OwnerIds {
  uid: number;
  gid: number;
}

/**
 * Returns the ids for `owner`, or undefined to keep the source's ownership.
 * Numbers are taken as given; names are looked up inside `root`. As in
 * BuildKit, a user name without a group uses that user's primary group, a
 * bare uid is also the gid, and a group without a user goes with uid 0.
 *
 * @throws {NotFoundError} for a user or group name the root's /etc/passwd or
 * /etc/group does not list. (BuildKit falls back to 0 there instead.)
 */
export async function resolveOwner(
  root: string,
  owner: { user: string; group: string } | undefined,
): Promise<OwnerIds | undefined> {
  if (!owner || (!owner.user && !owner.group)) return undefined;
  let uid = 0;
  let gid = 0;
  if (owner.user) {
    // As in BuildKit, "root" is 0 even in a filesystem without /etc/passwd, such as scratch.
    if (/^\d+$/.test(owner.user) || owner.user === "root") {
      uid = owner.user === "root" ? 0 : Number(owner.user);
      gid = uid;
    } else {
      const entry = await findEntry(root, "passwd", (fields) => fields[0] === owner.user);
      if (!entry) {
        throw new NotFoundError(
          `Failed to resolve user "${owner.user}": no such user in /etc/passwd of the target`,
        );
      }
      uid = Number(entry[2]);
      gid = Number(entry[3]);
    }
  }
  if (owner.group) {
    if (/^\d+$/.test(owner.group)) gid = Number(owner.group);
    else if (owner.group === "root") gid = 0;
    else {
      const entry = await findEntry(root, "group", (fields) => fields[0] === owner.group);
      if (!entry) {
        throw new NotFoundError(
          `Failed to resolve group "${owner.group}": no such group in /etc/group of the target`,
        );
      }
      gid = Number(entry[2]);
    }
  }
  return { uid, gid };
}

async function findEntry(
  root: string,
  file: "passwd" | "group",
  match: (fields: string[]) => boolean,
) {
  let text = "";
  try {
    // Symlinks are resolved inside the root, so a link to an absolute path stays in the image.
    text = await Deno.readTextFile(await scopedPath(root, `/etc/${file}`, { followFinal: true }));
  } catch {
    return undefined;
  }
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const fields = line.split(":");
    if (match(fields)) return fields;
  }
  return undefined;
}
