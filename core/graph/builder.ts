/**
 * The graph builder: immutable states that describe filesystems and how to
 * make them, marshalled into the Definition the solver runs.
 *
 * Nothing runs while a graph is built. Each method returns a new state linked
 * to the previous one, and {@link State.marshal} encodes the ops that the final
 * state depends on, each once, leaves first.
 *
 * @module
 */

import { create } from "@bufbuild/protobuf";
import type { Digest } from "../digest.ts";
import { createDefinition, encodeOp } from "./definition.ts";
import {
  CacheSharing,
  type Definition,
  type FileAction as FileActionMessage,
  FileActionSchema,
  type Input,
  InputSchema,
  type Mount as MountMessage,
  MountSchema,
  MountType,
  NetworkMode,
  type Op,
  OpMetadataSchema,
  OpSchema,
  type Platform,
} from "./gen/tsbuild/graph/v1/definition_pb.ts";

/** A target platform for an op, as in an OCI image index. */
export interface PlatformSpec {
  os: string;
  architecture: string;
  variant?: string;
}

/** Information about an op that does not change its result. */
export interface OpInfo {
  /** The op's name in progress output. */
  description?: string;
  /** The op's source location, e.g. "Dockerfile:3". */
  location?: string;
  /** Run the op even when a cached result exists. */
  ignoreCache?: boolean;
}

interface Vertex {
  inputs: Vertex[];
  make(inputs: Input[]): Op;
  info: OpInfo;
}

interface ExecContext {
  env: string[];
  cwd: string;
  user: string;
  platform?: PlatformSpec;
  info: OpInfo;
}

const DEFAULT_CONTEXT: ExecContext = { env: [], cwd: "/", user: "", info: {} };

/** Ownership for files a file action creates: names or numeric ids. */
export interface Owner {
  user?: string;
  group?: string;
}

/** A filesystem state: the output of an op, or scratch (an empty filesystem). */
export class State {
  readonly #vertex: Vertex | undefined;
  readonly #context: ExecContext;

  /** @internal Use {@link scratch}, {@link image} or {@link local} to create states. */
  constructor(vertex: Vertex | undefined, context: ExecContext = DEFAULT_CONTEXT) {
    this.#vertex = vertex;
    this.#context = context;
  }

  /** Returns this state with `KEY=value` added to the environment of later `run()` calls. */
  env(key: string, value: string): State {
    const env = this.#context.env.filter((entry) => !entry.startsWith(`${key}=`));
    return this.#with({ env: [...env, `${key}=${value}`] });
  }

  /** Returns the environment later `run()` calls receive, as `KEY=value` entries. */
  get environment(): readonly string[] {
    return this.#context.env;
  }

  /** Returns this state with the working directory of later `run()` calls set; relative paths join the current one. */
  dir(path: string): State {
    const cwd = path.startsWith("/") ? path : `${this.#context.cwd.replace(/\/$/, "")}/${path}`;
    return this.#with({ cwd });
  }

  /** Returns this state with the user of later `run()` calls set ("name", "uid" or "uid:gid"). */
  user(user: string): State {
    return this.#with({ user });
  }

  /** Returns this state with the platform of later ops set. */
  platform(platform: PlatformSpec): State {
    return this.#with({ platform });
  }

  /** Returns this state with the progress description and location of the next op set. */
  describe(info: OpInfo): State {
    return this.#with({ info });
  }

  /** Returns a state whose filesystem is this one after running a process in it. */
  run(options: RunOptions): State {
    const args = typeof options.args === "string" ? ["/bin/sh", "-c", options.args] : options.args;
    const mounts = options.mounts ?? [];
    const inputs: Vertex[] = [];
    const indexOf = (state: State | undefined): number => {
      const vertex = state ? state.#vertex : undefined;
      if (!vertex) return -1;
      const found = inputs.indexOf(vertex);
      if (found >= 0) return found;
      inputs.push(vertex);
      return inputs.length - 1;
    };
    const rootInput = indexOf(this);
    const mountInputs = mounts.map((mount) => indexOf(mount.from));
    const context = this.#context;
    const info = { ...context.info, ...options.info };

    const make = (inputDigests: Input[]): Op =>
      create(OpSchema, {
        inputs: inputDigests,
        platform: platformMessage(context.platform),
        op: {
          case: "exec",
          value: {
            meta: {
              args,
              env: options.env ?? context.env,
              cwd: options.cwd ?? context.cwd,
              user: options.user ?? context.user,
              hostname: options.hostname ?? "",
            },
            network: networkMode(options.network),
            mounts: [
              create(MountSchema, { input: rootInput, dest: "/", type: MountType.BIND }),
              ...mounts.map((mount, i) => mountMessage(mount, mountInputs[i])),
            ],
          },
        },
      });
    return new State({ inputs, make, info }, { ...context, info: {} });
  }

