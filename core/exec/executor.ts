/**
 * The executor interface: what runs a RUN step's process on a root file system
 * made of snapshot diff directories.
 *
 * @module
 */

/** A host directory or file bound into the container. */
export interface BindMount {
  type: "bind";
  /** Absolute host path. */
  source: string;
  /** Absolute path inside the container; created when missing, and removed afterwards if still empty. */
  dest: string;
  readonly: boolean;
}

/** A fresh tmpfs in the container. */
export interface TmpfsMount {
  type: "tmpfs";
  /** Absolute path inside the container; created when missing, and removed afterwards if still empty. */
  dest: string;
  /** Size limit in bytes. @default the kernel's, half of the memory */
  size?: number;
}

/** An extra mount of a RUN step, such as a cache or secret mount. */
export type ExecMount = BindMount | TmpfsMount;

/** One process to run, with its lower snapshots and the directory for its changes. */
export interface ExecRequest {
  /** Diff directories of the parent chain, bottom-most (base) first. */
  lowerDirs: string[];
  /** Existing empty directory that receives the changes, in overlay upper-dir format. */
  upperDir: string;
  /** The process and its arguments; `args[0]` is looked up in PATH when it has no "/". */
  args: string[];
  /** "NAME=value" entries; PATH, HOSTNAME and HOME are added when missing. */
  env: string[];
  /** Working directory, created owned by root with mode 0755 when missing. */
  cwd: string;
  /** "", "uid", "name", "uid:gid" or "name:group", resolved in the root file system. */
  user: string;
  /** @default "tsbuild" */
  hostname?: string;
  mounts?: ExecMount[];
  /** "host" shares the host's network namespace; "none" gives a namespace with only lo. */
  network: "host" | "none";
  /** Receives the process's standard output as it is written. */
  stdout?: (chunk: Uint8Array) => void;
  /** Receives the process's standard error as it is written. */
  stderr?: (chunk: Uint8Array) => void;
  /** Kills the process; the run then rejects with CancelledError. */
  signal?: AbortSignal;
}

/** Outcome of a finished process. */
export interface ExecResult {
  /** The exit status, or 128 plus the signal number when a signal ended the process. */
  exitCode: number;
}

/**
 * Runs RUN step processes. A non-zero exit code is a result, not an error.
 * A run rejects only when the process could not be started, when it was
 * cancelled, or when the executor itself failed.
 */
export interface Executor {
  readonly name: string;
  run(request: ExecRequest): Promise<ExecResult>;
}
