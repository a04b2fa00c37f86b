/**
 * The tty progress renderer: redraws the list of steps in place, with a timer
 * for each running step and the last lines of its output.
 *
 * @module
 */

import type { ProgressEvent, ProgressSink } from "./events.ts";

interface StepState {
  name: string;
  started?: number;
  completed?: number;
  cached: boolean;
  error?: string;
  lastLines: string[];
}

const REDRAW_INTERVAL_MS = 100;
const LOG_LINES_SHOWN = 4;

/** Renders events as a block of step lines redrawn in place on a terminal. */
export class TtyRenderer implements ProgressSink {
  readonly #write: (text: string) => void;
  readonly #steps = new Map<string, StepState>();
  readonly #warnings: string[] = [];
  readonly #decoder = new TextDecoder();
  readonly #startedAt = Date.now();
  #linesDrawn = 0;
  #finished = false;
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(write: (text: string) => void) {
    this.#write = write;
    this.#timer = setInterval(() => this.#draw(), REDRAW_INTERVAL_MS);
  }

  emit(event: ProgressEvent): void {
    if (event.type === "warning") {
      this.#warnings.push(event.message);
      return;
    }
    const step = this.#steps.get(event.vertex.id) ??
      { name: event.vertex.name, cached: false, lastLines: [] };
    this.#steps.set(event.vertex.id, step);
    if (event.type === "vertex.started") step.started = event.time;
    if (event.type === "vertex.cached") {
      step.cached = true;
      step.completed = event.time;
    }
    if (event.type === "vertex.completed") {
      step.completed = event.time;
      step.error = event.error;
    }
    if (event.type === "vertex.log") {
      const lines = this.#decoder.decode(event.data).split("\n").filter(Boolean);
      step.lastLines = [...step.lastLines, ...lines].slice(-LOG_LINES_SHOWN);
    }
  }

  /** Stops redrawing and leaves the final state on screen. */
  close(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#finished = true;
    this.#draw();
    for (const warning of this.#warnings) this.#write(`WARNING: ${warning}\n`);
  }

  #draw(): void {
    const now = Date.now();
    const done = [...this.#steps.values()].filter((step) => step.completed).length;
    const failed = [...this.#steps.values()].some((step) => step.error);
    let state = "";
    if (this.#finished) state = failed ? " FAILED" : " FINISHED";
    const elapsed = ((now - this.#startedAt) / 1000).toFixed(1);
    const lines = [`[+] Building ${elapsed}s (${done}/${this.#steps.size})${state}`];
    let number = 0;
    for (const step of this.#steps.values()) {
      number++;
      const end = step.completed ?? now;
      const time = step.started ? `${((end - step.started) / 1000).toFixed(1)}s` : "";
      const state = step.error
        ? "ERROR"
        : step.cached
        ? "CACHED"
        : step.completed
        ? time
        : `${time} …`;
      lines.push(` => #${number} ${step.name} ${state}`);
      if (!step.completed || step.error) {
        for (const line of step.lastLines) lines.push(`    ${line}`);
      }
    }
    // A line wider than the terminal wraps and would throw off the cursor-up count.
    const width = terminalWidth();
    for (let i = 0; i < lines.length; i++) {
      if (lines[i].length > width) lines[i] = `${lines[i].slice(0, width - 1)}…`;
    }
    const clear = this.#linesDrawn > 0 ? `\x1b[${this.#linesDrawn}F\x1b[J` : "";
    this.#write(clear + lines.join("\n") + "\n");
    this.#linesDrawn = lines.length;
  }
}

function terminalWidth(): number {
  try {
    return Deno.consoleSize().columns || 80;
  } catch {
    return 80;
  }
}
