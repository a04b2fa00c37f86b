/**
 * Keeps the last lines of a process's output, for error messages.
 *
 * @module
 */

/** A bounded buffer of the most recent complete and partial output lines. */
export class OutputTail {
  readonly #max: number;
  readonly #lines: string[] = [];
  #partial = "";
  readonly #decoder = new TextDecoder();

  constructor(maxLines: number) {
    this.#max = maxLines;
  }

  /** Adds a chunk of output. */
  push(chunk: Uint8Array): void {
    const text = this.#partial + this.#decoder.decode(chunk, { stream: true });
    const parts = text.split("\n");
    this.#partial = parts.pop() ?? "";
    for (const line of parts) {
      this.#lines.push(line);
      if (this.#lines.length > this.#max) this.#lines.shift();
    }
  }

  /** Returns the last lines, including an unterminated final one. */
  lines(): string[] {
    const all = this.#partial ? [...this.#lines, this.#partial] : [...this.#lines];
    return all.slice(-this.#max);
  }
}
