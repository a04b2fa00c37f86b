/**
 * Converts a parsed Dockerfile into a build definition: one chain of ops per
 * stage that the target needs, and the image config the result carries.
 *
 * @module
 */

import type { Definition, ImageConfig, Platform, ResolvedImage } from "../../../mod.ts";
import { image, local, type OpInfo, scratch, State } from "../../../core/graph/builder.ts";
import { DockerfileSyntaxError, NotFoundError } from "../../../core/errors.ts";
import { parsePlatform } from "../../../core/oci/platform.ts";
import { parseDockerfile } from "./parser.ts";
import {
  type ArgInstruction,
  type Instruction,
  parseInstructions,
  splitStages,
  type Stage,
} from "./instructions.ts";
import { expandWord } from "./expand.ts";
import { PLATFORM_ARG_NAMES, platformArgs } from "./_platform_args.ts";
import { DEFAULT_PATH, envValue, setEnv, stageLookup, type StageState } from "./_stage_state.ts";
import { applyInstruction } from "./_apply_instruction.ts";
import { type ConvertContext, type SourceLocation, withLocation } from "./_convert_context.ts";
import { directiveNotices } from "./_directive_notices.ts";
import { parseTriggers } from "./_onbuild.ts";

/** Inputs of {@link convertDockerfile}. */
export interface ConvertOptions {
  /** The Dockerfile's name for messages, e.g. "Dockerfile". */
  file: string;
  text: string;
  buildArgs: Record<string, string>;
  target?: string;
  /** The platform to build for (TARGETPLATFORM). */
  platform: Platform;
  /** The platform of the machine building (BUILDPLATFORM). */
  buildPlatform: Platform;
  /**
   * Words that open every step's name, as BuildKit puts the platform there when it builds
   * several: "[linux/arm64 build 2/5] RUN make".
   */
  stepScope?: string;
  /** .dockerignore patterns for the context. */
  excludes: string[];
  resolveImage(reference: string, platform: Platform): Promise<ResolvedImage>;
  /**
   * Receives notices about input that is accepted but ignored or unused:
   * parser directives, empty continuation lines, build arguments no ARG declared.
   */
  onWarning?(message: string): void;
}

/** Build arguments BuildKit reads itself, which are never reported as unused. */
const BUILTIN_BUILD_ARGS = new Set<string>([
  ...PLATFORM_ARG_NAMES,
  "BUILDKIT_CACHE_MOUNT_NS",
  "BUILDKIT_INLINE_CACHE",
  "BUILDKIT_SYNTAX",
  "BUILDKIT_MULTI_PLATFORM",
  "SOURCE_DATE_EPOCH",
  "HTTP_PROXY",
  "HTTPS_PROXY",
  "FTP_PROXY",
  "NO_PROXY",
  "ALL_PROXY",
  "http_proxy",
  "https_proxy",
  "ftp_proxy",
  "no_proxy",
  "all_proxy",
]);

/** Converts a Dockerfile to a Definition with its image config. */
export async function convertDockerfile(options: ConvertOptions): Promise<Definition> {
  const warn = (message: string) => options.onWarning?.(message);
  const ast = parseDockerfile(options.text, { file: options.file });
  for (const notice of directiveNotices(ast.directives, options.file)) warn(notice);
  for (const warning of ast.warnings) warn(`${options.file}:${warning.line}: ${warning.message}`);

  const { globalArgs, stages } = splitStages(parseInstructions(ast));
  const target = findTarget(stages, options.target, options.file);
  const usedBuildArgs = new Set<string>();
  const globals = evaluateGlobalArgs(globalArgs, options, target, usedBuildArgs);
  const context = createContext(options, ast.escapeChar, stages, globals, usedBuildArgs);

  const final = await context.convertStage(target);
  reportUnusedBuildArgs(options.buildArgs, usedBuildArgs, warn);
  const imageConfig: ImageConfig = { ...final.config, history: final.history };
  return final.state.marshal({ imageConfig: imageConfig as Record<string, unknown> });
}

