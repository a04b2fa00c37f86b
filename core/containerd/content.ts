/**
 * containerd's content store as tsbuild uses it: blob info and labels, streamed reads, and
 * writes that send each blob once, checked against its digest and size.
 *
 * @module
 */

import { create } from "@bufbuild/protobuf";
import { FieldMaskSchema } from "@bufbuild/protobuf/wkt";
import type { Digest } from "../digest.ts";
import { DigestMismatchError, NotFoundError, RemoteError } from "../errors.ts";
import { call, type CallContext, callOptions, convertError, serviceClient } from "./_call.ts";
import { dateFrom } from "./_convert.ts";
import { AlreadyExistsError } from "./errors.ts";
import {
  Content,
  type Info,
  WriteAction,
  type WriteContentRequest,
  WriteContentRequestSchema,
} from "./gen/containerd/services/content/v1/content_pb.ts";
import type { ContentInfo } from "./types.ts";

/**
 * Largest data message of a write. containerd accepts messages up to 16 MiB. 1 MiB keeps the
 * memory one write uses small, and the cost per message stays negligible.
 */
export const WRITE_CHUNK_BYTES = 1024 * 1024;

/** Options of {@link ContainerdContentStore.write}. */
export interface ContentWriteOptions {
  /** Labels of the committed blob, such as `containerd.io/gc.ref.content.config`. */
  labels?: Record<string, string>;
  /**
   * Names the ingest. A second writer of the same ref waits or fails while the first is active,
   * and a later write with the ref replaces what a failed one left.
   * @default "tsbuild-<digest>", so that two writers of one blob never ingest it twice at once
   */
  ref?: string;
  /** Receives the bytes containerd has acknowledged, after each data message. */
  onProgress?: (written: number, total: number) => void;
}

/** The outcome of {@link ContainerdContentStore.write}. */
export interface ContentWriteResult {
  /** False when the blob was in the store already, so that nothing was sent. */
  written: boolean;
}

/** containerd's content store in one namespace. */
export interface ContainerdContentStore {
  /** Returns the blob's info, or undefined when the namespace has no such blob. */
  info(digest: Digest): Promise<ContentInfo | undefined>;
  /**
   * Sets the given labels on a blob and keeps its other labels; an empty value removes a label.
   *
   * @throws {NotFoundError} when the blob is absent.
   */
  setLabels(digest: Digest, labels: Record<string, string>): Promise<ContentInfo>;
  /**
   * Streams a blob, or `size` bytes of it from `offset`. The stream errors with NotFoundError
   * when the blob is absent.
   */
  read(digest: Digest, options?: { offset?: number; size?: number }): ReadableStream<Uint8Array>;
  /**
   * Reads a small blob whole.
   *
   * @throws {RangeError} when it is larger than `maxBytes`.
   */
  readBytes(digest: Digest, maxBytes: number): Promise<Uint8Array>;
  /**
   * Writes a blob unless the store has it. `open` is called only when containerd has no blob
   * with this digest. containerd checks size and digest before it commits the blob.
   *
   * @throws {DigestMismatchError} when the stream carries more or fewer bytes than `descriptor.size`.
   */
  write(
    descriptor: { digest: Digest; size: number },
    open: () => Promise<ReadableStream<Uint8Array>>,
    options?: ContentWriteOptions,
  ): Promise<ContentWriteResult>;
  /** Deletes a blob from the namespace; containerd removes the data when no namespace uses it. */
  delete(digest: Digest): Promise<void>;
}

/** Returns the content store adapter for calls under `context`. */
export function createContentStore(context: CallContext): ContainerdContentStore {
  const client = serviceClient(context, Content);
  return {
    async info(digest) {
      try {
        const response = await call(
          context,
          `Failed to get info of blob "${digest}"`,
          (options) => client.info({ digest }, options),
        );
        return contentInfoFrom(response.info);
      } catch (error) {
        if (error instanceof NotFoundError) return undefined;
        throw error;
      }
    },
    async setLabels(digest, labels) {
      const paths = Object.keys(labels).map((key) => `labels.${key}`);
      const response = await call(
        context,
        `Failed to set labels of blob "${digest}"`,
        (options) =>
          client.update({
            info: { digest, labels },
            updateMask: create(FieldMaskSchema, { paths }),
          }, options),
      );
      return contentInfoFrom(response.info);
    },
    read: (digest, options = {}) => readContent(context, digest, options),
    readBytes: (digest, maxBytes) => readContentBytes(context, digest, maxBytes),
    write: (descriptor, open, options = {}) => writeContent(context, descriptor, open, options),
    async delete(digest) {
      await call(
        context,
        `Failed to delete blob "${digest}"`,
        (options) => client.delete({ digest }, options),
      );
    },
  };
}

function contentInfoFrom(info: Info | undefined): ContentInfo {
  return {
    digest: (info?.digest ?? "") as Digest,
    size: Number(info?.size ?? 0n),
    createdAt: dateFrom(info?.createdAt),
    updatedAt: dateFrom(info?.updatedAt),
    labels: { ...info?.labels },
  };
}

function readContent(
  context: CallContext,
  digest: Digest,
  range: { offset?: number; size?: number },
): ReadableStream<Uint8Array> {
  const client = serviceClient(context, Content);
  const operation = `Failed to read blob "${digest}" from containerd`;
  async function* chunks(): AsyncGenerator<Uint8Array> {
    try {
      const responses = client.read({
        digest,
        offset: BigInt(range.offset ?? 0),
        size: BigInt(range.size ?? 0),
      }, callOptions(context));
      for await (const response of responses) yield response.data;
    } catch (error) {
      throw convertError(context, operation, error);
    }
  }
  return ReadableStream.from(chunks());
}

