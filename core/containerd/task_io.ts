/**
 * A task's standard output and error, carried from containerd's runtime shim to tsbuild through
 * FIFOs: tsbuild creates and reads them, the shim opens them for writing when the task is
 * created and closes them once the process has exited and its output is drained.
 *
 * @module
 */

import { join } from "../deps.ts";

/** The FIFOs of one task and the readers that forward their data. */
export interface TaskIo extends AsyncDisposable {
  /** FIFO path for the task's standard output, as {@link TaskInput.stdout} takes it. */
  readonly stdout: string;
  /** FIFO path for the task's standard error. */
  readonly stderr: string;
  /**
   * Settles when both FIFOs reached end of file, which happens after the shim closed them; it
   * rejects when a callback threw.
   */
  readonly done: Promise<void>;
  /**
   * Ends readers still waiting for the shim to open a FIFO, as after a failed task creation,
   * waits for both readers, and removes the FIFOs. It does not reject for a failed reader, which
   * `done` reports. Later calls do nothing.
   */
  close(): Promise<void>;
}

/** Callbacks that receive the task's output as the shim writes it. */
export interface TaskIoOptions {
  stdout?: (chunk: Uint8Array) => void;
  stderr?: (chunk: Uint8Array) => void;
}

/**
 * Creates the FIFOs "stdout" and "stderr" in `dir` (an existing directory the shim can reach,
 * on the same host) and starts reading them.
 */
export function createTaskIo(dir: string, options: TaskIoOptions = {}): TaskIo {
  const stdout = join(dir, "stdout");
  const stderr = join(dir, "stderr");
  makeFifo(stdout);
  makeFifo(stderr);
  const readers = [readFifo(stdout, options.stdout), readFifo(stderr, options.stderr)];
  const done = Promise.all(readers.map((reader) => reader.done)).then(() => {});
  // The readers' failures are reported through `done` and `close`; this keeps them from
  // surfacing as unhandled rejections when a caller awaits neither.
  done.catch(() => {});

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      for (const reader of readers) await reader.unblock();
      // A reader's failure is reported through `done`; closing only needs it to be over.
      await done.catch(() => {});
      await Deno.remove(stdout);
      await Deno.remove(stderr);
    })();
    return closing;
  };
  return { stdout, stderr, done, close, [Symbol.asyncDispose]: close };
}

interface FifoReader {
  done: Promise<void>;
  /** Opens and closes a write end, so a reader still blocked in open() reads end of file. */
  unblock(): Promise<void>;
}

function readFifo(path: string, callback?: (chunk: Uint8Array) => void): FifoReader {
  let opened = false;
  let settled = false;
  const done = (async () => {
    try {
      // Opening the read end blocks until a writer opens the FIFO: the shim, or `unblock`.
      const file = await Deno.open(path, { read: true });
      opened = true;
      for await (const chunk of file.readable) callback?.(chunk);
    } finally {
      settled = true;
    }
  })();
  return {
    done,
    async unblock() {
      if (opened || settled) return;
      // On Linux, opening a FIFO for reading and writing does not block, and it counts as the
      // writer the reader waits for (fifo(7)). It stays open until the reader's open() has
      // returned, because a reader that starts waiting after it closed would wait forever.
      // Closing it then leaves the reader with end of file.
      const writer = await Deno.open(path, { read: true, write: true });
      try {
        while (!opened && !settled) await new Promise((resolve) => setTimeout(resolve, 5));
      } finally {
        writer.close();
      }
    },
  };
}

let library: ReturnType<typeof openLibc> | undefined;

function openLibc() {
  return Deno.dlopen("libc.so.6", {
    mkfifo: { parameters: ["buffer", "u32"], result: "i32" },
  });
}

/** Creates a FIFO readable and writable only by its owner. */
function makeFifo(path: string): void {
  library ??= openLibc();
  const name = new TextEncoder().encode(`${path}\0`);
  if (library.symbols.mkfifo(name, 0o600) !== 0) {
    throw new Error(`Failed to create FIFO "${path}": mkfifo failed`);
  }
}
