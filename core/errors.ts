/**
 * tsbuild's error classes: conditions a caller can catch and act on, each with
 * a stable `code` and a `data` object with the values involved.
 *
 * @module
 */

/** Fields every tsbuild error carries besides its message. */
export interface TsbuildErrorOptions {
  cause?: unknown;
  data?: Record<string, unknown>;
}

/** Base class for tsbuild's domain errors; `code` is stable across releases. */
export class TsbuildError extends Error {
  readonly code: string;
  readonly data: Record<string, unknown>;

  constructor(code: string, message: string, options: TsbuildErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.data = options.data ?? {};
  }
}

/** User input that cannot be used: a flag, a Dockerfile line, a path. */
export class InvalidInputError extends TsbuildError {
  constructor(message: string, options: TsbuildErrorOptions = {}) {
    super("INVALID_INPUT", message, options);
  }
}

/** A Dockerfile (or other frontend input) that cannot be parsed; names file and line. */
export class DockerfileSyntaxError extends TsbuildError {
  constructor(message: string, options: TsbuildErrorOptions & { file: string; line: number }) {
    super("DOCKERFILE_SYNTAX", `${options.file}:${options.line}: ${message}`, {
      ...options,
      data: { ...options.data, file: options.file, line: options.line },
    });
  }
}

/** Something named by the build (an image tag, a file, a stage) does not exist. */
export class NotFoundError extends TsbuildError {
  constructor(message: string, options: TsbuildErrorOptions = {}) {
    super("NOT_FOUND", message, options);
  }
}

/** Content whose bytes do not match the digest that names it. */
export class DigestMismatchError extends TsbuildError {
  constructor(message: string, options: TsbuildErrorOptions = {}) {
    super("DIGEST_MISMATCH", message, options);
  }
}

/** An archive entry or link that would reach outside the directory it is written into. */
export class PathEscapeError extends TsbuildError {
  constructor(message: string, options: TsbuildErrorOptions = {}) {
    super("PATH_ESCAPE", message, options);
  }
}

/** A registry, containerd or git server that could not be reached or returned an error. */
export class RemoteError extends TsbuildError {
  constructor(message: string, options: TsbuildErrorOptions = {}) {
    super("REMOTE", message, options);
  }
}

/** A process run by the build (a RUN step) that exited with a non-zero status. */
export class ExecError extends TsbuildError {
  readonly exitCode: number;
  constructor(message: string, options: TsbuildErrorOptions & { exitCode: number }) {
    super("EXEC_FAILED", message, {
      ...options,
      data: { ...options.data, exitCode: options.exitCode },
    });
    this.exitCode = options.exitCode;
  }
}

/** The build was cancelled, by Ctrl-C or by an AbortSignal. */
export class CancelledError extends TsbuildError {
  constructor(message = "Build cancelled", options: TsbuildErrorOptions = {}) {
    super("CANCELLED", message, options);
  }
}

/** A broken internal invariant: a tsbuild bug, not a user error. */
export class InternalError extends TsbuildError {
  constructor(message: string, options: TsbuildErrorOptions = {}) {
    super(
      "INTERNAL",
      `${message} (this is a tsbuild bug; rerun with TSBUILD_DEBUG=1 and report the output)`,
      options,
    );
  }
}

/**
 * Failure of the container runtime before the process ran, for example because
 * `args[0]` does not exist in the root file system. `data.runtimeOutput`
 * contains the end of the runtime's standard error.
 */
export class ContainerStartError extends TsbuildError {
  constructor(message: string, options: TsbuildErrorOptions = {}) {
    super("CONTAINER_START", message, options);
  }
}

/** An object (an image, snapshot, container or blob) that already exists under the name a call tried to create. */
export class AlreadyExistsError extends TsbuildError {
  constructor(message: string, options: TsbuildErrorOptions = {}) {
    super("ALREADY_EXISTS", message, options);
  }
}