async function readContentBytes(
  context: CallContext,
  digest: Digest,
  maxBytes: number,
): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of readContent(context, digest, {})) {
    size += chunk.byteLength;
    if (size > maxBytes) {
      throw new RangeError(
        `Failed to read blob "${digest}" from containerd: it is larger than ${maxBytes} bytes`,
      );
    }
    parts.push(chunk);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const part of parts) {
    bytes.set(part, offset);
    offset += part.byteLength;
  }
  return bytes;
}

/**
 * Writes one blob in one Write call: a STAT message first, then the data messages, then COMMIT
 * with the labels. containerd fails the call with AlreadyExists after the STAT message when the
 * blob exists. Data goes out while acknowledgements come back, so a write is not
 * slowed by one round trip per message.
 */
async function writeContent(
  context: CallContext,
  descriptor: { digest: Digest; size: number },
  open: () => Promise<ReadableStream<Uint8Array>>,
  options: ContentWriteOptions,
): Promise<ContentWriteResult> {
  const client = serviceClient(context, Content);
  const operation = `Failed to write blob "${descriptor.digest}" to containerd`;
  const ref = options.ref ?? `tsbuild-${descriptor.digest}`;
  const statAnswered = Promise.withResolvers<boolean>();
  const requests = writeRequests({ ref, descriptor, open, labels: options.labels ?? {} }, {
    statAnswered: statAnswered.promise,
  });

  let committed = false;
  try {
    for await (const response of client.write(requests, callOptions(context))) {
      if (response.action === WriteAction.STAT) statAnswered.resolve(true);
      if (response.action === WriteAction.WRITE) {
        options.onProgress?.(Number(response.offset), descriptor.size);
      }
      if (response.action === WriteAction.COMMIT) committed = true;
    }
  } catch (error) {
    statAnswered.resolve(false);
    const converted = commitError(convertError(context, operation, error), descriptor);
    if (converted instanceof AlreadyExistsError) return { written: false };
    await abortIngest(context, ref);
    throw converted;
  } finally {
    statAnswered.resolve(false);
  }
  if (!committed) {
    throw convertError(context, operation, new Error("containerd ended the write before commit"));
  }
  return { written: true };
}

// containerd reports a blob whose bytes do not hash to the expected digest as a failed
// precondition of the commit ("unexpected commit digest").
function commitError(error: Error, descriptor: { digest: Digest; size: number }): Error {
  if (!(error instanceof RemoteError) || error.data.reason !== "failed-precondition") return error;
  if (!error.message.includes("unexpected commit")) return error;
  return new DigestMismatchError(error.message, {
    cause: error,
    data: { digest: descriptor.digest, size: descriptor.size },
  });
}

// Drops what a failed write left in containerd's ingest directory. It is only tidying: a later
// write of the same ref starts over anyway, and a lease's ingests go with the lease.
async function abortIngest(context: CallContext, ref: string): Promise<void> {
  try {
    await serviceClient(context, Content).abort({ ref }, callOptions(context));
  } catch {
    // The connection may be the reason the write failed; the error that matters is the write's.
  }
}

interface WriteInput {
  ref: string;
  descriptor: { digest: Digest; size: number };
  open: () => Promise<ReadableStream<Uint8Array>>;
  labels: Record<string, string>;
}

async function* writeRequests(
  input: WriteInput,
  state: { statAnswered: Promise<boolean> },
): AsyncGenerator<WriteContentRequest> {
  const { ref, descriptor } = input;
  const total = BigInt(descriptor.size);
  yield create(WriteContentRequestSchema, {
    action: WriteAction.STAT,
    ref,
    total,
    expected: descriptor.digest,
  });
  if (!(await state.statAnswered)) return;

  // The first data message has offset 0, which makes containerd drop whatever an earlier,
  // failed write left under this ref.
  let offset = 0;
  for await (const data of rechunk(await input.open(), WRITE_CHUNK_BYTES)) {
    offset += data.byteLength;
    if (offset > descriptor.size) throw sizeMismatch(descriptor, `more than ${descriptor.size}`);
    yield create(WriteContentRequestSchema, {
      action: WriteAction.WRITE,
      ref,
      offset: BigInt(offset - data.byteLength),
      data,
    });
  }
  if (offset !== descriptor.size) throw sizeMismatch(descriptor, String(offset));

  yield create(WriteContentRequestSchema, {
    action: WriteAction.COMMIT,
    ref,
    offset: BigInt(offset),
    total,
    expected: descriptor.digest,
    labels: input.labels,
  });
}

function sizeMismatch(
  descriptor: { digest: Digest; size: number },
  received: string,
): DigestMismatchError {
  return new DigestMismatchError(
    `Failed to write blob "${descriptor.digest}" to containerd: the stream carried ${received} bytes, but the expected size is ${descriptor.size}`,
    { data: { digest: descriptor.digest, size: descriptor.size } },
  );
}

/** Re-cuts a stream into chunks of `size` bytes (the last may be shorter). */
async function* rechunk(
  stream: ReadableStream<Uint8Array>,
  size: number,
): AsyncGenerator<Uint8Array> {
  let buffer = new Uint8Array(size);
  let filled = 0;
  for await (const chunk of stream) {
    let position = 0;
    while (position < chunk.byteLength) {
      const count = Math.min(size - filled, chunk.byteLength - position);
      buffer.set(chunk.subarray(position, position + count), filled);
      filled += count;
      position += count;
      if (filled === size) {
        yield buffer;
        buffer = new Uint8Array(size);
        filled = 0;
      }
    }
  }
  if (filled > 0) yield buffer.subarray(0, filled);
}
