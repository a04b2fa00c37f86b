/**
 * Converts COPY and ADD into file ops: sources from the build context, a
 * stage, an image, a URL or a heredoc, with `--chown`, `--chmod`, `--link`,
 * `--exclude`, `--parents`, `--checksum` and `--unpack` as BuildKit reads them.
 *
 * @module
 */

import {
  copy,
  type CopyOptions,
  type FileAction,
  merge,
  mkfile,
  type OpInfo,
  scratch,
  type State,
} from "../../../core/graph/builder.ts";
import { posix } from "../../../core/deps.ts";
import { DockerfileSyntaxError } from "../../../core/errors.ts";
import type { AddInstruction, CopyInstruction } from "./instructions.ts";
import type { Heredoc } from "./parser.ts";
import { expandWord } from "./expand.ts";
import type { ConvertContext, SourceLocation } from "./_convert_context.ts";
import { historyEntry } from "./_history.ts";
import { resolveAgainst, stageLookup, type StageState } from "./_stage_state.ts";

/** A source that ADD fetches from elsewhere than the build context. */
export interface RemoteSource {
  state: State;
  /** The path of the fetched content inside `state`. */
  path: string;
  /** Extract the fetched file when it is an archive. */
  unpack: boolean;
}

/**
 * Returns the state of a remote ADD source (a URL or a git repository), or
 * undefined for a path in the build context.
 */
export type RemoteSourceResolver = (
  source: string,
  instruction: AddInstruction,
  options: { checksum?: string; location: SourceLocation },
) => RemoteSource | undefined;

/** Applies a COPY or ADD instruction to `stage`. */
export async function applyCopy(
  stage: StageState,
  instruction: CopyInstruction | AddInstruction,
  context: ConvertContext,
  info: OpInfo,
  remoteSource: RemoteSourceResolver,
): Promise<void> {
  const location = { file: instruction.file, line: instruction.startLine };
  const expand = context.expander(stage);
  if (instruction.sources.length === 0 && instruction.heredocSources.length === 0) {
    throw new DockerfileSyntaxError(
      `${instruction.keyword} requires at least one source and a destination`,
      location,
    );
  }

  const sources = context.located(location, () => instruction.sources.map(expand));
  const rawDest = context.located(location, () => expand(instruction.destination));
  const chown = context.located(location, () => expand(instruction.chown ?? ""));
  const chmod = context.located(location, () => expand(instruction.chmod ?? ""));
  const checksum = instruction.keyword === "ADD"
    ? context.located(location, () => expand(instruction.checksum ?? ""))
    : "";
  const sourceCount = sources.length + instruction.heredocSources.length;
  const dest = destinationPath(stage.workdir, rawDest, sourceCount > 1);
  const options: CopyOptions = {
    owner: chown ? parseChown(chown) : undefined,
    mode: chmod ? parseChmod(chmod, location) : undefined,
    createDestPath: true,
  };
  checkChecksum(instruction, sources, checksum, location);

  const actions: FileAction[] = [];
  const base = await copyBase(instruction, context, stage, location);
  for (const source of sources) {
    const remote = instruction.keyword === "ADD"
      ? remoteSource(source, instruction, { checksum: checksum || undefined, location })
      : rejectRemote(source, location);
    if (remote) {
      actions.push(
        copy(remote.state, remote.path, dest, { ...options, attemptUnpack: remote.unpack }),
      );
      continue;
    }
    actions.push(localCopy(base, source, dest, options, instruction, location));
  }
  for (const heredoc of instruction.heredocSources) {
    actions.push(heredocCopy(heredoc, dest, options, stage, context, location));
  }

  if (instruction.link && !chmod) {
    // As in BuildKit: the copy made on scratch, then a merge named "LINK COPY ...".
    const layer = scratch().platform(stage.platform).describe(info).file(...actions);
    const description = info.description?.replace(/^(\[[^\]]*\] )?/, "$1LINK ");
    stage.state = merge([stage.state, layer], { ...info, description });
  } else {
    stage.state = stage.state.describe(info).file(...actions);
  }
  stage.history.push(
    historyEntry(commitMessage(instruction, chown, chmod, sources, rawDest), false),
  );
}

// A trailing slash in the destination makes it a directory, and so do "." and "" (the working
// directory itself) and several sources.
function destinationPath(workdir: string, raw: string, several: boolean): string {
  const wantsDir = raw.endsWith("/") || raw === "." || raw === "" || several;
  const resolved = resolveAgainst(workdir, raw === "" ? "." : raw);
  return wantsDir && !resolved.endsWith("/") ? `${resolved}/` : resolved;
}

async function copyBase(
  instruction: CopyInstruction | AddInstruction,
  context: ConvertContext,
  stage: StageState,
  location: SourceLocation,
): Promise<State> {
  if (instruction.keyword !== "COPY" || instruction.from === undefined) return context.context;
  const from = instruction.from;
  if (expandWord(from, () => undefined, { escapeChar: context.escapeChar }) !== from) {
    throw new DockerfileSyntaxError(
      "variable expansion is not supported for --from: define a stage with " +
        "FROM using an ARG from the global scope instead",
      location,
    );
  }
  return await context.located(location, () => context.stateFor(from, stage.platform));
}

