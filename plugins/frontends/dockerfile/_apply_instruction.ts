/**
 * Applies one Dockerfile instruction to a stage being converted: RUN, COPY,
 * ADD and WORKDIR add ops; the rest change the image config or variables.
 *
 * @module
 */

import type { ImageHistory, Platform, ResolvedImage } from "../../../mod.ts";
import { copy, image, mkdir, type OpInfo, type State } from "../../../core/graph/builder.ts";
import { DockerfileSyntaxError } from "../../../core/errors.ts";
import type {
  AddInstruction,
  CopyInstruction,
  Instruction,
  RunInstruction,
  Stage,
} from "./instructions.ts";
import { expandWord, expandWords } from "./expand.ts";
import {
  resolveAgainst,
  runEnvironment,
  setEnv,
  stageLookup,
  type StageState,
} from "./_stage_state.ts";

/** What instructions need from the whole conversion. */
export interface ConvertContext {
  file: string;
  escapeChar: "\\" | "`";
  buildArgs: Record<string, string>;
  /** Global ARG values (before the first FROM), including the automatic platform ARGs. */
  globals: Map<string, string | undefined>;
  /** The build context as a local source. */
  context: State;
  stageByName(name: string): Stage | undefined;
  convertStage(stage: Stage): Promise<StageState>;
  resolveImage(reference: string): Promise<ResolvedImage>;
  platform: Platform;
}

/** Applies `instruction` to `stage`; `info` names it in progress and errors. */
export async function applyInstruction(
  stage: StageState,
  instruction: Instruction,
  context: ConvertContext,
  info: OpInfo,
): Promise<void> {
  const lookup = stageLookup(stage);
  const expand = (word: string) => expandWord(word, lookup, { escapeChar: context.escapeChar });
  const settings = (stage.config.config ??= {});
  const history = (createdBy: string, emptyLayer: boolean) =>
    addHistory(stage.history, createdBy, emptyLayer);

  switch (instruction.keyword) {
    case "RUN":
      return applyRun(stage, instruction, info);
    case "COPY":
    case "ADD":
      return await applyCopy(stage, instruction, context, info, expand);
    case "ENV":
      for (const { key, value } of instruction.pairs) {
        const expanded = expandWord(value, stageLookup(stage), { escapeChar: context.escapeChar });
        stage.env = setEnv(stage.env, key, expanded);
      }
      settings.Env = [...stage.env];
      return history(
        `ENV ${instruction.pairs.map(({ key }) => `${key}=${lookup(key) ?? ""}`).join(" ")}`,
        true,
      );
    case "ARG":
      for (const arg of instruction.args) {
        const fromBuild = Object.hasOwn(context.buildArgs, arg.name)
          ? context.buildArgs[arg.name]
          : undefined;
        const fallback = arg.defaultValue !== undefined
          ? expand(arg.defaultValue)
          : context.globals.get(arg.name);
        stage.args.set(arg.name, fromBuild ?? fallback);
      }
      return;
    case "WORKDIR": {
      const path = resolveAgainst(stage.workdir, expand(instruction.path));
      stage.workdir = path;
      settings.WorkingDir = path;
      stage.state = stage.state.dir(path).describe(info).file(
        mkdir(path, 0o755, { parents: true }),
      );
      return history(`WORKDIR ${path}`, false);
    }
    case "USER":
      stage.user = expand(instruction.user);
      settings.User = stage.user;
      stage.state = stage.state.user(stage.user);
      return history(`USER ${stage.user}`, true);
    case "CMD":
      settings.Cmd = commandArgs(instruction.command, stage.shell);
      stage.cmdSetInStage = true;
      return history(`CMD ${JSON.stringify(settings.Cmd)}`, true);
    case "ENTRYPOINT":
      settings.Entrypoint = commandArgs(instruction.command, stage.shell);
      // As in Docker, a new ENTRYPOINT drops the CMD inherited from the base image.
      if (!stage.cmdSetInStage) settings.Cmd = null;
      return history(`ENTRYPOINT ${JSON.stringify(settings.Entrypoint)}`, true);
    case "SHELL":
      stage.shell = instruction.shell;
      settings.Shell = instruction.shell;
      return history(`SHELL ${JSON.stringify(instruction.shell)}`, true);
    case "LABEL":
      settings.Labels = { ...settings.Labels };
      for (const { key, value } of instruction.pairs) settings.Labels[expand(key)] = expand(value);
      return history(
        `LABEL ${
          instruction.pairs.map(({ key, value }) => `${expand(key)}=${expand(value)}`).join(" ")
        }`,
        true,
      );
    case "EXPOSE":
      settings.ExposedPorts = { ...settings.ExposedPorts };
      for (const port of instruction.ports.flatMap((text) => expandWords(text, lookup))) {
        settings.ExposedPorts[port.includes("/") ? port.toLowerCase() : `${port}/tcp`] = {};
      }
      return history(`EXPOSE ${instruction.ports.join(" ")}`, true);
    case "VOLUME":
      settings.Volumes = { ...settings.Volumes };
      for (const path of instruction.paths) settings.Volumes[expand(path)] = {};
      return history(`VOLUME ${JSON.stringify(instruction.paths)}`, true);
    case "STOPSIGNAL":
      settings.StopSignal = expand(instruction.signal);
      return history(`STOPSIGNAL ${settings.StopSignal}`, true);
    case "HEALTHCHECK":
      settings.Healthcheck = {
        Test: instruction.test,
        ...(instruction.interval ? { Interval: instruction.interval } : {}),
        ...(instruction.timeout ? { Timeout: instruction.timeout } : {}),
        ...(instruction.startPeriod ? { StartPeriod: instruction.startPeriod } : {}),
        ...(instruction.startInterval ? { StartInterval: instruction.startInterval } : {}),
        ...(instruction.retries ? { Retries: instruction.retries } : {}),
      };
      return history(`HEALTHCHECK ${JSON.stringify(instruction.test)}`, true);
    case "ONBUILD":
      settings.OnBuild = [...(settings.OnBuild ?? []), instruction.expression];
      return history(`ONBUILD ${instruction.expression}`, true);
    case "MAINTAINER":
      stage.config.author = instruction.maintainer;
      return history(`MAINTAINER ${instruction.maintainer}`, true);
    case "FROM":
      throw new DockerfileSyntaxError("FROM inside a stage", {
        file: instruction.file,
        line: instruction.startLine,
      });
  }
}

