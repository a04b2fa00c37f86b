/**
 * The conversion-wide state and services that instructions use, and the
 * helpers that attach a Dockerfile location to errors.
 *
 * @module
 */

import type { Platform, ResolvedImage } from "../../../mod.ts";
import type { State } from "../../../core/graph/builder.ts";
import { DockerfileSyntaxError, TsbuildError } from "../../../core/errors.ts";
import type { Stage } from "./instructions.ts";
import type { StageState } from "./_stage_state.ts";

/** A place in the Dockerfile. */
export interface SourceLocation {
  file: string;
  line: number;
}

/** The conversion-wide state and services instructions use. */
export interface ConvertContext {
  file: string;
  escapeChar: "\\" | "`";
  buildArgs: Record<string, string>;
  /** Build arguments some ARG declared, for the notice about unused ones. */
  usedBuildArgs: Set<string>;
  /** Global ARG values (before the first FROM), including the automatic platform ARGs. */
  globals: Map<string, string>;
  /** The build context as a local source. */
  context: State;
  /** The platform being built for (TARGETPLATFORM). */
  platform: Platform;
  /** Words that open every step's name, such as "linux/arm64" in a multi-platform build. */
  stepScope?: string;
  /** Prefix for cache mount ids, from the BUILDKIT_CACHE_MOUNT_NS build argument. */
  cacheNamespace: string;
  stageByName(name: string): Stage | undefined;
  convertStage(stage: Stage): Promise<StageState>;
  resolveImage(reference: string, platform: Platform): Promise<ResolvedImage>;
  /**
   * Returns the filesystem `COPY --from` or a mount's `from=` names: a stage
   * by name or index, else an image for `platform`.
   */
  stateFor(from: string, platform: Platform): Promise<State>;
  /** Returns the function that expands a word with the variables of `stage`. */
  expander(stage: StageState): (word: string) => string;
  /** Runs `fn`, turning its syntax and input errors into errors that name `location`. */
  located<T>(location: SourceLocation, fn: () => T): T;
  /** Reports something accepted but ignored or suspicious, as a warning event. */
  warn(message: string, location?: SourceLocation): void;
}

/**
 * Runs `fn` and rethrows a SyntaxError or an error about the input as a
 * {@link DockerfileSyntaxError} naming `location`. A rejected promise is
 * handled the same way. Errors that already name a Dockerfile line pass unchanged.
 */
export function withLocation<T>(location: SourceLocation, fn: () => T): T {
  try {
    const result = fn();
    if (result instanceof Promise) {
      return result.catch((error) => {
        throw locatedError(error, location);
      }) as T;
    }
    return result;
  } catch (error) {
    throw locatedError(error, location);
  }
}

function locatedError(error: unknown, location: SourceLocation): unknown {
  if (error instanceof DockerfileSyntaxError) return error;
  const relocate = error instanceof SyntaxError ||
    (error instanceof TsbuildError &&
      (error.code === "INVALID_INPUT" || error.code === "NOT_FOUND"));
  if (!relocate) return error;
  return new DockerfileSyntaxError((error as Error).message, { ...location, cause: error });
}
