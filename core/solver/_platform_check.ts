/**
 * Whether this host can run a RUN step built for another platform: natively,
 * or through an emulator registered with binfmt_misc (such as qemu-user).
 *
 * @module
 */

import { InvalidInputError } from "../errors.ts";
import { formatPlatform, hostPlatform, normalizePlatform, type Platform } from "../oci/platform.ts";

/** The directory where the kernel lists binfmt_misc handlers. */
export const BINFMT_MISC_DIR = "/proc/sys/fs/binfmt_misc";

// Architectures a CPU runs besides its own, without emulation.
const NATIVE_EXTRA: Record<string, string[]> = { amd64: ["386"], arm64: ["arm"] };

// ELF e_machine values by GOARCH name, to recognise an emulator by the binaries it handles.
const ELF_MACHINES: Record<number, string> = {
  0x03: "386",
  0x08: "mips64",
  0x14: "ppc",
  0x15: "ppc64",
  0x16: "s390x",
  0x28: "arm",
  0x3e: "amd64",
  0xb7: "arm64",
  0xf3: "riscv64",
  0x102: "loong64",
};

/**
 * Throws when a process for `platform` cannot run on this host: the host's
 * OS differs, or the architecture is neither the host's own (or one it runs
 * natively, such as 386 on amd64) nor handled by an enabled binfmt_misc entry.
 *
 * @throws {InvalidInputError} naming the platform, the host and what to install.
 */
export async function checkExecutable(
  platform: Platform,
  options: { binfmtDir?: string; host?: Platform; command?: string } = {},
): Promise<void> {
  const host = normalizePlatform(options.host ?? hostPlatform());
  const want = normalizePlatform(platform);
  if (want.os === host.os && isNative(want.architecture, host.architecture)) return;

  const emulated = await emulatedArchitectures(options.binfmtDir ?? BINFMT_MISC_DIR);
  if (want.os === "linux" && host.os === "linux" && emulated.has(want.architecture)) return;

  const command = options.command ? `"${options.command}" ` : "";
  throw new InvalidInputError(
    `Failed to run ${command}for platform "${formatPlatform(want)}": this host ` +
      `(${formatPlatform(host)}) cannot execute its binaries and no binfmt_misc emulator for ` +
      `"${want.architecture}" is registered in ${options.binfmtDir ?? BINFMT_MISC_DIR} ` +
      `(install qemu-user-static, or build for "${formatPlatform(host)}")`,
    { data: { platform: formatPlatform(want), host: formatPlatform(host) } },
  );
}

function isNative(architecture: string, hostArchitecture: string): boolean {
  return architecture === hostArchitecture ||
    (NATIVE_EXTRA[hostArchitecture] ?? []).includes(architecture);
}

/** Returns the architectures whose ELF binaries an enabled binfmt_misc entry handles. */
export async function emulatedArchitectures(binfmtDir: string): Promise<Set<string>> {
  const found = new Set<string>();
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(binfmtDir));
  } catch {
    return found;
  }
  for (const entry of entries) {
    if (entry.name === "register" || entry.name === "status") continue;
    const text = await Deno.readTextFile(`${binfmtDir}/${entry.name}`).catch(() => "");
    const architecture = elfArchitecture(text);
    if (architecture) found.add(architecture);
  }
  return found;
}

// Reads an entry such as "enabled\ninterpreter /usr/bin/qemu-aarch64\nflags: F\noffset 0\n
// magic 7f454c46...\nmask ...". The magic is the start of an ELF header: byte 4 is the class
// (1 for 32-bit), byte 5 the byte order (2 for big endian), bytes 18 and 19 the e_machine.
function elfArchitecture(entry: string): string | undefined {
  const lines = entry.split("\n");
  if (lines[0]?.trim() !== "enabled") return undefined;
  const field = (name: string) =>
    lines.find((line) => line.startsWith(`${name} `))?.slice(name.length + 1).trim();
  const magic = field("magic");
  if ((field("offset") ?? "0") !== "0" || !magic || !magic.startsWith("7f454c46")) {
    return undefined;
  }
  const bytes = magic.match(/../g)!.map((pair) => parseInt(pair, 16));
  if (bytes.length < 20) return undefined;
  const bigEndian = bytes[5] === 2;
  const machine = bigEndian ? (bytes[18] << 8) | bytes[19] : bytes[18] | (bytes[19] << 8);
  const name = ELF_MACHINES[machine];
  if (name === "mips64" && bytes[4] === 1) return bigEndian ? "mips" : "mipsle";
  if ((name === "mips64" || name === "ppc64") && !bigEndian) return `${name}le`;
  return name;
}