function localCopy(
  base: State,
  source: string,
  dest: string,
  options: CopyOptions,
  instruction: CopyInstruction | AddInstruction,
  location: SourceLocation,
): FileAction {
  const unpack = instruction.keyword === "ADD" ? instruction.unpack ?? true : false;
  const excludePatterns = instruction.excludes;
  const common: CopyOptions = {
    ...options,
    followSymlinks: true,
    dirContentsOnly: true,
    allowWildcard: true,
    allowEmptyWildcard: true,
    excludePatterns,
    attemptUnpack: unpack,
  };
  if (instruction.keyword !== "COPY" || !instruction.parents) {
    return copy(base, source, dest, common);
  }

  // With --parents, the source's path is kept below the destination. A "/./" in the source
  // marks where the kept part starts; without one, the whole path is kept.
  const pivot = source.indexOf("/./");
  const root = pivot < 0 ? "/" : source.slice(0, pivot) || "/";
  const pattern = posix.normalize(`/${pivot < 0 ? source : source.slice(pivot + 3)}`).slice(1);
  if (pattern === "" || pattern.startsWith("..")) {
    throw new DockerfileSyntaxError(`invalid --parents source "${source}"`, location);
  }
  return copy(base, root, dest, { ...common, includePatterns: [pattern] });
}

function heredocCopy(
  heredoc: Heredoc,
  dest: string,
  options: CopyOptions,
  stage: StageState,
  context: ConvertContext,
  location: SourceLocation,
): FileAction {
  // As in BuildKit, an unquoted delimiter expands variables in the body, where quotes are
  // ordinary characters.
  const data = heredoc.expand
    ? context.located(
      location,
      () => expandWord(heredoc.content, stageLookup(stage), { processQuotes: false }),
    )
    : heredoc.content;
  const name = heredoc.name.replace(/^\/+/, "");
  const file = scratch().platform(stage.platform).describe({
    description: "[internal] preparing inline document",
  }).file(mkfile(`/${name}`, 0o644, data));
  return copy(file, `/${name}`, dest, { ...options, createDestPath: true });
}

function rejectRemote(source: string, location: SourceLocation): undefined {
  if (/^https?:\/\//i.test(source)) {
    throw new DockerfileSyntaxError(
      `COPY cannot fetch the URL "${source}": use ADD for remote sources`,
      location,
    );
  }
  return undefined;
}

function checkChecksum(
  instruction: CopyInstruction | AddInstruction,
  sources: string[],
  checksum: string,
  location: SourceLocation,
): void {
  if (!checksum) return;
  if (sources.length !== 1) {
    throw new DockerfileSyntaxError("ADD --checksum needs exactly one source", location);
  }
  if (!/^(https?|git):\/\//i.test(sources[0]) && !sources[0].startsWith("git@")) {
    throw new DockerfileSyntaxError(
      `ADD --checksum requires an HTTP(S) or git source, not "${sources[0]}"`,
      location,
    );
  }
  if (instruction.keyword === "ADD" && /^https?:\/\//i.test(sources[0])) {
    if (!/^sha256:[0-9a-f]{64}$/.test(checksum)) {
      throw new DockerfileSyntaxError(
        `invalid --checksum "${checksum}": expected "sha256:" and 64 hexadecimal digits`,
        location,
      );
    }
  }
}

/** Splits `--chown=user:group`; numbers are ids, names are looked up in the stage's /etc files. */
export function parseChown(value: string): { user?: string; group?: string } {
  const colon = value.indexOf(":");
  const user = colon < 0 ? value : value.slice(0, colon);
  const group = colon < 0 ? "" : value.slice(colon + 1);
  return { user: user || undefined, group: group || undefined };
}

/**
 * Parses `--chmod` as an octal mode up to 07777, as BuildKit's strconv.ParseUint(value, 8, 32).
 *
 * NOTE: BuildKit also takes symbolic modes such as "u+x"; they are rejected here.
 */
export function parseChmod(value: string, location: SourceLocation): number {
  if (/^[0-7]+$/.test(value)) {
    const mode = parseInt(value, 8);
    if (mode <= 0o7777) return mode;
  }
  const symbolic = /^[ugoa]*[-+=]/.test(value);
  throw new DockerfileSyntaxError(
    symbolic
      ? `unsupported --chmod "${value}": tsbuild takes octal modes only, such as 755`
      : `invalid --chmod "${value}": expected an octal mode from 0 to 7777, such as 755`,
    location,
  );
}

function commitMessage(
  instruction: CopyInstruction | AddInstruction,
  chown: string,
  chmod: string,
  sources: string[],
  dest: string,
): string {
  const parts: string[] = [instruction.keyword];
  if (instruction.keyword === "COPY" && instruction.parents) parts.push("--parents");
  if (chown) parts.push(`--chown=${chown}`);
  if (chmod) parts.push(`--chmod=${chmod}`);
  parts.push(...sources, ...instruction.heredocSources.map((heredoc) => `<<${heredoc.name}`), dest);
  return parts.join(" ");
}
