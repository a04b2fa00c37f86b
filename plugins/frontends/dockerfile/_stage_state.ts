/**
 * What the converter tracks while it walks one stage: the filesystem state,
 * the image config being built, and the variables in scope.
 *
 * @module
 */

import type { ImageConfig, ImageHistory } from "../../../mod.ts";
import type { State } from "../../../core/graph/builder.ts";
import { posix } from "../../../core/deps.ts";

/** The conversion state of one stage. */
export interface StageState {
  /** Display name in progress, e.g. "build" or "stage-0". */
  label: string;
  state: State;
  config: ImageConfig;
  /** Variables from ENV, in order, as `KEY=value`. */
  env: string[];
  /** ARGs declared in this stage with their values (undefined: declared, no value). */
  args: Map<string, string | undefined>;
  workdir: string;
  user: string;
  shell: string[];
  history: ImageHistory[];
  /** Whether CMD appeared in this stage, so a later ENTRYPOINT keeps it. */
  cmdSetInStage?: boolean;
}

/** Returns the value of `name` from ENV entries, or undefined. */
export function envValue(env: string[], name: string): string | undefined {
  for (let i = env.length - 1; i >= 0; i--) {
    if (env[i].startsWith(`${name}=`)) return env[i].slice(name.length + 1);
  }
  return undefined;
}

/** Returns `env` with `name` set to `value`, replacing an earlier entry. */
export function setEnv(env: string[], name: string, value: string): string[] {
  return [...env.filter((entry) => !entry.startsWith(`${name}=`)), `${name}=${value}`];
}

/**
 * Returns the variable lookup for expansion in a stage: ENV wins over ARG, as
 * in BuildKit, since an ENV later in the stage shadows the build argument.
 */
export function stageLookup(stage: StageState): (name: string) => string | undefined {
  return (name) => envValue(stage.env, name) ?? stage.args.get(name);
}

/**
 * Returns the environment for a RUN step: the stage's ENV plus its ARGs with
 * values, which RUN sees but the image does not keep.
 */
export function runEnvironment(stage: StageState): string[] {
  let env = [...stage.env];
  for (const [name, value] of stage.args) {
    if (value !== undefined && envValue(stage.env, name) === undefined) {
      env = setEnv(env, name, value);
    }
  }
  if (envValue(env, "PATH") === undefined) {
    env = setEnv(env, "PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  }
  return env;
}

/** Resolves `path` against the working directory, as WORKDIR and COPY destinations are. */
export function resolveAgainst(workdir: string, path: string): string {
  const joined = path.startsWith("/") ? path : `${workdir}/${path}`;
  const normalized = posix.normalize(joined);
  return normalized.length > 1 ? normalized.replace(/\/+$/, "") : normalized;
}