  /** Returns a state whose filesystem is this one after the given file actions, applied in order. */
  file(...actions: FileAction[]): State {
    const inputs: Vertex[] = [];
    const indexOf = (state: State): number => {
      const vertex = state.#vertex;
      if (!vertex) return -1;
      const found = inputs.indexOf(vertex);
      if (found >= 0) return found;
      inputs.push(vertex);
      return inputs.length - 1;
    };
    const baseInput = indexOf(this);
    const messages = actions.map((action) => fileActionMessage(action, indexOf));
    const context = this.#context;

    const make = (inputDigests: Input[]): Op =>
      create(OpSchema, {
        inputs: inputDigests,
        platform: platformMessage(context.platform),
        op: { case: "file", value: { actions: messages, baseInput } },
      });
    return new State({ inputs, make, info: context.info }, { ...context, info: {} });
  }

  /** Encodes this state and everything it depends on into a Definition. */
  marshal(options: MarshalOptions = {}): Definition {
    const definition = createDefinition();
    const digests = new Map<Vertex, Digest>();
    const visit = (vertex: Vertex): Digest => {
      const known = digests.get(vertex);
      if (known) return known;
      const inputs = vertex.inputs.map((input) =>
        create(InputSchema, { digest: visit(input), index: 0 })
      );
      const { bytes, digest } = encodeOp(vertex.make(inputs));
      digests.set(vertex, digest);
      if (!definition.metadata[digest]) {
        definition.ops.push(bytes);
        const { description, location, ignoreCache } = vertex.info;
        if (description || location || ignoreCache) {
          definition.metadata[digest] = create(OpMetadataSchema, {
            description: description ?? "",
            location: location ?? "",
            ignoreCache: ignoreCache ?? false,
          });
        }
      }
      return digest;
    };

    if (this.#vertex) {
      definition.output = create(InputSchema, { digest: visit(this.#vertex), index: 0 });
    }
    if (options.imageConfig) {
      definition.imageConfig = new TextEncoder().encode(JSON.stringify(options.imageConfig));
    }
    for (const [key, value] of Object.entries(options.attributes ?? {})) {
      definition.attributes[key] = value;
    }
    return definition;
  }

  /** @internal Use {@link merge}. */
  static mergeStates(states: State[], info: OpInfo): State {
    const context = states.length > 0 ? states[0].#context : DEFAULT_CONTEXT;
    const inputs = states.flatMap((state) => state.#vertex ? [state.#vertex] : []);
    if (inputs.length <= 1) return new State(inputs[0], { ...context, info: {} });

    const make = (inputDigests: Input[]): Op =>
      create(OpSchema, {
        inputs: inputDigests,
        platform: platformMessage(context.platform),
        op: { case: "merge", value: {} },
      });
    return new State({ inputs, make, info }, { ...context, info: {} });
  }

  #with(change: Partial<ExecContext>): State {
    return new State(this.#vertex, { ...this.#context, ...change });
  }

  /** @internal */
  static sourceState(
    identifier: string,
    attrs: Record<string, string>,
    info: OpInfo,
    platform?: PlatformSpec,
  ): State {
    const sortedAttrs = Object.fromEntries(
      Object.entries(attrs).sort(([a], [b]) => (a < b ? -1 : 1)),
    );
    const make = (): Op =>
      create(OpSchema, {
        platform: platformMessage(platform),
        op: { case: "source", value: { identifier, attrs: sortedAttrs } },
      });
    return new State({ inputs: [], make, info }, { ...DEFAULT_CONTEXT, platform });
  }
}

/** Options for {@link State.marshal}: what the Definition carries besides the ops. */
export interface MarshalOptions {
  /** The OCI image config (env, cmd, labels, history, ...) the result should carry. */
  imageConfig?: Record<string, unknown>;
  /** Build-wide values for exporters, such as `context.digest`. */
  attributes?: Record<string, string>;
}

/** A mount for {@link State.run} besides the root filesystem. */
export interface RunMount {
  dest: string;
  type?: "bind" | "cache" | "tmpfs" | "secret" | "ssh";
  /** The state to mount; omitted means an empty directory. */
  from?: State;
  /** Path inside `from` to mount. */
  selector?: string;
  readonly?: boolean;
  cache?: { id: string; sharing?: "shared" | "private" | "locked" };
  secret?: {
    id: string;
    uid?: number;
    gid?: number;
    mode?: number;
    optional?: boolean;
    env?: string;
  };
  tmpfs?: { size?: number };
  /** For an ssh mount: which forwarded agent, and the socket's owner and mode (default 0600). */
  ssh?: { id?: string; uid?: number; gid?: number; mode?: number; optional?: boolean };
}

/** Options for {@link State.run}. */
export interface RunOptions {
  /** Argument vector, or a shell command run with `/bin/sh -c`. */
  args: string[] | string;
  env?: string[];
  cwd?: string;
  user?: string;
  hostname?: string;
  /**
   * "default" and "host" both run in the host's network namespace; "host" is recorded as such,
   * so the two give different cache keys, as in BuildKit.
   * @default "default"
   */
  network?: "host" | "none" | "default";
  mounts?: RunMount[];
  info?: OpInfo;
}

/** A file action for {@link State.file}. */
export type FileAction =
  | { kind: "copy"; from: State; src: string; dest: string; options: CopyOptions }
  | { kind: "mkdir"; path: string; mode: number; parents: boolean; owner?: Owner }
  | { kind: "mkfile"; path: string; mode: number; data: Uint8Array; owner?: Owner }
  | { kind: "rm"; path: string; allowNotFound: boolean; allowWildcard: boolean };

/** Options for {@link copy}. */
export interface CopyOptions {
  owner?: Owner;
  /** Permission bits for every copied entry; omitted keeps the source's. */
  mode?: number;
  followSymlinks?: boolean;
  dirContentsOnly?: boolean;
  allowWildcard?: boolean;
  allowEmptyWildcard?: boolean;
  createDestPath?: boolean;
  excludePatterns?: string[];
  /** When not empty, copy only entries matching one of these patterns, relative to `src`. */
  includePatterns?: string[];
  /** Extract `src` into `dest` when it is a tar archive, as Dockerfile ADD does. */
  attemptUnpack?: boolean;
}

/** Describes copying `src` (a path or wildcard in `from`) to `dest`. */
export function copy(
  from: State,
  src: string,
  dest: string,
  options: CopyOptions = {},
): FileAction {
  return { kind: "copy", from, src, dest, options };
}

/** Describes creating the directory `path`. */
export function mkdir(
  path: string,
  mode = 0o755,
  options: { parents?: boolean; owner?: Owner } = {},
): FileAction {
  return { kind: "mkdir", path, mode, parents: options.parents ?? true, owner: options.owner };
}

/** Describes creating the file `path` with `data`. */
export function mkfile(
  path: string,
  mode: number,
  data: Uint8Array | string,
  options: { owner?: Owner } = {},
): FileAction {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  return { kind: "mkfile", path, mode, data: bytes, owner: options.owner };
}

/** Describes removing `path`. */
export function rm(
  path: string,
  options: { allowNotFound?: boolean; allowWildcard?: boolean } = {},
): FileAction {
  return {
    kind: "rm",
    path,
    allowNotFound: options.allowNotFound ?? false,
    allowWildcard: options.allowWildcard ?? false,
  };
}

/**
 * Returns the filesystems of `states` stacked: the first one's, then the layers of each later
 * one on top, copied as they are. A layer made on scratch therefore stays the same when the
 * states below it change, which is what `COPY --link` relies on. Environment, working directory
 * and platform come from the first state; scratch states add nothing.
 */
export function merge(states: State[], info: OpInfo = {}): State {
  return State.mergeStates(states, info);
}

/** Returns an empty filesystem. */
export function scratch(): State {
  return new State(undefined);
}

/** Options for {@link image}. */
export interface ImageOptions {
  platform?: PlatformSpec;
  info?: OpInfo;
}

/** Returns the filesystem of a registry image, e.g. `image("127.0.0.1:5000/busybox:1")`. */
export function image(reference: string, options: ImageOptions = {}): State {
  return State.sourceState(`docker-image://${reference}`, {}, options.info ?? {}, options.platform);
}

/** Options for {@link local}. */
export interface LocalOptions {
  /** Patterns of paths to include; omitted includes everything. */
  include?: string[];
  /** Patterns of paths to leave out, in `.dockerignore` syntax. */
  exclude?: string[];
  info?: OpInfo;
}

/** Returns the filesystem of the local directory passed to the build as `name` (`--local name=DIR`). */
export function local(name: string, options: LocalOptions = {}): State {
  const attrs: Record<string, string> = {};
  if (options.include?.length) attrs["include-patterns"] = JSON.stringify(options.include);
  if (options.exclude?.length) attrs["exclude-patterns"] = JSON.stringify(options.exclude);
  return State.sourceState(`local://${name}`, attrs, options.info ?? {});
}

/** Options for {@link git}. */
export interface GitOptions {
  /** Branch, tag or commit. @default "HEAD" */
  ref?: string;
  subdir?: string;
  keepGitDir?: boolean;
  info?: OpInfo;
}

/** Returns the files of a git repository at a reference. */
export function git(url: string, options: GitOptions = {}): State {
  const attrs: Record<string, string> = {};
  if (options.ref) attrs.ref = options.ref;
  if (options.subdir) attrs.subdir = options.subdir;
  if (options.keepGitDir) attrs["keep-git-dir"] = "true";
  return State.sourceState(`git://${url}`, attrs, options.info ?? {});
}

/** Returns a state for any source plugin's identifier, e.g. `source("myscheme://thing")`. */
export function source(
  identifier: string,
  attrs: Record<string, string> = {},
  info: OpInfo = {},
): State {
  return State.sourceState(identifier, attrs, info);
}

function platformMessage(platform: PlatformSpec | undefined): Platform | undefined {
  if (!platform) return undefined;
  return {
    $typeName: "tsbuild.graph.v1.Platform",
    os: platform.os,
    architecture: platform.architecture,
    variant: platform.variant ?? "",
  };
}

function networkMode(network: RunOptions["network"]): NetworkMode {
  if (network === "none") return NetworkMode.NONE;
  return network === "host" ? NetworkMode.HOST : NetworkMode.UNSPECIFIED;
}

const SHARING = {
  shared: CacheSharing.SHARED,
  private: CacheSharing.PRIVATE,
  locked: CacheSharing.LOCKED,
};
const MOUNT_TYPES = {
  bind: MountType.BIND,
  cache: MountType.CACHE,
  tmpfs: MountType.TMPFS,
  secret: MountType.SECRET,
  ssh: MountType.SSH,
};

function mountMessage(mount: RunMount, input: number): MountMessage {
  return create(MountSchema, {
    input,
    dest: mount.dest,
    selector: mount.selector ?? "",
    readonly: mount.readonly ?? false,
    type: MOUNT_TYPES[mount.type ?? "bind"],
    cache: mount.cache
      ? { id: mount.cache.id, sharing: SHARING[mount.cache.sharing ?? "shared"] }
      : undefined,
    secret: mount.secret
      ? {
        id: mount.secret.id,
        uid: mount.secret.uid ?? 0,
        gid: mount.secret.gid ?? 0,
        mode: mount.secret.mode ?? 0o400,
        optional: mount.secret.optional ?? false,
        env: mount.secret.env ?? "",
      }
      : undefined,
    tmpfs: mount.tmpfs ? { size: BigInt(mount.tmpfs.size ?? 0) } : undefined,
    ssh: mount.ssh
      ? {
        id: mount.ssh.id ?? "",
        uid: mount.ssh.uid ?? 0,
        gid: mount.ssh.gid ?? 0,
        mode: mount.ssh.mode ?? 0o600,
        optional: mount.ssh.optional ?? false,
      }
      : undefined,
  });
}

function fileActionMessage(
  action: FileAction,
  indexOf: (state: State) => number,
): FileActionMessage {
  switch (action.kind) {
    case "copy": {
      const o = action.options;
      return create(FileActionSchema, {
        action: {
          case: "copy",
          value: {
            input: indexOf(action.from),
            src: action.src,
            dest: action.dest,
            owner: o.owner ? { user: o.owner.user ?? "", group: o.owner.group ?? "" } : undefined,
            mode: o.mode ?? 0,
            followSymlinks: o.followSymlinks ?? false,
            dirContentsOnly: o.dirContentsOnly ?? false,
            allowWildcard: o.allowWildcard ?? false,
            allowEmptyWildcard: o.allowEmptyWildcard ?? false,
            createDestPath: o.createDestPath ?? true,
            excludePatterns: o.excludePatterns ?? [],
            includePatterns: o.includePatterns ?? [],
            attemptUnpack: o.attemptUnpack ?? false,
          },
        },
      });
    }
    case "mkdir":
      return create(FileActionSchema, {
        action: {
          case: "mkdir",
          value: {
            path: action.path,
            mode: action.mode,
            makeParents: action.parents,
            owner: ownerMessage(action.owner),
          },
        },
      });
    case "mkfile":
      return create(FileActionSchema, {
        action: {
          case: "mkfile",
          value: {
            path: action.path,
            mode: action.mode,
            data: action.data,
            owner: ownerMessage(action.owner),
          },
        },
      });
    case "rm":
      return create(FileActionSchema, {
        action: {
          case: "rm",
          value: {
            path: action.path,
            allowNotFound: action.allowNotFound,
            allowWildcard: action.allowWildcard,
          },
        },
      });
  }
}

function ownerMessage(owner: Owner | undefined) {
  return owner ? { user: owner.user ?? "", group: owner.group ?? "" } : undefined;
}
