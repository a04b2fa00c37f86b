/**
 * Stops what the bench started, in reverse order, both at a normal end and when a signal
 * (SIGINT, SIGTERM, SIGHUP) stops the bench part way.
 *
 * @module
 */

import { stopCommands } from "./processes.ts";

/** Receives a line about a cleanup step that failed or a signal that arrived. */
export type CleanupLog = (line: string) => void;

const SIGNALS: Record<string, number> = { SIGINT: 2, SIGTERM: 15, SIGHUP: 1 };

/** Cleanup steps, run last-added first; `run()` runs them once however often it is called. */
export class CleanupStack {
  #steps: { name: string; step: () => Promise<void> }[] = [];
  #running?: Promise<void>;
  #log: CleanupLog;

  constructor(log: CleanupLog) {
    this.#log = log;
  }

  /** Adds a step, named for the messages about it. */
  add(name: string, step: () => Promise<void>): void {
    this.#steps.push({ name, step });
  }

  /** Runs every step, last-added first; a step that throws is logged and the rest still run. */
  run(): Promise<void> {
    this.#running ??= this.#runSteps();
    return this.#running;
  }

  // Pops steps until none is left, so a step added while cleanup runs (a tool whose start
  // finished just then) is still run.
  async #runSteps(): Promise<void> {
    for (let entry = this.#steps.pop(); entry; entry = this.#steps.pop()) {
      try {
        await entry.step();
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        this.#log(`Failed to stop ${entry.name}: ${message}`);
      }
    }
  }
}

/**
 * Makes SIGINT, SIGTERM and SIGHUP stop the running build command, run `cleanup` and exit
 * with 128 plus the signal number. Returns a function that removes the handlers again.
 */
export function cleanUpOnSignals(cleanup: CleanupStack, log: CleanupLog): () => void {
  const handlers = Object.entries(SIGNALS).map(([signal, number]) => {
    const handler = async () => {
      log(`Received ${signal}: stopping the build in progress and the servers the bench started`);
      stopCommands();
      await cleanup.run();
      Deno.exit(128 + number);
    };
    Deno.addSignalListener(signal as Deno.Signal, handler);
    return { signal: signal as Deno.Signal, handler };
  });
  return () => {
    for (const { signal, handler } of handlers) Deno.removeSignalListener(signal, handler);
  };
}
