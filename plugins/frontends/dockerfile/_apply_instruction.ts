/**
 * Applies one Dockerfile instruction to a stage being converted: RUN, COPY,
 * ADD and WORKDIR add ops; the rest change the image config or variables.
 *
 * @module
 */

import { git, mkdir, type OpInfo, source, type State } from "../../../core/graph/builder.ts";
import { DockerfileSyntaxError } from "../../../core/errors.ts";
import type {
  AddInstruction,
  ArgInstruction,
  EnvInstruction,
  Instruction,
  RunInstruction,
} from "./instructions.ts";
import { expandWords } from "./expand.ts";
import { isGitUrl, redactUrl, redactUrls, splitGitUrl } from "../../sources/git.ts";
import { resolveAgainst, setEnv, stageLookup, type StageState } from "./_stage_state.ts";
import type { ConvertContext, SourceLocation } from "./_convert_context.ts";
import { applyRun } from "./_run_instruction.ts";
import { applyCopy, type RemoteSource } from "./_copy_instruction.ts";
import { historyEntry } from "./_history.ts";

export type { ConvertContext } from "./_convert_context.ts";

/** Applies `instruction` to `stage`; `info` names it in progress and errors. */
export async function applyInstruction(
  stage: StageState,
  instruction: Instruction,
  context: ConvertContext,
  info: OpInfo,
): Promise<void> {
  const location = { file: instruction.file, line: instruction.startLine };
  const expand = (word: string) => context.located(location, () => context.expander(stage)(word));
  const settings = (stage.config.config ??= {});
  const history = (createdBy: string, emptyLayer: boolean) =>
    stage.history.push(historyEntry(createdBy, emptyLayer));

  switch (instruction.keyword) {
    case "RUN":
      return await applyRun(stage, instruction, context, info);
    case "COPY":
    case "ADD":
      return await applyCopyRedacted(stage, instruction, context, info);
    case "ENV":
      return applyEnv(stage, instruction, expand);
    case "ARG":
      return applyArg(stage, instruction, context, location);
    case "WORKDIR": {
      const path = resolveAgainst(stage.workdir, expand(instruction.path));
      stage.workdir = path;
      settings.WorkingDir = path;
      stage.state = stage.state.dir(path).describe(info).file(
        mkdir(path, 0o755, { parents: true }),
      );
      return void history(`WORKDIR ${path}`, false);
    }
    case "USER":
      stage.user = expand(instruction.user);
      settings.User = stage.user;
      stage.state = stage.state.user(stage.user);
      return void history(`USER ${stage.user}`, true);
    case "CMD":
      settings.Cmd = commandArgs(instruction.command, stage.shell);
      stage.cmdSetInStage = true;
      return void history(`CMD ${JSON.stringify(settings.Cmd)}`, true);
    case "ENTRYPOINT":
      settings.Entrypoint = commandArgs(instruction.command, stage.shell);
      // As in Docker, a new ENTRYPOINT drops the CMD inherited from the base image.
      if (!stage.cmdSetInStage) settings.Cmd = null;
      return void history(`ENTRYPOINT ${JSON.stringify(settings.Entrypoint)}`, true);
    case "SHELL":
      stage.shell = instruction.shell;
      settings.Shell = instruction.shell;
      return void history(`SHELL ${JSON.stringify(instruction.shell)}`, true);
    case "LABEL": {
      // Every pair is expanded before any is set, as in BuildKit.
      const pairs = instruction.pairs.map(({ key, value }) => [expand(key), expand(value)]);
      settings.Labels = { ...settings.Labels, ...Object.fromEntries(pairs) };
      return void history(
        `LABEL ${pairs.map(([key, value]) => `${key}=${value}`).join(" ")}`,
        true,
      );
    }
    case "EXPOSE": {
      settings.ExposedPorts = { ...settings.ExposedPorts };
      const lookup = stageLookup(stage);
      const ports = context.located(
        location,
        () =>
          instruction.ports.flatMap((text) =>
            expandWords(text, lookup, { escapeChar: context.escapeChar })
          ),
      );
      for (const port of ports) {
        if (!/^\d+(-\d+)?(\/(tcp|udp|sctp))?$/i.test(port)) {
          throw new DockerfileSyntaxError(
            `invalid port "${port}" in EXPOSE: expected PORT[/tcp|udp|sctp]`,
            location,
          );
        }
        settings.ExposedPorts[port.includes("/") ? port.toLowerCase() : `${port}/tcp`] = {};
      }
      return void history(`EXPOSE ${ports.join(" ")}`, true);
    }
    case "VOLUME": {
      const paths = instruction.paths.map(expand);
      settings.Volumes = { ...settings.Volumes };
      for (const path of paths) settings.Volumes[path] = {};
      return void history(`VOLUME ${JSON.stringify(paths)}`, true);
    }
    case "STOPSIGNAL":
      settings.StopSignal = expand(instruction.signal);
      return void history(`STOPSIGNAL ${settings.StopSignal}`, true);
    case "HEALTHCHECK":
      settings.Healthcheck = {
        Test: instruction.test,
        ...(instruction.interval ? { Interval: instruction.interval } : {}),
        ...(instruction.timeout ? { Timeout: instruction.timeout } : {}),
        ...(instruction.startPeriod ? { StartPeriod: instruction.startPeriod } : {}),
        ...(instruction.startInterval ? { StartInterval: instruction.startInterval } : {}),
        ...(instruction.retries ? { Retries: instruction.retries } : {}),
      };
      return void history(`HEALTHCHECK ${JSON.stringify(instruction.test)}`, true);
    case "ONBUILD":
      settings.OnBuild = [...(settings.OnBuild ?? []), instruction.expression];
      return void history(`ONBUILD ${instruction.expression}`, true);
    case "MAINTAINER":
      stage.config.author = instruction.maintainer;
      return void history(`MAINTAINER ${instruction.maintainer}`, true);
    case "FROM":
      throw new DockerfileSyntaxError("FROM inside a stage", location);
  }
}

