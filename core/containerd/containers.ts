/**
 * containerd's container records: the runtime spec and runtime a task is created from.
 *
 * @module
 */

import { create } from "@bufbuild/protobuf";
import { AnySchema } from "@bufbuild/protobuf/wkt";
import { call, type CallContext, serviceClient } from "./_call.ts";
import { Containers } from "./gen/containerd/services/containers/v1/containers_pb.ts";

/** The type URL containerd reads an OCI runtime spec from, encoded as JSON. */
export const RUNTIME_SPEC_TYPE_URL = "types.containerd.io/opencontainers/runtime-spec/1/Spec";

/** The runtime containerd 1.6 runs Linux containers with, through the runc shim. */
export const DEFAULT_RUNTIME = "io.containerd.runc.v2";

/** A container record to create. */
export interface ContainerInput {
  /** Letters, digits, ".", "_" and "-", at most 76 characters, as containerd requires. */
  id: string;
  /** The OCI runtime spec, sent as JSON. */
  spec: unknown;
  /** @default {@link DEFAULT_RUNTIME} */
  runtime?: string;
  labels?: Record<string, string>;
}

/** containerd's container records in one namespace. */
export interface ContainerdContainers {
  /**
   * Creates a container record without a snapshot; its task gets the root file system from the
   * mounts passed to {@link ContainerdTasks.create}.
   *
   * @throws {AlreadyExistsError} when the id is taken.
   */
  create(container: ContainerInput): Promise<void>;
  /** Deletes a container record whose task is gone. */
  delete(id: string): Promise<void>;
}

/** Returns the containers adapter for calls under `context`. */
export function createContainers(context: CallContext): ContainerdContainers {
  const client = serviceClient(context, Containers);
  return {
    async create(container) {
      const spec = create(AnySchema, {
        typeUrl: RUNTIME_SPEC_TYPE_URL,
        value: new TextEncoder().encode(JSON.stringify(container.spec)),
      });
      await call(
        context,
        `Failed to create container "${container.id}"`,
        (options) =>
          client.create({
            container: {
              id: container.id,
              labels: container.labels ?? {},
              runtime: { name: container.runtime ?? DEFAULT_RUNTIME },
              spec,
            },
          }, options),
      );
    },
    async delete(id) {
      await call(
        context,
        `Failed to delete container "${id}"`,
        (options) => client.delete({ id }, options),
      );
    },
  };
}
