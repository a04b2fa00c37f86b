/**
 * A counting semaphore for bounding concurrent work.
 *
 * @module
 */

/** Lets at most `limit` holders in at once; the rest wait in arrival order. */
export class Semaphore {
  #available: number;
  readonly #waiting: Array<() => void> = [];

  constructor(limit: number) {
    this.#available = limit;
  }

  /** Waits for a free slot and takes it. */
  async acquire(): Promise<void> {
    if (this.#available > 0) {
      this.#available--;
      return;
    }
    await new Promise<void>((resolve) => this.#waiting.push(resolve));
  }

  /** Returns a slot, waking the next waiter. */
  release(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#available++;
  }
}
