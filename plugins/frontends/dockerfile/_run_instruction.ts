/**
 * Converts RUN: the command with its heredocs, `--mount` options, `--network`
 * and `--security`, into an exec op on the stage.
 *
 * @module
 */

import {
  mkdir,
  mkfile,
  type OpInfo,
  type RunMount,
  scratch,
  type State,
} from "../../../core/graph/builder.ts";
import { posix } from "../../../core/deps.ts";
import { DockerfileSyntaxError } from "../../../core/errors.ts";
import type { RunInstruction } from "./instructions.ts";
import { parseHeredocMarker } from "./_heredoc.ts";
import type { ConvertContext } from "./_convert_context.ts";
import { type MountSpec, parseMountSpec } from "./_run_mounts.ts";
import { envValue, runEnvironment, setEnv, type StageState } from "./_stage_state.ts";
import { historyEntry, runHistoryCommand } from "./_history.ts";

/** The mount point of heredoc scripts that start with `#!`, as in BuildKit. */
const HEREDOC_SCRIPT_DIR = "/dev/pipes";

/** Applies a RUN instruction to `stage`. */
export async function applyRun(
  stage: StageState,
  instruction: RunInstruction,
  context: ConvertContext,
  info: OpInfo,
): Promise<void> {
  const location = { file: instruction.file, line: instruction.startLine };
  if (instruction.security === "insecure") {
    throw new DockerfileSyntaxError(
      "RUN --security=insecure is not supported: tsbuild runs every step in a sandbox",
      location,
    );
  }

  const { args, mounts: scriptMounts, summary } = runArgs(stage, instruction);
  const specs = instruction.mounts.map((text) =>
    context.located(location, () => parseMountSpec(text, context.expander(stage)))
  );
  const mounts = [...scriptMounts];
  let sshIndex = 0;
  for (const spec of specs) {
    mounts.push(await context.located(location, () => runMount(spec, stage, context, sshIndex)));
    if (spec.type === "ssh") sshIndex++;
  }

  let env = runEnvironment(stage);
  const firstSsh = mounts.find((mount) => mount.type === "ssh");
  if (firstSsh && envValue(env, "SSH_AUTH_SOCK") === undefined) {
    env = setEnv(env, "SSH_AUTH_SOCK", firstSsh.dest);
  }

  stage.state = stage.state.run({
    args,
    env,
    cwd: stage.workdir,
    user: stage.user,
    network: instruction.network,
    mounts,
    info: summary ? { ...info, description: `${info.description} (${summary})` } : info,
  });
  stage.history.push(historyEntry(`RUN ${runHistoryCommand(stage, args)}`, false));
}

/**
 * Returns the process's arguments. As in BuildKit, a RUN whose whole command
 * is one heredoc runs the body: as a script file when it starts with `#!`,
 * else with the stage's shell. Other heredocs are handed to the shell with
 * their bodies, which the shell reads itself.
 */
function runArgs(
  stage: StageState,
  instruction: RunInstruction,
): { args: string[]; mounts: RunMount[]; summary?: string } {
  const command = instruction.command;
  if (command.form === "exec") {
    if (command.args.length === 0) {
      throw new DockerfileSyntaxError("RUN requires a command", {
        file: instruction.file,
        line: instruction.startLine,
      });
    }
    return { args: command.args, mounts: [] };
  }
  if (instruction.heredocs.length === 0) {
    return { args: [...stage.shell, command.script], mounts: [] };
  }

  const only = singleHeredoc(command.script);
  if (!only) {
    const script = command.script +
      instruction.heredocs.map((heredoc) => `\n${heredoc.content}${heredoc.name}`).join("");
    return { args: [...stage.shell, script], mounts: [] };
  }
  const body = instruction.heredocs[0];
  const summary = summarizeHeredoc(body.content);
  if (!body.content.startsWith("#!")) {
    return { args: [...stage.shell, body.content], mounts: [], summary };
  }
  const name = body.name.replace(/^\/+/, "");
  const scriptState = scratch().platform(stage.platform).describe({
    description: "[internal] preparing inline document",
  }).file(mkfile(`/${name}`, 0o755, body.content));
  const mount: RunMount = { dest: HEREDOC_SCRIPT_DIR, from: scriptState, readonly: true };
  return { args: [posix.join(HEREDOC_SCRIPT_DIR, name)], mounts: [mount], summary };
}

