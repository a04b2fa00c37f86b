/**
 * The OCI runtime configuration (config.json) that runc reads for a RUN step,
 * with Docker's default isolation.
 *
 * @module
 */

import type { ExecMount } from "./executor.ts";
import type { ResolvedUser } from "./user.ts";

/** The PATH a process gets when its environment has none, as Docker sets it. */
export const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** Capabilities Docker grants a container by default. */
export const DEFAULT_CAPABILITIES = [
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_FSETID",
  "CAP_FOWNER",
  "CAP_MKNOD",
  "CAP_NET_RAW",
  "CAP_SETGID",
  "CAP_SETUID",
  "CAP_SETFCAP",
  "CAP_SETPCAP",
  "CAP_NET_BIND_SERVICE",
  "CAP_SYS_CHROOT",
  "CAP_KILL",
  "CAP_AUDIT_WRITE",
];

/** Paths Docker hides by mounting /dev/null or an empty read-only tmpfs over them. */
export const MASKED_PATHS = [
  "/proc/asound",
  "/proc/acpi",
  "/proc/kcore",
  "/proc/keys",
  "/proc/latency_stats",
  "/proc/timer_list",
  "/proc/timer_stats",
  "/proc/sched_debug",
  "/proc/scsi",
  "/sys/firmware",
  "/sys/devices/virtual/powercap",
];

/** Paths Docker makes read-only. */
export const READONLY_PATHS = [
  "/proc/bus",
  "/proc/fs",
  "/proc/irq",
  "/proc/sys",
  "/proc/sysrq-trigger",
];

/** One entry of the runtime configuration's `mounts`. */
export interface SpecMount {
  destination: string;
  type: string;
  source: string;
  options: string[];
}

/** The part of the OCI runtime configuration tsbuild writes. */
export interface RuntimeSpec {
  ociVersion: string;
  process: {
    terminal: boolean;
    user: { uid: number; gid: number; additionalGids: number[] };
    args: string[];
    env: string[];
    cwd: string;
    capabilities: Record<"bounding" | "effective" | "permitted", string[]>;
    rlimits: Array<{ type: string; hard: number; soft: number }>;
    noNewPrivileges: boolean;
  };
  root: { path: string; readonly: boolean };
  hostname: string;
  mounts: SpecMount[];
  linux: {
    namespaces: Array<{ type: string }>;
    resources: { devices: Array<{ allow: boolean; access: string }> };
    maskedPaths: string[];
    readonlyPaths: string[];
  };
}

/** Host files bound over the container's /etc/hosts and /etc/resolv.conf. */
export interface NetworkFiles {
  hosts: string;
  resolvConf: string;
}

/** Inputs of {@linkcode createRuntimeSpec}. */
export interface RuntimeSpecOptions {
  /** Host path of the root file system. */
  rootPath: string;
  args: string[];
  env: string[];
  cwd: string;
  user: ResolvedUser;
  hostname: string;
  network: "host" | "none";
  /** Bound into the container when `network` is "host". */
  networkFiles?: NetworkFiles;
  mounts?: ExecMount[];
  /**
   * Hard limit on open files. Raising it above the runtime's own hard limit
   * needs CAP_SYS_RESOURCE, so callers pass that limit when it is lower.
   * @default 1048576, the kernel's default fs.nr_open
   */
  maxOpenFiles?: number;
}

/**
 * Builds the runtime configuration. The process is run as given, with PATH,
 * HOSTNAME and HOME added when missing. It gets pid, ipc, uts and mount
 * namespaces, plus a network namespace for `network: "none"`. Capabilities,
 * masked and read-only paths are Docker's defaults, and the usual /proc, /dev
 * and /sys mounts come before the request's `mounts`.
 *
 * NOTE: no seccomp profile is set, unlike Docker, so every system call that
 * the capabilities allow is permitted.
 */
