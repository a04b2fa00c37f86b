/**
 * containerd's namespaces, which keep the images, leases and containers of different clients
 * apart. containerd creates a namespace on the first call that writes into it.
 *
 * @module
 */

import { call, type CallContext, serviceClient } from "./_call.ts";
import { Namespaces } from "./gen/containerd/services/namespaces/v1/namespace_pb.ts";

/** A namespace and its labels. */
export interface NamespaceInfo {
  name: string;
  labels: Record<string, string>;
}

/** containerd's namespaces. */
export interface ContainerdNamespaces {
  /** Returns every namespace. */
  list(): Promise<NamespaceInfo[]>;
}

/** Returns the namespaces adapter for calls under `context`. */
export function createNamespaces(context: CallContext): ContainerdNamespaces {
  const client = serviceClient(context, Namespaces);
  return {
    async list() {
      const response = await call(
        context,
        "Failed to list containerd namespaces",
        (options) => client.list({}, options),
      );
      return response.namespaces.map((namespace) => ({
        name: namespace.name,
        labels: { ...namespace.labels },
      }));
    },
  };
}
