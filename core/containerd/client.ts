/**
 * The containerd client tsbuild uses: gRPC over containerd's unix socket, one namespace per
 * client, and adapters per service that take and return tsbuild's own types.
 *
 * @example Listing the images of the "buildkit" namespace
 * ```ts ignore
 * using client = createContainerdClient({ namespace: "buildkit" });
 * for (const image of await client.images.list()) console.log(image.name, image.target.digest);
 * ```
 *
 * @module
 */

import type { Platform } from "../oci/platform.ts";
import type { ResolvedImage } from "../registry/types.ts";
import type { CallContext } from "./_call.ts";
import { call, serviceClient } from "./_call.ts";
import { createContainerdTransport } from "./_transport.ts";
import { type ContainerdContainers, createContainers } from "./containers.ts";
import { type ContainerdContentStore, createContentStore } from "./content.ts";
import { type ContainerdDiffer, createDiffer } from "./diff.ts";
import { type ContainerdImageStore, createImageStore } from "./images.ts";
import { type ContainerdLeases, createLeases } from "./leases.ts";
import { type ContainerdNamespaces, createNamespaces } from "./namespaces.ts";
import { resolveContainerdImage } from "./resolve_image.ts";
import { type ContainerdSnapshotter, createSnapshotter, DEFAULT_SNAPSHOTTER } from "./snapshots.ts";
import { type ContainerdTasks, createTasks } from "./tasks.ts";
import { Version } from "./gen/containerd/services/version/v1/version_pb.ts";

export type { ContainerdContainers, ContainerdContentStore, ContainerdDiffer };
export type { ContainerdImageStore, ContainerdLeases, ContainerdNamespaces };
export type { ContainerdSnapshotter, ContainerdTasks };

/** The socket path in containerd's default configuration. */
export const DEFAULT_CONTAINERD_ADDRESS = "/run/containerd/containerd.sock";

/** The environment variable that sets the socket path, as `ctr` reads it too. */
export const CONTAINERD_ADDRESS_ENV = "CONTAINERD_ADDRESS";

/** The namespace tsbuild works in, the one BuildKit's containerd worker uses. */
export const DEFAULT_CONTAINERD_NAMESPACE = "buildkit";

/** Options of {@link createContainerdClient}. */
export interface ContainerdClientOptions {
  /**
   * Path of containerd's gRPC socket.
   * @default the value of CONTAINERD_ADDRESS, else "/run/containerd/containerd.sock", where
   * containerd listens unless configured otherwise
   */
  address?: string;
  /**
   * The namespace every call works in.
   * @default "buildkit", so that images tsbuild exports sit where BuildKit's would and
   * `ctr -n buildkit` shows them
   */
  namespace?: string;
  /** Cancels every call of the client; calls then reject with CancelledError. */
  signal?: AbortSignal;
}

/** containerd's version, as its version service reports it. */
export interface ContainerdVersion {
  version: string;
  revision: string;
}

/**
 * A client for one containerd namespace. The connection opens on the first call; a call to a
 * containerd that is not running fails with RemoteError naming the socket.
 */
export interface ContainerdClient extends Disposable {
  readonly address: string;
  readonly namespace: string;
  /** The lease that what this client creates is attached to, if any. */
  readonly lease?: string;
  version(): Promise<ContainerdVersion>;
  readonly namespaces: ContainerdNamespaces;
  readonly content: ContainerdContentStore;
  readonly images: ContainerdImageStore;
  readonly leases: ContainerdLeases;
  readonly diff: ContainerdDiffer;
  readonly containers: ContainerdContainers;
  readonly tasks: ContainerdTasks;
  /** Returns the snapshots of `snapshotter`. @default "overlayfs" */
  snapshots(snapshotter?: string): ContainerdSnapshotter;
  /** Returns a client on the same connection whose calls attach what they create to `lease`. */
  withLease(lease: string): ContainerdClient;
  /**
   * Returns a client on the same connection whose calls `signal` cancels, or none when it is
   * undefined, as clean-up calls after a cancellation need.
   */
  withSignal(signal: AbortSignal | undefined): ContainerdClient;
  /**
   * Resolves an image name (or "name@digest") in the namespace to the manifest for `platform`,
   * choosing from an index when the image is one, and reads its config.
   *
   * @throws {NotFoundError} when the namespace has no such image, or the index no such platform.
   */
  resolveImage(reference: string, platform: Platform): Promise<ResolvedImage>;
  /** Closes the connection, which clients from `withLease` share; a later call opens a new one. */
  close(): void;
}

/**
 * Creates a client for containerd at `options.address` in `options.namespace`.
 *
 * @throws {TypeError} when the namespace is empty.
 */
export function createContainerdClient(options: ContainerdClientOptions = {}): ContainerdClient {
  const address = options.address || Deno.env.get(CONTAINERD_ADDRESS_ENV) ||
    DEFAULT_CONTAINERD_ADDRESS;
  const namespace = options.namespace ?? DEFAULT_CONTAINERD_NAMESPACE;
  if (namespace === "") throw new TypeError("Invalid containerd namespace: it is empty");

  const { transport, close } = createContainerdTransport(address);
  return clientFor({ transport, address, namespace, signal: options.signal }, close);
}

function clientFor(context: CallContext, close: () => void): ContainerdClient {
  const client: ContainerdClient = {
    address: context.address,
    namespace: context.namespace,
    lease: context.lease,
    async version() {
      const version = serviceClient(context, Version);
      const response = await call(
        context,
        "Failed to get the containerd version",
        (options) => version.version({}, options),
      );
      return { version: response.version, revision: response.revision };
    },
    namespaces: createNamespaces(context),
    content: createContentStore(context),
    images: createImageStore(context),
    leases: createLeases(context),
    diff: createDiffer(context),
    containers: createContainers(context),
    tasks: createTasks(context),
    snapshots: (snapshotter = DEFAULT_SNAPSHOTTER) => createSnapshotter(context, snapshotter),
    withLease: (lease) => clientFor({ ...context, lease }, close),
    withSignal: (signal) => clientFor({ ...context, signal }, close),
    resolveImage: (reference, platform) => resolveContainerdImage(client, reference, platform),
    close,
    [Symbol.dispose]: close,
  };
  return client;
}
