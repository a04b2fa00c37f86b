/**
 * The image history entries the Dockerfile converter records for each instruction.
 *
 * @module
 */

import type { ImageHistory } from "../../../mod.ts";
import { envValue, type StageState } from "./_stage_state.ts";

/** Returns a history entry; `emptyLayer` marks instructions that change only the config. */
export function historyEntry(createdBy: string, emptyLayer: boolean): ImageHistory {
  return {
    created_by: createdBy,
    comment: "tsbuild",
    ...(emptyLayer ? { empty_layer: true } : {}),
  };
}

/**
 * Returns the command a RUN records in the history: as BuildKit writes it,
 * the stage's ARGs come first as `|COUNT NAME=value ...`, so two builds with
 * different build arguments show different histories.
 */
export function runHistoryCommand(stage: StageState, args: string[]): string {
  const values = new Map<string, string>();
  for (const arg of stage.args) {
    values.set(arg.name, envValue(stage.vars, arg.name) ?? arg.value ?? "");
  }
  const prefix = values.size > 0
    ? [`|${values.size}`, ...[...values].map(([name, value]) => `${name}=${value}`)]
    : [];
  return [...prefix, ...args].join(" ");
}
