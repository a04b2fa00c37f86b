/**
 * The call wrapper of the service adapters: the namespace and lease headers, the build's
 * signal, and error conversion.
 *
 * @module
 */

import { type CallOptions, type Client, createClient, type Transport } from "@connectrpc/connect";
import type { DescService } from "@bufbuild/protobuf";
import { containerdError } from "./errors.ts";

/** The gRPC metadata header that selects the containerd namespace of a call. */
export const NAMESPACE_HEADER = "containerd-namespace";

/** The gRPC metadata header that attaches what a call creates to a lease. */
export const LEASE_HEADER = "containerd-lease";

/** The settings every call of one client shares. */
export interface CallContext {
  readonly transport: Transport;
  readonly address: string;
  readonly namespace: string;
  /** The lease that what calls create is attached to, if any. */
  readonly lease?: string;
  readonly signal?: AbortSignal;
}

/** Returns the Connect client of `service` over the context's transport. */
export function serviceClient<T extends DescService>(context: CallContext, service: T): Client<T> {
  return createClient(service, context.transport);
}

/** Returns the headers and signal of one call. */
export function callOptions(context: CallContext): CallOptions {
  const headers: Record<string, string> = { [NAMESPACE_HEADER]: context.namespace };
  if (context.lease !== undefined) headers[LEASE_HEADER] = context.lease;
  return { headers, signal: context.signal };
}

/**
 * Runs one unary call and converts its failure with {@link containerdError}; `operation` is the
 * failed action as the message starts, e.g. `Failed to get image "…"`.
 */
export async function call<T>(
  context: CallContext,
  operation: string,
  run: (options: CallOptions) => Promise<T>,
): Promise<T> {
  try {
    return await run(callOptions(context));
  } catch (error) {
    throw convertError(context, operation, error);
  }
}

/** Converts a failure of a call made under `context`. */
export function convertError(context: CallContext, operation: string, error: unknown): Error {
  return containerdError(error, {
    operation,
    address: context.address,
    namespace: context.namespace,
    signal: context.signal,
  });
}
