/**
 * Picks the progress renderer for `--progress`.
 *
 * @module
 */

import { InvalidInputError } from "../errors.ts";
import type { ProgressSink } from "../progress/events.ts";
import { PlainRenderer } from "../progress/plain.ts";
import { TtyRenderer } from "../progress/tty.ts";
import type { CommandIo } from "./build_command.ts";

/** A progress sink that must be closed when the build ends. */
export interface Renderer extends ProgressSink {
  close(): void;
}

/** Returns the renderer for `mode`: "auto" is tty on a terminal and plain otherwise. */
export function createRenderer(mode: string, io: CommandIo): Renderer {
  const resolved = mode === "auto" ? (io.stderrIsTerminal ? "tty" : "plain") : mode;
  switch (resolved) {
    case "tty": {
      const tty = new TtyRenderer(io.stderr);
      return { emit: (event) => tty.emit(event), close: () => tty.close() };
    }
    case "plain": {
      const plain = new PlainRenderer(io.stderr);
      return { emit: (event) => plain.emit(event), close() {} };
    }
    case "quiet":
      return {
        emit: (event) => {
          if (event.type === "warning") io.stderr(`WARNING: ${event.message}\n`);
        },
        close() {},
      };
    default:
      throw new InvalidInputError(
        `Invalid --progress "${mode}": expected auto, tty, plain or quiet`,
      );
  }
}
