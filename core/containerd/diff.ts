/**
 * containerd's differ, which applies a layer blob from the content store onto mounts.
 *
 * @module
 */

import { call, type CallContext, serviceClient } from "./_call.ts";
import { descriptorFrom, descriptorMessage, mountMessages } from "./_convert.ts";
import { Diff } from "./gen/containerd/services/diff/v1/diff_pb.ts";
import type { ContainerdMount, Descriptor } from "./types.ts";

/** containerd's differ. */
export interface ContainerdDiffer {
  /**
   * Unpacks `layer` (gzip, zstd or plain tar, by its media type) onto `mounts`, such as
   * those of a prepared snapshot, and returns the descriptor of the uncompressed tar: its
   * digest is the layer's diff ID.
   */
  apply(layer: Descriptor, mounts: readonly ContainerdMount[]): Promise<Descriptor>;
}

/** Returns the differ adapter for calls under `context`. */
export function createDiffer(context: CallContext): ContainerdDiffer {
  const client = serviceClient(context, Diff);
  return {
    async apply(layer, mounts) {
      const response = await call(
        context,
        `Failed to apply layer "${layer.digest}"`,
        (options) =>
          client.apply({
            diff: descriptorMessage(layer),
            mounts: mountMessages(mounts),
          }, options),
      );
      return descriptorFrom(response.applied);
    },
  };
}
