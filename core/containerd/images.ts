/**
 * containerd's image store: records that name a manifest or index in the content store.
 *
 * @module
 */

import { create } from "@bufbuild/protobuf";
import { FieldMaskSchema } from "@bufbuild/protobuf/wkt";
import { NotFoundError } from "../errors.ts";
import { call, type CallContext, serviceClient } from "./_call.ts";
import { dateFrom, descriptorFrom, descriptorMessage } from "./_convert.ts";
import { type Image, Images } from "./gen/containerd/services/images/v1/images_pb.ts";
import type { Descriptor, ImageRecord } from "./types.ts";

/** The fields of an image record a client sets. */
export interface ImageInput {
  name: string;
  target: Descriptor;
  labels?: Record<string, string>;
}

/** containerd's image store in one namespace. */
export interface ContainerdImageStore {
  /** Returns the record named `name`, or undefined when the namespace has none. */
  get(name: string): Promise<ImageRecord | undefined>;
  /** Returns the records matching any of containerd's `filters`, or every record. */
  list(filters?: string[]): Promise<ImageRecord[]>;
  /**
   * Creates a record.
   *
   * @throws {AlreadyExistsError} when the name is taken.
   * @throws {InvalidInputError} when containerd rejects the name, target or labels.
   */
  create(image: ImageInput): Promise<ImageRecord>;
  /**
   * Changes the record named `image.name`: the target, and each label in `image.labels` (an
   * empty value removes it); other labels stay.
   *
   * @throws {NotFoundError} when there is no such record.
   */
  update(image: ImageInput): Promise<ImageRecord>;
  /** Deletes a record; `sync` waits for the garbage collection that follows. */
  delete(name: string, options?: { sync?: boolean }): Promise<void>;
}

/** Returns the image store adapter for calls under `context`. */
export function createImageStore(context: CallContext): ContainerdImageStore {
  const client = serviceClient(context, Images);
  return {
    async get(name) {
      try {
        const response = await call(
          context,
          `Failed to get image "${name}"`,
          (options) => client.get({ name }, options),
        );
        return response.image ? imageRecordFrom(response.image) : undefined;
      } catch (error) {
        if (error instanceof NotFoundError) return undefined;
        throw error;
      }
    },
    async list(filters = []) {
      const response = await call(
        context,
        "Failed to list images",
        (options) => client.list({ filters }, options),
      );
      return response.images.map(imageRecordFrom);
    },
    async create(image) {
      const response = await call(
        context,
        `Failed to create image "${image.name}"`,
        (options) => client.create({ image: imageMessage(image) }, options),
      );
      return imageRecordFrom(response.image);
    },
    async update(image) {
      const paths = ["target", ...Object.keys(image.labels ?? {}).map((key) => `labels.${key}`)];
      const response = await call(
        context,
        `Failed to update image "${image.name}"`,
        (options) =>
          client.update({
            image: imageMessage(image),
            updateMask: create(FieldMaskSchema, { paths }),
          }, options),
      );
      return imageRecordFrom(response.image);
    },
    async delete(name, deleteOptions = {}) {
      await call(
        context,
        `Failed to delete image "${name}"`,
        (options) => client.delete({ name, sync: deleteOptions.sync ?? false }, options),
      );
    },
  };
}

function imageMessage(image: ImageInput) {
  return {
    name: image.name,
    target: descriptorMessage(image.target),
    labels: image.labels ?? {},
  };
}

function imageRecordFrom(image: Image | undefined): ImageRecord {
  return {
    name: image?.name ?? "",
    target: descriptorFrom(image?.target),
    labels: { ...image?.labels },
    createdAt: dateFrom(image?.createdAt),
    updatedAt: dateFrom(image?.updatedAt),
  };
}