export function createRuntimeSpec(options: RuntimeSpecOptions): RuntimeSpec {
  const namespaces = ["pid", "ipc", "uts", "mount"];
  if (options.network === "none") namespaces.push("network");

  return {
    ociVersion: "1.0.2",
    process: {
      terminal: false,
      user: {
        uid: options.user.uid,
        gid: options.user.gid,
        additionalGids: options.user.additionalGids,
      },
      args: options.args,
      env: processEnv(options.env, options.hostname, options.user.home),
      cwd: options.cwd,
      capabilities: {
        bounding: DEFAULT_CAPABILITIES,
        effective: DEFAULT_CAPABILITIES,
        permitted: DEFAULT_CAPABILITIES,
      },
      rlimits: [openFilesLimit(options.maxOpenFiles ?? DEFAULT_MAX_OPEN_FILES)],
      noNewPrivileges: false,
    },
    root: { path: options.rootPath, readonly: false },
    hostname: options.hostname,
    mounts: [
      ...defaultMounts(),
      ...networkMounts(options),
      ...(options.mounts ?? []).map(specMount),
    ],
    linux: {
      namespaces: namespaces.map((type) => ({ type })),
      resources: { devices: [{ allow: false, access: "rwm" }] },
      maskedPaths: MASKED_PATHS,
      readonlyPaths: READONLY_PATHS,
    },
  };
}

/** Default hard limit on open files: the kernel's default fs.nr_open. */
export const DEFAULT_MAX_OPEN_FILES = 1048576;

function openFilesLimit(hard: number): { type: string; hard: number; soft: number } {
  // A soft limit of 1024 keeps programs that close every descriptor up to it fast.
  return { type: "RLIMIT_NOFILE", hard, soft: Math.min(1024, hard) };
}

/** Adds PATH, HOSTNAME and HOME to `env` when it does not set them. */
export function processEnv(env: string[], hostname: string, home: string): string[] {
  const names = new Set(env.map((entry) => entry.split("=", 1)[0]));
  const result = [...env];
  if (!names.has("PATH")) result.push(`PATH=${DEFAULT_PATH}`);
  if (!names.has("HOSTNAME")) result.push(`HOSTNAME=${hostname}`);
  if (!names.has("HOME")) result.push(`HOME=${home}`);
  return result;
}

function defaultMounts(): SpecMount[] {
  return [
    { destination: "/proc", type: "proc", source: "proc", options: ["nosuid", "noexec", "nodev"] },
    {
      destination: "/dev",
      type: "tmpfs",
      source: "tmpfs",
      options: ["nosuid", "strictatime", "mode=755", "size=65536k"],
    },
    {
      destination: "/dev/pts",
      type: "devpts",
      source: "devpts",
      options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
    },
    {
      destination: "/dev/shm",
      type: "tmpfs",
      source: "shm",
      options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
    },
    {
      destination: "/dev/mqueue",
      type: "mqueue",
      source: "mqueue",
      options: ["nosuid", "noexec", "nodev"],
    },
    {
      destination: "/sys",
      type: "sysfs",
      source: "sysfs",
      options: ["nosuid", "noexec", "nodev", "ro"],
    },
  ];
}

function networkMounts(options: RuntimeSpecOptions): SpecMount[] {
  if (options.network !== "host" || !options.networkFiles) return [];
  const bind = (source: string, destination: string): SpecMount => ({
    destination,
    type: "bind",
    source,
    options: ["rbind", "ro"],
  });
  return [
    bind(options.networkFiles.resolvConf, "/etc/resolv.conf"),
    bind(options.networkFiles.hosts, "/etc/hosts"),
  ];
}

function specMount(mount: ExecMount): SpecMount {
  if (mount.type === "bind") {
    return {
      destination: mount.dest,
      type: "bind",
      source: mount.source,
      options: ["rbind", mount.readonly ? "ro" : "rw"],
    };
  }
  const options = ["nosuid", "nodev"];
  if (mount.size !== undefined) options.push(`size=${mount.size}`);
  return { destination: mount.dest, type: "tmpfs", source: "tmpfs", options };
}
