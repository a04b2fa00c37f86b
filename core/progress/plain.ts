/**
 * The plain progress renderer: one line per event, numbered per step, in
 * the shape BuildKit's `--progress=plain` prints.
 *
 * @module
 */

import type { ProgressEvent, ProgressSink } from "./events.ts";

/** Renders events as numbered lines written through `write`. */
export class PlainRenderer implements ProgressSink {
  readonly #write: (text: string) => void;
  readonly #numbers = new Map<string, number>();
  readonly #started = new Map<string, number>();
  readonly #lastStatus = new Map<string, { message: string; time: number }>();
  readonly #decoder = new TextDecoder();

  constructor(write: (text: string) => void) {
    this.#write = write;
  }

  emit(event: ProgressEvent): void {
    if (event.type === "warning") {
      this.#write(`WARNING: ${event.message}\n`);
      return;
    }
    const number = this.#number(event.vertex.id, event.vertex.name);
    switch (event.type) {
      case "vertex.started":
        this.#started.set(event.vertex.id, event.time);
        return;
      case "vertex.cached":
        this.#write(`#${number} CACHED\n`);
        return;
      case "vertex.status": {
        // Byte counters arrive many times a second; print a changed message or one per second.
        const last = this.#lastStatus.get(event.vertex.id);
        const finished = event.total !== undefined && event.current === event.total;
        if (last && last.message === event.message && event.time - last.time < 1000 && !finished) {
          return;
        }
        this.#lastStatus.set(event.vertex.id, { message: event.message, time: event.time });
        this.#write(
          `#${number} ${event.message}${formatCounts(event.current, event.total, event.unit)}\n`,
        );
        return;
      }
      case "vertex.log": {
        const elapsed = this.#elapsed(event.vertex.id, event.time);
        const text = this.#decoder.decode(event.data);
        for (const line of text.split("\n")) {
          if (line) this.#write(`#${number} ${elapsed} ${line}\n`);
        }
        return;
      }
      case "vertex.completed": {
        const elapsed = this.#elapsed(event.vertex.id, event.time);
        this.#write(
          event.error ? `#${number} ERROR: ${event.error}\n` : `#${number} DONE ${elapsed}s\n`,
        );
        return;
      }
    }
  }

  #number(id: string, name: string): number {
    let number = this.#numbers.get(id);
    if (number === undefined) {
      number = this.#numbers.size + 1;
      this.#numbers.set(id, number);
      this.#write(`\n#${number} ${name}\n`);
    }
    return number;
  }

  #elapsed(id: string, time: number): string {
    const started = this.#started.get(id) ?? time;
    return ((time - started) / 1000).toFixed(3);
  }
}

function formatCounts(current?: number, total?: number, unit = "bytes"): string {
  if (current === undefined) return "";
  if (unit !== "bytes") return total ? ` ${current}/${total} ${unit}` : ` ${current} ${unit}`;
  const mb = (bytes: number) => `${(bytes / 1e6).toFixed(2)}MB`;
  return total ? ` ${mb(current)} / ${mb(total)}` : ` ${mb(current)}`;
}
