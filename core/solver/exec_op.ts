/**
 * Runs an exec op: a process on top of its root input, whose filesystem
 * changes become a new snapshot.
 *
 * @module
 */

import type { ExecOp } from "../graph/gen/tsbuild/graph/v1/definition_pb.ts";
import { NetworkMode } from "../graph/gen/tsbuild/graph/v1/definition_pb.ts";
import { ExecError, InvalidInputError } from "../errors.ts";
import type { ExecRequest } from "../exec/executor.ts";
import { createVertexProgress } from "../plugin/context.ts";
import type { RunContext } from "./_run_context.ts";
import { lowerDirsOf } from "./_views.ts";
import type { VertexResult } from "./solver.ts";
import { OutputTail } from "./_output_tail.ts";
import { withExtraMounts } from "./_exec_mounts.ts";
import { checkExecutable } from "./_platform_check.ts";
import { createRedactor } from "./_redact.ts";

/**
 * Runs `op` and returns the id of the snapshot holding its changes. Secret
 * values the step mounts are masked in its output, in progress and in errors.
 */
export async function runExecOp(
  op: ExecOp,
  inputs: VertexResult[],
  context: RunContext,
): Promise<string | undefined> {
  const meta = op.meta;
  if (!meta || meta.args.length === 0) {
    throw new InvalidInputError("Invalid exec op: no command to run");
  }
  await checkExecutable(context.platform, { command: meta.args.join(" ") });
  const rootMount = op.mounts.find((mount) => mount.dest === "/");
  const root = rootMount && rootMount.input >= 0 ? inputs[rootMount.input] : undefined;
  const lowerDirs = await lowerDirsOf(context.store, root?.snapshot);

  const tail = new OutputTail(10);
  const active = await context.store.snapshots.prepare();
  try {
    const exitCode = await withExtraMounts(
      op.mounts.filter((mount) => mount !== rootMount),
      inputs,
      context,
      async (prepared) => {
        const output = createOutput(context, tail, prepared.secretValues);
        try {
          const result = await context.executor.run({
            lowerDirs,
            upperDir: active.dir,
            args: meta.args,
            env: [...meta.env, ...prepared.env],
            cwd: meta.cwd || "/",
            user: meta.user,
            hostname: meta.hostname || undefined,
            mounts: prepared.mounts,
            network: op.network === NetworkMode.NONE ? "none" : "host",
            ...output.callbacks,
            signal: context.signal,
          });
          return result.exitCode;
        } finally {
          output.flush();
        }
      },
    );
    if (exitCode !== 0) {
      const command = JSON.stringify(shorten(meta.args.join(" "), 200));
      const lastLines = tail.lines();
      throw new ExecError(
        `Process ${command} did not complete successfully: exit code ${exitCode}` +
          (lastLines.length ? `\n${lastLines.map((line) => `  > ${line}`).join("\n")}` : ""),
        { exitCode },
      );
    }
    return (await active.commit({ parent: root?.snapshot, kind: "exec" })).id;
  } catch (error) {
    await active.abort();
    throw error;
  }
}

// Sends the process's output to progress and to the tail kept for errors, with secret values
// replaced first.
function createOutput(context: RunContext, tail: OutputTail, secrets: Uint8Array[]) {
  const progress = createVertexProgress(context.sink, context.vertex);
  const streams = { stdout: createRedactor(secrets), stderr: createRedactor(secrets) };
  const emit = (stream: "stdout" | "stderr", chunk: Uint8Array) => {
    if (chunk.length === 0) return;
    tail.push(chunk);
    progress.log(stream, chunk);
  };
  const callbacks: Pick<ExecRequest, "stdout" | "stderr"> = {
    stdout: (chunk) => emit("stdout", streams.stdout.push(chunk)),
    stderr: (chunk) => emit("stderr", streams.stderr.push(chunk)),
  };
  return {
    callbacks,
    flush() {
      emit("stdout", streams.stdout.flush());
      emit("stderr", streams.stderr.flush());
    },
  };
}

// Error messages repeat the command; a generated RUN line can be megabytes long.
function shorten(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
