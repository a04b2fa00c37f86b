/**
 * Turns failed registry responses and fetch() failures into tsbuild errors, including the
 * `{errors: [{code, message}]}` body that the distribution API sends with a failure.
 *
 * @module
 */

import { CancelledError, NotFoundError, RemoteError, type TsbuildError } from "../errors.ts";
import { readLimited } from "./_body.ts";

/** One entry of a registry's error body. */
export interface RegistryErrorEntry {
  code: string;
  message: string;
}

const MAX_ERROR_BODY_BYTES = 64 * 1024;

/**
 * Returns a CancelledError when `error` comes from aborting `signal`, and `make()` otherwise.
 * A CancelledError thrown earlier is returned unchanged.
 */
export function toTsbuildError(
  error: unknown,
  signal: AbortSignal | undefined,
  make: () => TsbuildError,
): TsbuildError {
  if (error instanceof CancelledError) return error;
  if (signal?.aborted || (error instanceof DOMException && error.name === "AbortError")) {
    return new CancelledError("Registry request cancelled", { cause: error });
  }
  return make();
}

/** Arguments of `responseError()` besides the response. */
export interface ResponseErrorArgs {
  /** Start of the message, such as `Failed to resolve "busybox"`. */
  operation: string;
  registry: string;
  /** The state a 404 means, such as "manifest not found". */
  notFound: string;
}

/**
 * Reads a failed response's body and returns the error for it: NotFoundError for 404, and
 * RemoteError otherwise. The registry's error codes and messages are added in brackets.
 */
export async function responseError(
  response: Response,
  args: ResponseErrorArgs,
): Promise<TsbuildError> {
  const errors = await readRegistryErrors(response);
  const detail = errors.length === 0
    ? ""
    : ` (${errors.map((entry) => `${entry.code}: ${entry.message}`).join("; ")})`;
  const data = { registry: args.registry, status: response.status, errors };

  if (response.status === 404) {
    return new NotFoundError(`${args.operation}: ${args.notFound}${detail}`, { data });
  }
  if (response.status === 401 || response.status === 403) {
    return new RemoteError(
      `${args.operation}: registry "${args.registry}" denied access${detail}; check the repository name, and log in with "docker login ${args.registry}" if it is private`,
      { data },
    );
  }
  return new RemoteError(
    `${args.operation}: registry "${args.registry}" returned ${response.status} ${response.statusText}${detail}`,
    { data },
  );
}

async function readRegistryErrors(response: Response): Promise<RegistryErrorEntry[]> {
  if (response.body === null) return [];
  let text: string;
  try {
    text = new TextDecoder().decode(await readLimited(response.body, MAX_ERROR_BODY_BYTES));
  } catch {
    return [];
  }

  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return [];
  }
  const errors = (body as { errors?: unknown })?.errors;
  if (!Array.isArray(errors)) return [];
  return errors.map((entry) => ({
    code: String(entry?.code ?? "UNKNOWN"),
    message: String(entry?.message ?? ""),
  }));
}

/**
 * Returns the innermost cause of a failed fetch, such as "connection refused
 * (os error 111)": Deno nests it in a "fetch failed" error as the last part of
 * a message that also repeats the URL.
 */
export function networkReason(error: unknown): string {
  let inner = error;
  while (inner instanceof Error && inner.cause !== undefined) inner = inner.cause;
  const message = inner instanceof Error ? inner.message : String(inner);
  const last = message.slice(message.lastIndexOf(": ") + 1).trim() || message;
  return last.charAt(0).toLowerCase() + last.slice(1);
}
