/**
 * The context the solver passes to the code that runs one op.
 *
 * @module
 */

import type { Executor } from "../exec/executor.ts";
import type { Platform } from "../plugin/types.ts";
import type { ProgressSink } from "../progress/events.ts";
import type { Store } from "../store/store.ts";
import type { SecretProvider } from "./secrets.ts";
import type { SshAgentProvider } from "./ssh_agents.ts";

/** The store, executor and progress scope for running one op. */
export interface RunContext {
  store: Store;
  executor: Executor;
  sink: ProgressSink;
  vertex: { id: string; name: string };
  signal: AbortSignal;
  platform: Platform;
  secrets?: SecretProvider;
  /** The SSH agents `RUN --mount=type=ssh` may forward. */
  ssh?: SshAgentProvider;
}
