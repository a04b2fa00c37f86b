/**
 * Runs an exec op: a process on top of its root input, whose filesystem
 * changes become a new snapshot.
 *
 * @module
 */

import type { ExecOp, Mount } from "../graph/gen/tsbuild/graph/v1/definition_pb.ts";
import { MountType, NetworkMode } from "../graph/gen/tsbuild/graph/v1/definition_pb.ts";
import { ExecError, InvalidInputError, NotFoundError } from "../errors.ts";
import type { ExecMount } from "../exec/executor.ts";
import { createVertexProgress } from "../plugin/context.ts";
import type { RunContext } from "./_run_context.ts";
import { lowerDirsOf, withReadonlyView } from "./_views.ts";
import type { VertexResult } from "./solver.ts";
import { OutputTail } from "./_output_tail.ts";
import { withCacheMount } from "./_cache_mounts.ts";

/** Runs `op` and returns the id of the snapshot holding its changes. */
export async function runExecOp(
  op: ExecOp,
  inputs: VertexResult[],
  context: RunContext,
): Promise<string | undefined> {
  const meta = op.meta;
  if (!meta || meta.args.length === 0) {
    throw new InvalidInputError("Invalid exec op: no command to run");
  }
  const rootMount = op.mounts.find((mount) => mount.dest === "/");
  const root = rootMount && rootMount.input >= 0 ? inputs[rootMount.input] : undefined;
  const lowerDirs = await lowerDirsOf(context.store, root?.snapshot);

  const progress = createVertexProgress(context.sink, context.vertex);
  const tail = new OutputTail(10);
  const active = await context.store.snapshots.prepare();
  try {
    const exitCode = await withExtraMounts(
      op.mounts.filter((mount) => mount !== rootMount),
      inputs,
      context,
      (mounts) =>
        context.executor.run({
          lowerDirs,
          upperDir: active.dir,
          args: meta.args,
          env: meta.env,
          cwd: meta.cwd || "/",
          user: meta.user,
          hostname: meta.hostname || undefined,
          mounts,
          network: op.network === NetworkMode.NONE ? "none" : "host",
          stdout: (chunk) => {
            tail.push(chunk);
            progress.log("stdout", chunk);
          },
          stderr: (chunk) => {
            tail.push(chunk);
            progress.log("stderr", chunk);
          },
          signal: context.signal,
        }).then((result) => result.exitCode),
    );
    if (exitCode !== 0) {
      const command = JSON.stringify(meta.args.join(" "));
      const lastLines = tail.lines();
      throw new ExecError(
        `Process ${command} did not complete successfully: exit code ${exitCode}` +
          (lastLines.length ? `\n${lastLines.map((line) => `  > ${line}`).join("\n")}` : ""),
        { exitCode, data: { step: context.vertex.name } },
      );
    }
    return (await active.commit({ parent: root?.snapshot, kind: "exec" })).id;
  } catch (error) {
    await active.abort();
    throw error;
  }
}

async function withExtraMounts<T>(
  mounts: Mount[],
  inputs: VertexResult[],
  context: RunContext,
  fn: (mounts: ExecMount[]) => Promise<T>,
): Promise<T> {
  const prepared: ExecMount[] = [];
  const cleanups: Array<() => Promise<void>> = [];
  try {
    for (const mount of mounts) {
      prepared.push(await prepareMount(mount, inputs, context, cleanups));
    }
    return await fn(prepared);
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  }
}

async function prepareMount(
  mount: Mount,
  inputs: VertexResult[],
  context: RunContext,
  cleanups: Array<() => Promise<void>>,
): Promise<ExecMount> {
  switch (mount.type) {
    case MountType.TMPFS:
      return {
        type: "tmpfs",
        dest: mount.dest,
        size: mount.tmpfs ? Number(mount.tmpfs.size) : undefined,
      };
    case MountType.CACHE: {
      const held = await withCacheMount(
        context.store,
        mount.cache?.id || mount.dest,
        mount.cache?.sharing,
      );
      cleanups.push(held.release);
      return { type: "bind", source: held.dir, dest: mount.dest, readonly: false };
    }
    case MountType.SECRET:
      return await prepareSecret(mount, context, cleanups);
    case MountType.BIND: {
      const input = mount.input >= 0 ? inputs[mount.input] : undefined;
      const view = await withReadonlyView(
        context.store,
        input?.snapshot,
        context.store.temporaryDir,
      );
      cleanups.push(view.release);
      const source = mount.selector
        ? `${view.dir}/${mount.selector.replace(/^\/+/, "")}`
        : view.dir;
      return { type: "bind", source, dest: mount.dest, readonly: mount.readonly };
    }
    default:
      throw new InvalidInputError(`Unsupported mount type ${mount.type} at "${mount.dest}"`);
  }
}

async function prepareSecret(
  mount: Mount,
  context: RunContext,
  cleanups: Array<() => Promise<void>>,
): Promise<ExecMount> {
  const secret = mount.secret!;
  const value = await context.secrets?.get(secret.id);
  if (value === undefined) {
    if (secret.optional) return { type: "tmpfs", dest: mount.dest };
    throw new NotFoundError(
      `Failed to mount secret "${secret.id}": no secret with that id was given (use --secret id=${secret.id},src=PATH)`,
    );
  }
  const dir = await Deno.makeTempDir({ dir: context.store.temporaryDir, prefix: "secret-" });
  cleanups.push(() => Deno.remove(dir, { recursive: true }));
  const file = `${dir}/value`;
  await Deno.writeFile(file, value, { mode: 0o600 });
  await Deno.chown(file, secret.uid, secret.gid);
  await Deno.chmod(file, secret.mode || 0o400);
  return { type: "bind", source: file, dest: mount.dest, readonly: true };
}
