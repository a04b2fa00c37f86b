/**
 * Helpers of the converter tests: converting Dockerfile text with a fake
 * image resolver, and finding the ops an instruction produced.
 *
 * @module
 */

import { digestOf } from "../../../../core/digest.ts";
import { type Graph, type GraphVertex, loadGraph } from "../../../../core/graph/definition.ts";
import type {
  ExecOp,
  FileOp,
  Mount,
} from "../../../../core/graph/gen/tsbuild/graph/v1/definition_pb.ts";
import type { ImageConfig, Platform, ResolvedImage } from "../../../../mod.ts";
import { convertDockerfile } from "../../../../plugins/frontends/dockerfile/convert.ts";

/** The host-independent platform the tests build for. */
export const AMD64: Platform = { os: "linux", architecture: "amd64" };

/** Options for {@link plan}. */
export interface PlanOptions {
  buildArgs?: Record<string, string>;
  target?: string;
  platform?: Platform;
  buildPlatform?: Platform;
  /** Image configs by reference; any other reference gets a plain config. */
  images?: Record<string, ImageConfig>;
}

/** A converted Dockerfile. */
export interface Plan {
  graph: Graph;
  imageConfig: ImageConfig;
  warnings: string[];
  /** Every image reference the converter resolved, with the platform it asked for. */
  resolved: Array<{ reference: string; platform: Platform }>;
}

/** Converts `text` with a resolver that resolves every reference without a registry. */
export async function plan(text: string, options: PlanOptions = {}): Promise<Plan> {
  const warnings: string[] = [];
  const resolved: Plan["resolved"] = [];
  const definition = await convertDockerfile({
    file: "Dockerfile",
    text,
    buildArgs: options.buildArgs ?? {},
    target: options.target,
    platform: options.platform ?? AMD64,
    buildPlatform: options.buildPlatform ?? AMD64,
    excludes: [],
    resolveImage: (reference, platform) => {
      resolved.push({ reference, platform });
      return Promise.resolve(fakeImage(reference, platform, options.images?.[reference]));
    },
    onWarning: (message) => warnings.push(message),
  });
  const graph = loadGraph(definition);
  return { graph, imageConfig: (graph.imageConfig ?? {}) as ImageConfig, warnings, resolved };
}

/** Returns a resolved image pinned to a digest made from its reference and platform. */
export function fakeImage(
  reference: string,
  platform: Platform,
  config: ImageConfig = { config: { Env: ["PATH=/usr/bin:/bin"] } },
): ResolvedImage {
  const digest = digestOf(`${reference}|${platform.os}/${platform.architecture}`);
  return { pinned: `${reference.replace(/:[\w.-]+$/, "")}@${digest}`, digest, config };
}

/** Returns the ops whose progress location is `Dockerfile:line`. */
export function opsAt(plan: Plan, line: number): GraphVertex[] {
  return [...plan.graph.vertices.values()].filter((vertex) =>
    vertex.metadata?.location === `Dockerfile:${line}`
  );
}

/** Returns the exec op of the RUN on `line`. */
export function execAt(plan: Plan, line: number): ExecOp & { vertex: GraphVertex } {
  const vertex = opsAt(plan, line).find((candidate) => candidate.op.op.case === "exec");
  if (!vertex || vertex.op.op.case !== "exec") throw new Error(`No exec op for line ${line}`);
  return Object.assign(vertex.op.op.value, { vertex });
}

/** Returns the file op of the instruction on `line`. */
export function fileOpAt(plan: Plan, line: number): FileOp & { vertex: GraphVertex } {
  const vertex = opsAt(plan, line).find((candidate) => candidate.op.op.case === "file");
  if (!vertex || vertex.op.op.case !== "file") throw new Error(`No file op for line ${line}`);
  return Object.assign(vertex.op.op.value, { vertex });
}

/** Returns the mounts of an exec op besides its root filesystem. */
export function extraMounts(exec: ExecOp): Mount[] {
  return exec.mounts.filter((mount) => mount.dest !== "/");
}

/** Returns the op an input of `vertex` names. */
export function inputOp(plan: Plan, vertex: GraphVertex, index: number): GraphVertex {
  const digest = vertex.op.inputs[index]?.digest;
  const found = digest ? plan.graph.vertices.get(digest as `sha256:${string}`) : undefined;
  if (!found) throw new Error(`Op ${vertex.digest} has no input ${index}`);
  return found;
}

/** Returns the value of `name` in an op's environment. */
export function envOf(exec: ExecOp, name: string): string | undefined {
  const entry = exec.meta?.env.findLast((item) => item.startsWith(`${name}=`));
  return entry?.slice(name.length + 1);
}

/** Returns the converter's error for `text`, failing when it converts. */
export async function planError(text: string, options: PlanOptions = {}): Promise<Error> {
  try {
    await plan(text, options);
  } catch (error) {
    return error as Error;
  }
  throw new Error("Expected the conversion to fail");
}
