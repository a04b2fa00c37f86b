/**
 * Prepares an exec op's mounts besides its root filesystem: binds of other
 * results, cache directories, tmpfs, secrets and forwarded SSH agents.
 *
 * @module
 */

import { create } from "@bufbuild/protobuf";
import {
  CacheSharing,
  FileActionCopySchema,
  type Mount,
  MountType,
} from "../graph/gen/tsbuild/graph/v1/definition_pb.ts";
import { InvalidInputError, NotFoundError } from "../errors.ts";
import type { ExecMount } from "../exec/executor.ts";
import type { RunContext } from "./_run_context.ts";
import { withReadonlyView } from "./_views.ts";
import type { VertexResult } from "./solver.ts";
import { type CacheMountBase, withCacheMount } from "./_cache_mounts.ts";
import { copyAction } from "./_copy.ts";
import { startAgentRelay } from "./_ssh_forward.ts";

/** The mounts, variables and secret values the extra mounts give one process. */
export interface PreparedMounts {
  mounts: ExecMount[];
  /** `NAME=value` entries for secrets exposed as environment variables. */
  env: string[];
  /** Secret values the process can read, to mask in its output. */
  secretValues: Uint8Array[];
}

type Cleanups = Array<() => Promise<void>>;

/**
 * Prepares `mounts`, calls `fn` with them, and releases them afterwards
 * whether `fn` succeeds or not.
 */
export async function withExtraMounts<T>(
  mounts: Mount[],
  inputs: VertexResult[],
  context: RunContext,
  fn: (prepared: PreparedMounts) => Promise<T>,
): Promise<T> {
  const prepared: PreparedMounts = { mounts: [], env: [], secretValues: [] };
  const cleanups: Cleanups = [];
  try {
    for (const mount of mounts) await prepareMount(mount, inputs, context, prepared, cleanups);
    return await fn(prepared);
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  }
}

async function prepareMount(
  mount: Mount,
  inputs: VertexResult[],
  context: RunContext,
  prepared: PreparedMounts,
  cleanups: Cleanups,
): Promise<void> {
  switch (mount.type) {
    case MountType.TMPFS: {
      const size = mount.tmpfs && mount.tmpfs.size > 0n ? Number(mount.tmpfs.size) : undefined;
      prepared.mounts.push({ type: "tmpfs", dest: mount.dest, size });
      return;
    }
    case MountType.CACHE:
      prepared.mounts.push(await prepareCache(mount, inputs, context, cleanups));
      return;
    case MountType.SECRET:
      return await prepareSecret(mount, context, prepared, cleanups);
    case MountType.SSH:
      return await prepareSsh(mount, context, prepared, cleanups);
    case MountType.BIND:
      prepared.mounts.push(await prepareBind(mount, inputs, context, cleanups));
      return;
    default:
      throw new InvalidInputError(`Unsupported mount type ${mount.type} at "${mount.dest}"`);
  }
}

async function prepareBind(
  mount: Mount,
  inputs: VertexResult[],
  context: RunContext,
  cleanups: Cleanups,
): Promise<ExecMount> {
  const input = mount.input >= 0 ? inputs[mount.input] : undefined;
  // Writes to a read-write bind land in the view's scratch layer and are dropped with it.
  const view = await withReadonlyView(context.store, input?.snapshot, context.store.temporaryDir);
  cleanups.push(view.release);
  const source = await selectedPath(view.dir, mount);
  return { type: "bind", source, dest: mount.dest, readonly: mount.readonly };
}

async function prepareCache(
  mount: Mount,
  inputs: VertexResult[],
  context: RunContext,
  cleanups: Cleanups,
): Promise<ExecMount> {
  const input = mount.input >= 0 ? inputs[mount.input] : undefined;
  const base: CacheMountBase | undefined = input
    ? {
      key: `${input.key}\0${mount.selector}`,
      fill: (dir) => fillFromInput(dir, input, mount, context),
    }
    : undefined;
  const cache = await withCacheMount(context.store, {
    id: mount.cache?.id || mount.dest,
    sharing: mount.cache?.sharing ?? CacheSharing.SHARED,
    base,
    signal: context.signal,
  });
  cleanups.push(cache.release);
  return { type: "bind", source: cache.dir, dest: mount.dest, readonly: mount.readonly };
}

