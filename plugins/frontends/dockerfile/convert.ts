/**
 * Converts a parsed Dockerfile into a build definition: one chain of ops per
 * stage that the target needs, and the image config the result carries.
 *
 * @module
 */

import type { Definition, ImageConfig, Platform, ResolvedImage } from "../../../mod.ts";
import { image, local, scratch } from "../../../core/graph/builder.ts";
import { DockerfileSyntaxError, NotFoundError } from "../../../core/errors.ts";
import { parseDockerfile } from "./parser.ts";
import {
  type ArgInstruction,
  type Instruction,
  parseInstructions,
  splitStages,
  type Stage,
} from "./instructions.ts";
import { expandWord } from "./expand.ts";
import { platformArgs } from "./_platform_args.ts";
import type { StageState } from "./_stage_state.ts";
import { applyInstruction, type ConvertContext } from "./_apply_instruction.ts";

/** Inputs of {@link convertDockerfile}. */
export interface ConvertOptions {
  /** The Dockerfile's name for messages, e.g. "Dockerfile". */
  file: string;
  text: string;
  buildArgs: Record<string, string>;
  target?: string;
  platform: Platform;
  buildPlatform: Platform;
  /** .dockerignore patterns for the context. */
  excludes: string[];
  resolveImage(reference: string, platform: Platform): Promise<ResolvedImage>;
}

/** Converts a Dockerfile to a Definition with its image config. */
export async function convertDockerfile(options: ConvertOptions): Promise<Definition> {
  const ast = parseDockerfile(options.text, { file: options.file });
  const { globalArgs, stages } = splitStages(parseInstructions(ast));
  if (stages.length === 0) {
    throw new DockerfileSyntaxError("the Dockerfile has no FROM instruction", {
      file: options.file,
      line: 1,
    });
  }
  const target = findTarget(stages, options.target, options.file);
  const globals = evaluateGlobalArgs(globalArgs, options);
  const context: ConvertContext = {
    file: options.file,
    escapeChar: ast.escapeChar,
    buildArgs: options.buildArgs,
    globals,
    context: local("context", {
      ...(options.excludes.length ? { exclude: options.excludes } : {}),
      info: { description: "[internal] load build context" },
    }),
    stageByName: (name) => findStage(stages, name),
    convertStage: (stage) => convertStage(stage),
    resolveImage: (reference) => options.resolveImage(reference, options.platform),
    platform: options.platform,
  };

  const converted = new Map<Stage, Promise<StageState>>();
  function convertStage(stage: Stage): Promise<StageState> {
    let result = converted.get(stage);
    if (!result) {
      result = convertOneStage(stage, stages.length, context);
      converted.set(stage, result);
    }
    return result;
  }

  const final = await convertStage(target);
  const imageConfig: ImageConfig = { ...final.config, history: final.history };
  return final.state.marshal({ imageConfig: imageConfig as Record<string, unknown> });
}

async function convertOneStage(
  stage: Stage,
  stageCount: number,
  context: ConvertContext,
): Promise<StageState> {
  const label = stage.name ?? `stage-${stage.index}`;
  const steps = stage.commands.length + 1;
  const prefix = (
    step: number,
  ) => (stageCount > 1 ? `[${label} ${step}/${steps}]` : `[${step}/${steps}]`);
  const base = await fromStage(stage, context, `${prefix(1)} FROM`);
  const state: StageState = { ...base, label, args: new Map() };
  for (const [index, instruction] of stage.commands.entries()) {
    await applyInstruction(state, instruction as Instruction, context, {
      description: `${prefix(index + 2)} ${instruction.original.trim()}`,
      location: `${instruction.file}:${instruction.startLine}`,
    });
  }
  return state;
}

async function fromStage(
  stage: Stage,
  context: ConvertContext,
  description: string,
): Promise<Omit<StageState, "label" | "args">> {
  const from = stage.from;
  const lookup = (name: string) => context.globals.get(name);
  const reference = expandWord(from.image, lookup, { escapeChar: context.escapeChar });
  const location = { file: from.file, line: from.startLine };
  if (!reference) throw new DockerfileSyntaxError("FROM requires an image name", location);

  const parent = context.stageByName(reference);
  // Only an earlier stage can be a base; a later one with that name is an image reference.
  if (parent && parent.index < stage.index) {
    const converted = await context.convertStage(parent);
    return { ...converted, history: [...converted.history], env: [...converted.env] };
  }
  const empty = {
    env: [] as string[],
    workdir: "/",
    user: "",
    shell: ["/bin/sh", "-c"],
    history: [],
  };
  if (reference === "scratch") {
    return { ...empty, state: scratch(), config: { config: {} } };
  }

  let resolved: ResolvedImage;
  try {
    resolved = await context.resolveImage(reference);
  } catch (error) {
    const message = (error as Error).message;
    throw new DockerfileSyntaxError(`FROM ${reference}: ${message}`, { ...location, cause: error });
  }
  const config = resolved.config;
  const settings = config.config ?? {};
  const state = image(resolved.pinned, {
    platform: context.platform,
    info: {
      description: `${description} ${resolved.pinned}`,
      location: `${from.file}:${from.startLine}`,
    },
  });
  return {
    state,
    config: { config: { ...settings } },
    env: [...(settings.Env ?? [])],
    workdir: settings.WorkingDir || "/",
    user: settings.User ?? "",
    shell: settings.Shell ?? ["/bin/sh", "-c"],
    history: [...(config.history ?? [])],
  };
}

function evaluateGlobalArgs(
  globalArgs: ArgInstruction[],
  options: ConvertOptions,
): Map<string, string | undefined> {
  const values = new Map<string, string | undefined>(
    Object.entries(platformArgs(options.platform, options.buildPlatform)),
  );
  for (const instruction of globalArgs) {
    for (const arg of instruction.args) {
      const fromBuild = Object.hasOwn(options.buildArgs, arg.name)
        ? options.buildArgs[arg.name]
        : undefined;
      const fallback = arg.defaultValue !== undefined
        ? expandWord(arg.defaultValue, (name) => values.get(name))
        : undefined;
      values.set(arg.name, fromBuild ?? fallback);
    }
  }
  return values;
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
