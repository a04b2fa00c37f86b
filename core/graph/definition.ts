/**
 * Encoding, decoding and validation of a build Definition: the graph of ops
 * that frontends produce and the solver runs.
 *
 * @module
 */

import { create, fromBinary, fromJson, toBinary, toJson } from "@bufbuild/protobuf";
import type { JsonValue, MessageInitShape } from "@bufbuild/protobuf";
import { type Digest, digestOf } from "../digest.ts";
import { InvalidInputError } from "../errors.ts";
import {
  type Definition,
  DefinitionSchema,
  type Op,
  type OpMetadata,
  OpMetadataSchema,
  OpSchema,
} from "./gen/tsbuild/graph/v1/definition_pb.ts";

export type { Definition, Op, OpMetadata };

/** One decoded op with its digest, encoded bytes and metadata. */
export interface GraphVertex {
  digest: Digest;
  bytes: Uint8Array;
  op: Op;
  metadata?: OpMetadata;
}

/** A decoded, validated Definition. */
export interface Graph {
  vertices: Map<Digest, GraphVertex>;
  /** The op producing the result, or undefined for an empty result. */
  output?: Digest;
  imageConfig?: Record<string, unknown>;
  attributes: Record<string, string>;
}

/** Encodes `op` deterministically and returns its bytes and digest. */
export function encodeOp(op: Op): { bytes: Uint8Array; digest: Digest } {
  const bytes = toBinary(OpSchema, op);
  return { bytes, digest: digestOf(bytes) };
}

/** Serialises a Definition to protobuf bytes. */
export function encodeDefinition(definition: Definition): Uint8Array {
  return toBinary(DefinitionSchema, definition);
}

/** Parses protobuf bytes into a Definition, naming `source` when they are not one. */
export function decodeDefinition(bytes: Uint8Array, source = "definition"): Definition {
  try {
    return fromBinary(DefinitionSchema, bytes);
  } catch (error) {
    throw new InvalidInputError(`Failed to decode ${source}: not a tsbuild build definition`, {
      cause: error,
    });
  }
}

/** Returns a Definition as protobuf JSON, with op bytes decoded for reading. */
export function definitionToJson(definition: Definition): JsonValue {
  const graph = loadGraph(definition);
  const ops = [...graph.vertices.values()].map((vertex) => ({
    digest: vertex.digest,
    op: toJson(OpSchema, vertex.op),
    ...(vertex.metadata ? { metadata: toJson(OpMetadataSchema, vertex.metadata) } : {}),
  }));
  return {
    ops,
    output: graph.output ?? null,
    imageConfig: (graph.imageConfig ?? null) as JsonValue,
    attributes: graph.attributes,
  };
}

/** Builds a Definition from protobuf JSON as printed by {@link definitionToJson}'s `op` fields. */
export function opFromJson(json: JsonValue): Op {
  return fromJson(OpSchema, json);
}

/** Decodes every op of `definition`, checking that inputs exist and the graph has no cycle. */
export function loadGraph(definition: Definition): Graph {
  const vertices = new Map<Digest, GraphVertex>();
  for (const bytes of definition.ops) {
    const digest = digestOf(bytes);
    let op: Op;
    try {
      op = fromBinary(OpSchema, bytes);
    } catch (error) {
      throw new InvalidInputError(`Failed to decode op "${digest}": invalid protobuf`, {
        cause: error,
      });
    }
    vertices.set(digest, { digest, bytes, op, metadata: definition.metadata[digest] });
  }

  for (const vertex of vertices.values()) {
    for (const input of vertex.op.inputs) {
      if (!vertices.has(input.digest as Digest)) {
        throw new InvalidInputError(
          `Invalid definition: op "${vertex.digest}" reads input "${input.digest}", which is not in the definition`,
        );
      }
    }
  }
  checkAcyclic(vertices);

  const output = definition.output?.digest ? (definition.output.digest as Digest) : undefined;
  if (output && !vertices.has(output)) {
    throw new InvalidInputError(
      `Invalid definition: output op "${output}" is not in the definition`,
    );
  }
  return {
    vertices,
    output,
    imageConfig: decodeImageConfig(definition.imageConfig),
    attributes: { ...definition.attributes },
  };
}

function decodeImageConfig(bytes: Uint8Array): Record<string, unknown> | undefined {
  if (bytes.length === 0) return undefined;
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (error) {
    throw new InvalidInputError("Invalid definition: image config is not JSON", { cause: error });
  }
}

function checkAcyclic(vertices: Map<Digest, GraphVertex>): void {
  const state = new Map<Digest, "visiting" | "done">();
  const visit = (digest: Digest): void => {
    const seen = state.get(digest);
    if (seen === "done") return;
    if (seen === "visiting") {
      throw new InvalidInputError(`Invalid definition: op "${digest}" depends on itself`);
    }
    state.set(digest, "visiting");
    for (const input of vertices.get(digest)!.op.inputs) visit(input.digest as Digest);
    state.set(digest, "done");
  };
  for (const digest of vertices.keys()) visit(digest);
}

/** Creates an empty Definition message. */
export function createDefinition(
  init: MessageInitShape<typeof DefinitionSchema> = {},
): Definition {
  return create(DefinitionSchema, init);
}
