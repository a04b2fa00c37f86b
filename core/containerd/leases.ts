/**
 * containerd's leases: what a client writes under a lease survives garbage collection until
 * the lease is deleted, so that half-written images are never collected mid-operation.
 *
 * @module
 */

import { randomBytes } from "../deps.ts";
import { call, type CallContext, serviceClient } from "./_call.ts";
import { dateFrom } from "./_convert.ts";
import { type Lease, Leases } from "./gen/containerd/services/leases/v1/leases_pb.ts";
import type { LeaseInfo, LeaseResource } from "./types.ts";

/** The label that ends a lease's protection at an RFC 3339 time, as containerd reads it. */
export const LEASE_EXPIRE_LABEL = "containerd.io/gc.expire";

/**
 * How long a lease of tsbuild protects content when tsbuild dies before deleting it.
 * containerd's own client uses 24 hours for the same purpose.
 */
export const DEFAULT_LEASE_EXPIRY_MS = 24 * 60 * 60 * 1000;

/** Options of {@link ContainerdLeases.create}. */
export interface LeaseOptions {
  /** @default "tsbuild-" and 16 random hex digits; containerd requires an id */
  id?: string;
  labels?: Record<string, string>;
  /** @default {@link DEFAULT_LEASE_EXPIRY_MS} */
  expiresInMs?: number;
}

/** A lease that deletes itself when disposed (`await using`). */
export interface ContainerdLease extends AsyncDisposable, LeaseInfo {
  /**
   * Deletes the lease, also after the client's signal was aborted, because clean-up must
   * still happen after a cancellation. Later calls do nothing.
   */
  release(): Promise<void>;
}

/** containerd's leases in one namespace. */
export interface ContainerdLeases {
  /** Creates a lease with an expiry label, so a crashed client's lease ends on its own. */
  create(options?: LeaseOptions): Promise<ContainerdLease>;
  /** Deletes a lease; what only it protected is collected at the next garbage collection. */
  delete(id: string, options?: { sync?: boolean }): Promise<void>;
  list(filters?: string[]): Promise<LeaseInfo[]>;
  /** Attaches an existing resource, such as a blob that is already stored, to a lease. */
  addResource(id: string, resource: LeaseResource): Promise<void>;
}

/** Returns the leases adapter for calls under `context`. */
export function createLeases(context: CallContext): ContainerdLeases {
  const client = serviceClient(context, Leases);
  const deleteLease = async (id: string, sync = false, callContext = context) => {
    await call(
      callContext,
      `Failed to delete lease "${id}"`,
      (options) => client.delete({ id, sync }, options),
    );
  };
  return {
    async create(leaseOptions = {}) {
      const expiresAt = new Date(
        Date.now() + (leaseOptions.expiresInMs ?? DEFAULT_LEASE_EXPIRY_MS),
      );
      const labels = { [LEASE_EXPIRE_LABEL]: expiresAt.toISOString(), ...leaseOptions.labels };
      const response = await call(
        context,
        "Failed to create a containerd lease",
        (options) => client.create({ id: leaseOptions.id ?? randomLeaseId(), labels }, options),
      );
      const info = leaseInfoFrom(response.lease);
      let released = false;
      const release = async () => {
        if (released) return;
        released = true;
        await deleteLease(info.id, false, { ...context, signal: undefined });
      };
      return { ...info, release, [Symbol.asyncDispose]: release };
    },
    delete: (id, deleteOptions = {}) => deleteLease(id, deleteOptions.sync),
    async list(filters = []) {
      const response = await call(
        context,
        "Failed to list leases",
        (options) => client.list({ filters }, options),
      );
      return response.leases.map(leaseInfoFrom);
    },
    async addResource(id, resource) {
      await call(
        context,
        `Failed to add ${resource.type} "${resource.id}" to lease "${id}"`,
        (options) => client.addResource({ id, resource }, options),
      );
    },
  };
}

function leaseInfoFrom(lease: Lease | undefined): LeaseInfo {
  return {
    id: lease?.id ?? "",
    createdAt: dateFrom(lease?.createdAt),
    labels: { ...lease?.labels },
  };
}

function randomLeaseId(): string {
  return `tsbuild-${randomBytes(8).toString("hex")}`;
}
