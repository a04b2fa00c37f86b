/**
 * containerd's tasks: the running process of a container record.
 *
 * @module
 */

import { call, type CallContext, serviceClient } from "./_call.ts";
import { dateFrom, mountMessages } from "./_convert.ts";
import { Tasks } from "./gen/containerd/services/tasks/v1/tasks_pb.ts";
import type { ContainerdMount } from "./types.ts";

/** The arguments of {@link ContainerdTasks.create}. */
export interface TaskInput {
  containerId: string;
  /** Mounted by the runtime shim as the bundle's "rootfs" directory, which the spec names. */
  rootfs: ContainerdMount[];
  /** FIFO paths the shim opens for writing; empty leaves the stream unconnected. */
  stdout?: string;
  stderr?: string;
}

/** The exit of a task's process. */
export interface TaskExit {
  /** The exit status, or 128 plus the signal number when a signal ended the process. */
  exitStatus: number;
  exitedAt?: Date;
}

/** containerd's tasks in one namespace. */
export interface ContainerdTasks {
  /** Creates the task's process without starting it and returns its pid. */
  create(task: TaskInput): Promise<number>;
  /** Starts the created process and returns its pid. */
  start(containerId: string): Promise<number>;
  /** Returns once the process has exited; works as well after the exit, until `delete`. */
  wait(containerId: string): Promise<TaskExit>;
  /** Sends `signal` (a number, such as 9) to the process, or to every process when `all`. */
  kill(containerId: string, signal: number, options?: { all?: boolean }): Promise<void>;
  /** Removes a stopped task and returns how it ended. */
  delete(containerId: string): Promise<TaskExit>;
}

/** Returns the tasks adapter for calls under `context`. */
export function createTasks(context: CallContext): ContainerdTasks {
  const client = serviceClient(context, Tasks);
  return {
    async create(task) {
      const response = await call(
        context,
        `Failed to create the task of container "${task.containerId}"`,
        (options) =>
          client.create({
            containerId: task.containerId,
            rootfs: mountMessages(task.rootfs),
            stdout: task.stdout ?? "",
            stderr: task.stderr ?? "",
          }, options),
      );
      return response.pid;
    },
    async start(containerId) {
      const response = await call(
        context,
        `Failed to start the task of container "${containerId}"`,
        (options) => client.start({ containerId }, options),
      );
      return response.pid;
    },
    async wait(containerId) {
      const response = await call(
        context,
        `Failed to wait for the task of container "${containerId}"`,
        (options) => client.wait({ containerId }, options),
      );
      return { exitStatus: response.exitStatus, exitedAt: dateFrom(response.exitedAt) };
    },
    async kill(containerId, signal, killOptions = {}) {
      await call(
        context,
        `Failed to signal the task of container "${containerId}"`,
        (options) => client.kill({ containerId, signal, all: killOptions.all ?? false }, options),
      );
    },
    async delete(containerId) {
      const response = await call(
        context,
        `Failed to delete the task of container "${containerId}"`,
        (options) => client.delete({ containerId }, options),
      );
      return { exitStatus: response.exitStatus, exitedAt: dateFrom(response.exitedAt) };
    },
  };
}