// ENV expands every pair with the variables from before the instruction, so in
// `ENV A=1 B=$A` the B gets the earlier A, as in BuildKit.
function applyEnv(
  stage: StageState,
  instruction: EnvInstruction,
  expand: (word: string) => string,
): void {
  const pairs = instruction.pairs.map(({ key, value }) => [expand(key), expand(value)] as const);
  for (const [key, value] of pairs) {
    stage.env = setEnv(stage.env, key, value);
    stage.vars = setEnv(stage.vars, key, value);
  }
  (stage.config.config ??= {}).Env = [...stage.env];
  stage.history.push(
    historyEntry(`ENV ${pairs.map(([key, value]) => `${key}=${value}`).join(" ")}`, true),
  );
}

// ARG takes, in order: the build argument, the default (expanded with the variables so far,
// earlier names of the same ARG included), or the value of a global ARG of the same name.
// A value becomes a variable for RUN steps and expansion but stays out of the image config.
function applyArg(
  stage: StageState,
  instruction: ArgInstruction,
  context: ConvertContext,
  location: SourceLocation,
): void {
  for (const arg of instruction.args) {
    let value: string | undefined;
    if (Object.hasOwn(context.buildArgs, arg.name)) {
      value = context.buildArgs[arg.name];
      context.usedBuildArgs.add(arg.name);
    } else if (arg.defaultValue !== undefined) {
      const raw = arg.defaultValue;
      value = context.located(location, () => context.expander(stage)(raw));
    } else {
      value = context.globals.get(arg.name);
    }
    if (value !== undefined) stage.vars = setEnv(stage.vars, arg.name, value);
    stage.args = [...stage.args.filter((known) => known.name !== arg.name), {
      name: arg.name,
      value,
    }];
  }
}

// A git URL may carry credentials, which must stay out of progress, cache records and history.
async function applyCopyRedacted(
  stage: StageState,
  instruction: Instruction & { keyword: "COPY" | "ADD" },
  context: ConvertContext,
  info: OpInfo,
): Promise<void> {
  const description = info.description && redactUrls(info.description);
  await applyCopy(stage, instruction, context, { ...info, description }, remoteAddSource);
  const last = stage.history.at(-1);
  if (last?.created_by) last.created_by = redactUrls(last.created_by);
}

/**
 * Returns the state of an ADD source fetched from elsewhere: a git
 * repository (BuildKit's rule for what is a git URL) or an HTTP(S) URL,
 * which is downloaded and, unless `--unpack`, not extracted.
 */
function remoteAddSource(
  src: string,
  instruction: AddInstruction,
  options: { checksum?: string; location: SourceLocation },
): RemoteSource | undefined {
  if (isGitUrl(src)) return { state: gitRepository(src, instruction), path: "/", unpack: false };
  if (!/^https?:\/\//i.test(src)) return undefined;

  const filename = urlFilename(src);
  const attrs: Record<string, string> = { filename };
  if (options.checksum) attrs.checksum = options.checksum;
  const state = source(src, attrs, {
    description: `[internal] load remote file ${redactUrl(src)}`,
  });
  return { state, path: `/${filename}`, unpack: instruction.unpack ?? false };
}

// As in BuildKit: the last segment of the URL's path, or "__unnamed__" when it has none.
function urlFilename(src: string): string {
  let path = "";
  try {
    path = decodeURIComponent(new URL(src).pathname);
  } catch {
    return "__unnamed__";
  }
  const base = path.split("/").filter(Boolean).at(-1);
  return base && base !== "." ? base : "__unnamed__";
}

function gitRepository(src: string, instruction: AddInstruction): State {
  const { url, ref, subdir } = splitGitUrl(src);
  return git(url, {
    ref,
    subdir,
    keepGitDir: instruction.keepGitDir ?? false,
    info: { description: `[internal] load git source ${redactUrl(src)}` },
  });
}

function commandArgs(command: RunInstruction["command"], shell: string[]): string[] {
  return command.form === "exec" ? command.args : [...shell, command.script];
}
