/**
 * The interface every builder under test implements, so that the bench drives tsbuild,
 * BuildKit and buildah the same way.
 *
 * @module
 */

/** Names of the builders the bench compares, as accepted by `--only`. */
export type ToolName = "tsbuild" | "buildkit" | "buildah";

/** Every tool name, in the order the report lists them. */
export const TOOL_NAMES: readonly ToolName[] = ["tsbuild", "buildkit", "buildah"];

/** One builder that the bench has set up and drives one build at a time. */
export interface BenchTool {
  name: ToolName;
  /** Version text for the report, e.g. "dockerd 20.10.24+dfsg1". */
  version: string;
  /** Notes for the report on how the bench runs the tool and what `reset()` removes. */
  notes: string[];
  /**
   * Removes built images, the build cache and the base image, so that the next build is
   * cold. Untimed.
   */
  reset(): Promise<void>;
  /** Builds `contextDir` with its Dockerfile and returns the wall-clock time in seconds. */
  build(contextDir: string): Promise<number>;
  /** Stops what the tool started and removes its temporary files; a second call does nothing. */
  close(): Promise<void>;
}

/** Inputs that the bench gives every tool. */
export interface ToolSetup {
  /** Empty temporary folder that belongs to this tool alone. */
  dir: string;
  /** Base image of the bench Dockerfiles, passed as `--build-arg BASE=...`. */
  baseImage: string;
}

/** Raised while setting up a tool that is not installed or cannot run here. */
export class ToolUnavailableError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ToolUnavailableError";
  }
}

/** Wraps `stop` so that only its first call runs; later calls return the same promise. */
export function once(stop: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  return () => running ??= stop();
}
