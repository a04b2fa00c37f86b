/**
 * A base diff directory for executor tests, made from the host's static
 * busybox: /bin/busybox with a symlink per applet, and account files with
 * root, `app` (1000:1000, also in group `staff`) and their groups.
 *
 * @module
 */

import { join } from "../../../core/deps.ts";

/** Host path of the static busybox binary the layer is made from. */
export const BUSYBOX = "/bin/busybox";

export const PASSWD = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n";
export const GROUP = "root:x:0:\nstaff:x:50:app\napp:x:1000:\n";

/** Writes the busybox layer into the existing empty directory `dir`. */
export async function createBusyboxLayer(dir: string): Promise<void> {
  for (const name of ["bin", "etc", "proc", "sys", "dev", "root", "home/app"]) {
    await Deno.mkdir(join(dir, name), { recursive: true });
  }
  await Deno.mkdir(join(dir, "tmp"), { mode: 0o1777 });
  await Deno.chmod(join(dir, "tmp"), 0o1777);
  await Deno.chown(join(dir, "home/app"), 1000, 1000);

  await Deno.copyFile(BUSYBOX, join(dir, "bin/busybox"));
  for (const applet of await listApplets()) {
    if (applet !== "busybox") await Deno.symlink("busybox", join(dir, "bin", applet));
  }
  await Deno.writeTextFile(join(dir, "etc/passwd"), PASSWD);
  await Deno.writeTextFile(join(dir, "etc/group"), GROUP);
}

async function listApplets(): Promise<string[]> {
  const output = await new Deno.Command(BUSYBOX, { args: ["--list"] }).output();
  return new TextDecoder().decode(output.stdout).split("\n").filter((name) => name !== "");
}

/** Returns the lines of /proc/self/mountinfo whose mount point lies under `dir`. */
export async function mountsUnder(dir: string): Promise<string[]> {
  const text = await Deno.readTextFile("/proc/self/mountinfo");
  return text.split("\n").filter((line) => line.split(" ")[4]?.startsWith(dir));
}
