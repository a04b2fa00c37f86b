/**
 * The current user's home directory, for the default store and Docker's
 * credentials file.
 *
 * @module
 */

/**
 * Returns `$HOME`, or the home directory `/etc/passwd` gives the current user
 * when `HOME` is unset, as a login shell would set it.
 *
 * @throws {Error} when neither names one; `--root` or `TSBUILD_ROOT` avoid the need.
 */
export function homeDirectory(): string {
  const fromEnvironment = Deno.env.get("HOME");
  if (fromEnvironment) return fromEnvironment;
  const uid = String(Deno.uid());
  let passwd = "";
  try {
    passwd = Deno.readTextFileSync("/etc/passwd");
  } catch {
    // Handled below, as a user without an entry.
  }
  for (const line of passwd.split("\n")) {
    const fields = line.split(":");
    if (fields.length >= 7 && fields[2] === uid && fields[5]) return fields[5];
  }
  throw new Error(`Failed to find the home directory: HOME is unset and uid ${uid} has none`);
}