function createContext(
  options: ConvertOptions,
  escapeChar: "\\" | "`",
  stages: Stage[],
  globals: Map<string, string>,
  usedBuildArgs: Set<string>,
): ConvertContext {
  const converted = new Map<Stage, Promise<StageState>>();
  const converting = new Set<Stage>();
  // As in BuildKit, only the build argument sets the namespace, not an ARG default.
  const namespace = options.buildArgs.BUILDKIT_CACHE_MOUNT_NS;

  const context: ConvertContext = {
    file: options.file,
    escapeChar,
    buildArgs: options.buildArgs,
    usedBuildArgs,
    globals,
    context: local("context", {
      ...(options.excludes.length ? { exclude: options.excludes } : {}),
      info: { description: "[internal] load build context" },
    }),
    platform: options.platform,
    stepScope: options.stepScope,
    cacheNamespace: namespace ?? "",
    stageByName: (name) => findStage(stages, name),
    convertStage(stage) {
      if (converting.has(stage)) {
        throw new DockerfileSyntaxError(
          `circular dependency: stage "${stage.name ?? stage.index}" depends on itself`,
          { file: stage.from.file, line: stage.from.startLine },
        );
      }
      let result = converted.get(stage);
      if (!result) {
        converting.add(stage);
        result = convertOneStage(stage, stages.length, context).finally(() =>
          converting.delete(stage)
        );
        converted.set(stage, result);
      }
      return result;
    },
    resolveImage: (reference, platform) => options.resolveImage(reference, platform),
    stateFor: (from, platform) => stateFor(from, platform, stages, context),
    expander: (stage) => {
      const lookup = stageLookup(stage);
      return (word) => expandWord(word, lookup, { escapeChar });
    },
    located: withLocation,
    warn: (message, location) =>
      options.onWarning?.(location ? `${location.file}:${location.line}: ${message}` : message),
  };
  return context;
}

async function stateFor(
  from: string,
  platform: Platform,
  stages: Stage[],
  context: ConvertContext,
): Promise<State> {
  const stage = findStage(stages, from);
  if (stage) return (await context.convertStage(stage)).state;
  if (/^\d+$/.test(from)) {
    throw new NotFoundError(
      `Failed to find stage ${from}: the Dockerfile has ${stages.length} stages`,
    );
  }
  let resolved: ResolvedImage;
  try {
    resolved = await context.resolveImage(from, platform);
  } catch (error) {
    throw new NotFoundError(
      `Failed to find "${from}": no stage has that name and the image could not be resolved: ${
        (error as Error).message
      }`,
      { cause: error },
    );
  }
  return imageState(resolved, platform, {});
}

// An image found in containerd's image store is loaded from there, not from its registry.
function imageState(resolved: ResolvedImage, platform: Platform, info: OpInfo): State {
  return resolved.source === "containerd-image"
    ? State.sourceState(`containerd-image://${resolved.pinned}`, {}, info, platform)
    : image(resolved.pinned, { platform, info });
}

async function convertOneStage(
  stage: Stage,
  stageCount: number,
  context: ConvertContext,
): Promise<StageState> {
  const label = stage.name ?? `stage-${stage.index}`;
  const location = { file: stage.from.file, line: stage.from.startLine };
  const scope = [context.stepScope, stageCount > 1 ? label : undefined].filter(Boolean).join(" ");
  const prefix = (step: number, steps: number) =>
    scope ? `[${scope} ${step}/${steps}]` : `[${step}/${steps}]`;
  const { state, triggers } = await fromStage(
    stage,
    context,
    label,
    (triggerCount) => `${prefix(1, stage.commands.length + triggerCount + 1)} FROM`,
  );
  const instructions = [...parseTriggers(triggers, location), ...stage.commands];
  const steps = instructions.length + 1;
  state.state = state.state.platform(state.platform);
  if (state.config.config?.OnBuild) state.config.config.OnBuild = undefined;

  for (const [index, instruction] of instructions.entries()) {
    const trigger = index < triggers.length ? "ONBUILD " : "";
    await applyInstruction(state, instruction as Instruction, context, {
      description: `${prefix(index + 2, steps)} ${trigger}${instruction.original.trim()}`,
      location: `${instruction.file}:${instruction.startLine}`,
    });
  }
  return state;
}

/**
 * Returns the stage's starting state and the ONBUILD triggers its base
 * carries; `describe` gives the progress name of the FROM step.
 */
async function fromStage(
  stage: Stage,
  context: ConvertContext,
  label: string,
  describe: (triggerCount: number) => string,
): Promise<{ state: StageState; triggers: string[] }> {
  const from = stage.from;
  const location = { file: from.file, line: from.startLine };
  const globalLookup = (name: string) => context.globals.get(name);
  const expandGlobal = (word: string) =>
    withLocation(
      location,
      () => expandWord(word, globalLookup, { escapeChar: context.escapeChar }),
    );
  const reference = expandGlobal(from.image);
  if (!reference) {
    throw new DockerfileSyntaxError(`base name (${from.image}) should not be blank`, location);
  }
  const platform = from.platform
    ? withLocation(location, () => parsePlatform(expandGlobal(from.platform!)))
    : context.platform;

  const parent = context.stageByName(reference);
  // Only an earlier stage can be a base; a later one with that name is an image reference.
  if (parent && parent.index < stage.index) {
    const base = await context.convertStage(parent);
    return { state: inheritStage(base, label), triggers: base.config.config?.OnBuild ?? [] };
  }
  if (reference === "scratch") {
    return { state: scratchStage(label, platform), triggers: [] };
  }
  return await imageStage(reference, platform, context, { label, location, describe });
}