// Copies the selected directory of `input` into `dir`, keeping owners and modes, so a cache
// made with uid, gid or mode starts as the directory the frontend prepared.
async function fillFromInput(
  dir: string,
  input: VertexResult,
  mount: Mount,
  context: RunContext,
): Promise<void> {
  const view = await withReadonlyView(context.store, input.snapshot, context.store.temporaryDir);
  try {
    const source = await selectedPath(view.dir, mount);
    const info = await Deno.stat(source);
    await Deno.mkdir(dir, { mode: 0o755 });
    await Deno.chown(dir, info.uid, info.gid);
    await Deno.chmod(dir, (info.mode ?? 0o755) & 0o7777);
    const copy = create(FileActionCopySchema, {
      src: mount.selector || "/",
      dest: "/",
      followSymlinks: true,
      dirContentsOnly: true,
      createDestPath: true,
    });
    await copyAction(copy, dir, view.dir);
  } finally {
    await view.release();
  }
}

async function selectedPath(root: string, mount: Mount): Promise<string> {
  const selector = mount.selector.replace(/^\/+/, "");
  if (selector === "") return root;
  const path = `${root}/${selector}`;
  try {
    await Deno.lstat(path);
  } catch {
    throw new NotFoundError(
      `Failed to mount "/${selector}" at "${mount.dest}": not found in the mounted source`,
      { data: { path: `/${selector}`, dest: mount.dest } },
    );
  }
  return path;
}

async function prepareSecret(
  mount: Mount,
  context: RunContext,
  prepared: PreparedMounts,
  cleanups: Cleanups,
): Promise<void> {
  const secret = mount.secret;
  if (!secret?.id) throw new InvalidInputError(`Invalid secret mount at "${mount.dest}": no id`);
  const value = await context.secrets?.get(secret.id);
  if (value === undefined && !secret.optional) {
    throw new NotFoundError(
      `Failed to mount secret "${secret.id}": no secret with that id was given ` +
        `(use --secret id=${secret.id},src=PATH or --secret id=${secret.id},env=VARIABLE)`,
      { data: { secret: secret.id } },
    );
  }
  if (value !== undefined) prepared.secretValues.push(value);
  // As in BuildKit, a missing optional secret still sets its variable, to an empty value.
  if (secret.env) {
    prepared.env.push(`${secret.env}=${new TextDecoder().decode(value ?? new Uint8Array())}`);
  }
  if (!mount.dest || value === undefined) return;

  const dir = await secretDir(context);
  cleanups.push(() => Deno.remove(dir, { recursive: true }));
  const file = `${dir}/value`;
  await Deno.writeFile(file, value, { mode: 0o600 });
  await Deno.chown(file, secret.uid, secret.gid);
  await Deno.chmod(file, secret.mode || 0o400);
  prepared.mounts.push({ type: "bind", source: file, dest: mount.dest, readonly: true });
}

// Secret files live in memory (/dev/shm is a tmpfs) when the host has one, so no value reaches
// a disk. They are removed when the step ends.
async function secretDir(context: RunContext): Promise<string> {
  try {
    if ((await Deno.stat("/dev/shm")).isDirectory) {
      return await Deno.makeTempDir({ dir: "/dev/shm", prefix: "tsbuild-secret-" });
    }
  } catch {
    // No /dev/shm: fall back to the store's temporary directory.
  }
  return await Deno.makeTempDir({ dir: context.store.temporaryDir, prefix: "secret-" });
}

async function prepareSsh(
  mount: Mount,
  context: RunContext,
  prepared: PreparedMounts,
  cleanups: Cleanups,
): Promise<void> {
  const ssh = mount.ssh;
  const id = ssh?.id || "default";
  const agentSocket = context.ssh?.socket(id);
  if (agentSocket === undefined) {
    if (ssh?.optional) return;
    throw new NotFoundError(
      `Failed to mount SSH agent "${id}": no agent with that id was given ` +
        `(use --ssh ${id}=$SSH_AUTH_SOCK)`,
      { data: { ssh: id } },
    );
  }

  const dir = await Deno.makeTempDir({ dir: context.store.temporaryDir, prefix: "ssh-" });
  cleanups.push(() => Deno.remove(dir, { recursive: true }));
  const relay = await startAgentRelay(agentSocket, {
    dir,
    uid: ssh?.uid ?? 0,
    gid: ssh?.gid ?? 0,
    mode: ssh?.mode || 0o600,
  });
  cleanups.push(relay.close);
  prepared.mounts.push({ type: "bind", source: relay.path, dest: mount.dest, readonly: false });
}
