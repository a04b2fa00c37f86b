/**
 * Conversions between the generated containerd messages and tsbuild's plain types.
 *
 * @module
 */

import { create } from "@bufbuild/protobuf";
import { type Timestamp, timestampDate } from "@bufbuild/protobuf/wkt";
import type { Digest } from "../digest.ts";
import {
  type Descriptor as DescriptorMessage,
  DescriptorSchema,
} from "./gen/containerd/types/descriptor_pb.ts";
import { type Mount as MountMessage, MountSchema } from "./gen/containerd/types/mount_pb.ts";
import type { ContainerdMount, Descriptor } from "./types.ts";

/** Returns the descriptor message for `descriptor`. */
export function descriptorMessage(descriptor: Descriptor): DescriptorMessage {
  return create(DescriptorSchema, {
    mediaType: descriptor.mediaType,
    digest: descriptor.digest,
    size: BigInt(descriptor.size),
    annotations: descriptor.annotations ?? {},
  });
}

/** Returns the descriptor a message carries; annotations are left out when there are none. */
export function descriptorFrom(message: DescriptorMessage | undefined): Descriptor {
  const descriptor: Descriptor = {
    mediaType: message?.mediaType ?? "",
    digest: (message?.digest ?? "") as Digest,
    size: Number(message?.size ?? 0n),
  };
  if (message && Object.keys(message.annotations).length > 0) {
    descriptor.annotations = { ...message.annotations };
  }
  return descriptor;
}

/** Returns the mount messages for `mounts`. */
export function mountMessages(mounts: readonly ContainerdMount[]): MountMessage[] {
  return mounts.map((mount) =>
    create(MountSchema, { type: mount.type, source: mount.source, options: [...mount.options] })
  );
}

/** Returns the mounts the messages describe. */
export function mountsFrom(messages: readonly MountMessage[]): ContainerdMount[] {
  return messages.map((mount) => ({
    type: mount.type,
    source: mount.source,
    options: [...mount.options],
  }));
}

/** Returns the time a timestamp message holds, or undefined when it is unset. */
export function dateFrom(timestamp: Timestamp | undefined): Date | undefined {
  return timestamp ? timestampDate(timestamp) : undefined;
}