function singleHeredoc(script: string): boolean {
  try {
    return parseHeredocMarker(script.trim(), "\\") !== undefined;
  } catch {
    return false;
  }
}

function summarizeHeredoc(content: string): string {
  const lines = content.trim().replaceAll("\r\n", "\n").split("\n");
  return lines.length > 1 ? `${lines[0]}...` : lines[0];
}

/** Converts one parsed `--mount` into a mount of the exec op. */
async function runMount(
  spec: MountSpec,
  stage: StageState,
  context: ConvertContext,
  sshIndex: number,
): Promise<RunMount> {
  if (spec.type === "secret") return secretMount(spec);
  if (spec.type === "ssh") return sshMount(spec, sshIndex);

  const target = mountTarget(spec, stage);
  if (spec.type === "tmpfs") return { dest: target, type: "tmpfs", tmpfs: { size: spec.size } };
  const source = posix.join("/", spec.source ?? "");
  let from: State | undefined = spec.from === undefined
    ? (spec.type === "cache" ? undefined : context.context)
    : await context.stateFor(spec.from, stage.platform);
  if (spec.type === "bind") {
    return {
      dest: target,
      type: "bind",
      from,
      selector: sourceSelector(source),
      readonly: spec.readonly,
    };
  }

  let selector = sourceSelector(source);
  if (
    selector === undefined &&
    (spec.uid !== undefined || spec.gid !== undefined || spec.mode !== undefined)
  ) {
    // As in BuildKit, the cache's owner and mode come from a directory it starts as a copy of.
    from = (from ?? scratch().platform(stage.platform)).describe({
      description: "[internal] setting cache mount permissions",
    }).file(
      mkdir("/cache", spec.mode ?? 0o755, {
        owner: { user: String(spec.uid ?? 0), group: String(spec.gid ?? 0) },
      }),
    );
    selector = "/cache";
  }
  const id = spec.id || posix.normalize(spec.target ?? "");
  const namespace = context.cacheNamespace;
  return {
    dest: target,
    type: "cache",
    from,
    selector,
    readonly: spec.readonly,
    cache: { id: namespace ? `${namespace}/${id}` : id, sharing: spec.sharing ?? "shared" },
  };
}

function sourceSelector(source: string): string | undefined {
  return source === "/" ? undefined : source;
}

// A relative target is taken from the working directory, as BuildKit does.
function mountTarget(spec: MountSpec, stage: StageState): string {
  const raw = spec.target ?? "";
  const target = raw.startsWith("/") ? posix.normalize(raw) : posix.join("/", stage.workdir, raw);
  const cleaned = target.length > 1 ? target.replace(/\/+$/, "") : target;
  if (cleaned === "/") throw new SyntaxError(`invalid mount target "${raw || "/"}"`);
  return cleaned;
}

function secretMount(spec: MountSpec): RunMount {
  const id = spec.source || spec.id || (spec.target ? posix.basename(spec.target) : "");
  if (!id) throw new SyntaxError("invalid secret mount: one of id, source or target is required");
  // Without env the secret is a file at the target or /run/secrets/<id>; with env it is a
  // file only when a target is given too.
  const dest = spec.target ?? (spec.env === undefined ? `/run/secrets/${posix.basename(id)}` : "");
  return {
    dest,
    type: "secret",
    secret: {
      id,
      uid: spec.uid ?? 0,
      gid: spec.gid ?? 0,
      mode: spec.mode ?? 0o400,
      optional: !spec.required,
      ...(spec.env !== undefined ? { env: spec.env } : {}),
    },
  };
}

function sshMount(spec: MountSpec, index: number): RunMount {
  if (spec.source) throw new SyntaxError("an ssh mount does not support source");
  return {
    dest: spec.target || `/run/buildkit/ssh_agent.${index}`,
    type: "ssh",
    ssh: {
      id: spec.id || "default",
      uid: spec.uid ?? 0,
      gid: spec.gid ?? 0,
      mode: spec.mode ?? 0o600,
      optional: !spec.required,
    },
  };
}