function applyRun(stage: StageState, instruction: RunInstruction, info: OpInfo): void {
  const args = commandArgs(instruction.command, stage.shell);
  if (args.length === 0) {
    throw new DockerfileSyntaxError("RUN requires a command", {
      file: instruction.file,
      line: instruction.startLine,
    });
  }
  stage.state = stage.state.run({
    args,
    env: runEnvironment(stage),
    cwd: stage.workdir,
    user: stage.user,
    network: instruction.network === "none" ? "none" : "host",
    info,
  });
  addHistory(stage.history, `RUN ${args.join(" ")}`, false);
}

async function applyCopy(
  stage: StageState,
  instruction: CopyInstruction | AddInstruction,
  context: ConvertContext,
  info: OpInfo,
  expand: (word: string) => string,
): Promise<void> {
  const location = { file: instruction.file, line: instruction.startLine };
  if (instruction.sources.length === 0) {
    throw new DockerfileSyntaxError(
      `${instruction.keyword} requires at least one source and a destination`,
      location,
    );
  }
  const source = instruction.keyword === "COPY" && instruction.from
    ? await copySource(expand(instruction.from), instruction, context)
    : context.context;
  const sources = instruction.sources.map(expand);
  const rawDest = expand(instruction.destination);
  const wantsDir = rawDest.endsWith("/") || rawDest === "." || sources.length > 1;
  const resolvedDest = resolveAgainst(stage.workdir, rawDest);
  const dest = wantsDir && !resolvedDest.endsWith("/") ? `${resolvedDest}/` : resolvedDest;
  const chown = instruction.chown ? parseChown(expand(instruction.chown)) : undefined;
  const mode = instruction.chmod ? parseChmod(expand(instruction.chmod), location) : undefined;

  const actions = sources.map((src) =>
    copy(source, src, dest, {
      owner: chown,
      mode,
      followSymlinks: true,
      dirContentsOnly: true,
      allowWildcard: true,
      allowEmptyWildcard: false,
      createDestPath: true,
      excludePatterns: instruction.excludes.map(expand),
    })
  );
  stage.state = stage.state.describe(info).file(...actions);
  addHistory(stage.history, `${instruction.keyword} ${sources.join(" ")} ${dest}`, false);
}

async function copySource(
  from: string,
  instruction: CopyInstruction,
  context: ConvertContext,
): Promise<State> {
  const stage = context.stageByName(from);
  if (stage) return (await context.convertStage(stage)).state;
  try {
    const resolved = await context.resolveImage(from);
    return image(resolved.pinned, { platform: context.platform });
  } catch (error) {
    throw new DockerfileSyntaxError(
      `COPY --from=${from}: no stage with that name, and the image could not be resolved: ${
        (error as Error).message
      }`,
      {
        file: instruction.file,
        line: instruction.startLine,
        cause: error,
      },
    );
  }
}

function commandArgs(command: RunInstruction["command"], shell: string[]): string[] {
  return command.form === "exec" ? command.args : [...shell, command.script];
}

function parseChown(value: string): { user?: string; group?: string } {
  const [user, group] = value.split(":", 2);
  return { user: user || undefined, group: group || undefined };
}

function parseChmod(value: string, location: { file: string; line: number }): number {
  if (!/^[0-7]{3,4}$/.test(value)) {
    throw new DockerfileSyntaxError(
      `invalid --chmod "${value}": expected an octal mode such as 755`,
      location,
    );
  }
  return parseInt(value, 8);
}

function addHistory(history: ImageHistory[], createdBy: string, emptyLayer: boolean): void {
  history.push({
    created_by: createdBy,
    comment: "tsbuild",
    ...(emptyLayer ? { empty_layer: true } : {}),
  });
}