// As in BuildKit, a stage built FROM another starts with its filesystem, config and variables,
// ARGs included, but not with the ONBUILD triggers it declared: those run once, here.
function inheritStage(base: StageState, label: string): StageState {
  const config: ImageConfig = structuredClone(base.config);
  return {
    ...base,
    label,
    config,
    env: [...base.env],
    vars: [...base.vars],
    args: [...base.args],
    history: [...base.history],
    cmdSetInStage: false,
  };
}

function scratchStage(label: string, platform: Platform): StageState {
  const env = [`PATH=${DEFAULT_PATH}`];
  return {
    label,
    state: scratch().platform(platform),
    config: { config: { Env: [...env], WorkingDir: "/" } },
    env,
    vars: [...env],
    args: [],
    workdir: "/",
    user: "",
    shell: ["/bin/sh", "-c"],
    history: [],
    platform,
  };
}

async function imageStage(
  reference: string,
  platform: Platform,
  context: ConvertContext,
  from: { label: string; location: SourceLocation; describe: (triggerCount: number) => string },
): Promise<{ state: StageState; triggers: string[] }> {
  const { label, location } = from;
  let resolved: ResolvedImage;
  try {
    resolved = await context.resolveImage(reference, platform);
  } catch (error) {
    const message = (error as Error).message;
    throw new DockerfileSyntaxError(`FROM ${reference}: ${message}`, { ...location, cause: error });
  }
  const config = resolved.config;
  const settings = config.config ?? {};
  // As in BuildKit, every stage's environment has a PATH.
  let env = [...(settings.Env ?? [])];
  if (envValue(env, "PATH") === undefined) env = setEnv(env, "PATH", DEFAULT_PATH);
  const triggers = settings.OnBuild ?? [];
  const info = {
    description: `${from.describe(triggers.length)} ${resolved.pinned}`,
    location: `${location.file}:${location.line}`,
  };
  return {
    state: {
      label,
      state: imageState(resolved, platform, info),
      config: { config: { ...structuredClone(settings), Env: [...env] } },
      env,
      vars: [...env],
      args: [],
      workdir: settings.WorkingDir || "/",
      user: settings.User ?? "",
      shell: settings.Shell ?? ["/bin/sh", "-c"],
      history: [...(config.history ?? [])],
      platform,
    },
    triggers,
  };
}

/**
 * Evaluates the ARGs before the first FROM, in order, starting from the
 * automatic platform ARGs. A build argument wins over a default; an ARG with
 * neither keeps the value it had, such as a platform ARG's.
 */
function evaluateGlobalArgs(
  globalArgs: ArgInstruction[],
  options: ConvertOptions,
  target: Stage,
  usedBuildArgs: Set<string>,
): Map<string, string> {
  const values = new Map<string, string>(Object.entries(platformArgs(
    options.platform,
    options.buildPlatform,
    { targetStage: target.name, overrides: options.buildArgs },
  )));
  for (const instruction of globalArgs) {
    const location = { file: instruction.file, line: instruction.startLine };
    for (const arg of instruction.args) {
      if (Object.hasOwn(options.buildArgs, arg.name)) {
        values.set(arg.name, options.buildArgs[arg.name]);
        usedBuildArgs.add(arg.name);
      } else if (arg.defaultValue !== undefined) {
        const raw = arg.defaultValue;
        values.set(
          arg.name,
          withLocation(location, () => expandWord(raw, (name) => values.get(name))),
        );
      }
    }
  }
  return values;
}

function reportUnusedBuildArgs(
  buildArgs: Record<string, string>,
  used: Set<string>,
  warn: (message: string) => void,
): void {
  const unused = Object.keys(buildArgs).filter((name) =>
    !used.has(name) && !BUILTIN_BUILD_ARGS.has(name)
  );
  if (unused.length === 0) return;
  warn(`build arguments not consumed by any ARG: ${unused.sort().join(", ")}`);
}

function findTarget(stages: Stage[], target: string | undefined, file: string): Stage {
  if (!target) return stages[stages.length - 1];
  const stage = findStage(stages, target);
  if (!stage) {
    const names = stages.map((candidate) => candidate.name).filter(Boolean).join(", ") || "none";
    throw new NotFoundError(
      `Failed to find target stage "${target}" in ${file} (stages: ${names})`,
    );
  }
  return stage;
}

function findStage(stages: Stage[], name: string): Stage | undefined {
  const lower = name.toLowerCase();
  const byName = stages.find((stage) => stage.name?.toLowerCase() === lower);
  if (byName) return byName;
  if (/^\d+$/.test(name)) return stages[Number(name)];
  return undefined;
}
