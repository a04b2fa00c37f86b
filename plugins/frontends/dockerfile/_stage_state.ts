/**
 * The converter's state for one stage: the filesystem state, the image config
 * being built, and the variables in scope.
 *
 * @module
 */

import type { ImageConfig, ImageHistory, Platform } from "../../../mod.ts";
import type { State } from "../../../core/graph/builder.ts";
import { posix } from "../../../core/deps.ts";

/** The PATH a RUN step gets when neither the image nor the Dockerfile sets one. */
export const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** The conversion state of one stage. */
export interface StageState {
  /** Display name in progress, e.g. "build" or "stage-0". */
  label: string;
  state: State;
  config: ImageConfig;
  /** The image config's environment: the base image's plus ENV, as `KEY=value`. */
  env: string[];
  /**
   * The variables RUN steps see and expansion reads, as `KEY=value`: the base
   * image's environment, then ENV and ARG values as the stage sets them, the
   * latest value of a name winning. As in BuildKit, ARG values are kept here
   * but not in the image config, and a stage built FROM another stage starts
   * with that stage's variables, its ARGs included.
   */
  vars: string[];
  /**
   * The ARGs declared so far, in order, with their values (undefined when
   * declared without one); inherited from a base stage like `vars`.
   */
  args: Array<{ name: string; value: string | undefined }>;
  workdir: string;
  user: string;
  shell: string[];
  history: ImageHistory[];
  /** The platform the stage's filesystem is for: FROM --platform, or the build's target. */
  platform: Platform;
  /** Whether CMD appeared in this stage, so a later ENTRYPOINT keeps it. */
  cmdSetInStage?: boolean;
}

/** Returns the value of `name` in `KEY=value` entries, or undefined. */
export function envValue(env: readonly string[], name: string): string | undefined {
  for (let i = env.length - 1; i >= 0; i--) {
    if (env[i].startsWith(`${name}=`)) return env[i].slice(name.length + 1);
  }
  return undefined;
}

/** Returns `env` with `name` set to `value`, replacing an earlier entry in place. */
export function setEnv(env: readonly string[], name: string, value: string): string[] {
  const entry = `${name}=${value}`;
  const result: string[] = [];
  let replaced = false;
  for (const existing of env) {
    if (!existing.startsWith(`${name}=`)) result.push(existing);
    else if (!replaced) result.push(entry);
    replaced ||= existing.startsWith(`${name}=`);
  }
  if (!replaced) result.push(entry);
  return result;
}

/** Returns the variable lookup for expansion in a stage. */
export function stageLookup(stage: StageState): (name: string) => string | undefined {
  const vars = stage.vars;
  return (name) => envValue(vars, name);
}

/** Returns the environment of a RUN step: the stage's variables, with a default PATH. */
export function runEnvironment(stage: StageState): string[] {
  if (envValue(stage.vars, "PATH") !== undefined) return [...stage.vars];
  return setEnv(stage.vars, "PATH", DEFAULT_PATH);
}

/** Resolves `path` against the working directory, as WORKDIR and COPY destinations are. */
export function resolveAgainst(workdir: string, path: string): string {
  const joined = path.startsWith("/") ? path : `${workdir}/${path}`;
  const normalized = posix.normalize(joined);
  return normalized.length > 1 ? normalized.replace(/\/+$/, "") : normalized;
}
