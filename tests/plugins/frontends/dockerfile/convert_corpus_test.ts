/**
 * Golden tests over the Dockerfile corpus in tests/testdata/dockerfile/corpus.
 * Each Dockerfile is converted for its platforms with a fake image resolver.
 * A summary of the plan (every op with its mounts, the image config and the
 * warnings) is compared with the folder's plan.json.
 *
 * Run with UPDATE_GOLDEN=1 to rewrite plan.json after a deliberate change,
 * then review the diff. tests/e2e/dockerfile_corpus_test.ts builds the cases
 * that need only the loopback registry.
 *
 * @module
 */

import { assertEquals } from "../../../_assert.ts";
import type { GraphVertex } from "../../../../core/graph/definition.ts";
import {
  CacheSharing,
  type FileAction,
  type Mount,
  MountType,
  NetworkMode,
} from "../../../../core/graph/gen/tsbuild/graph/v1/definition_pb.ts";
import { parsePlatform } from "../../../../core/oci/platform.ts";
import { type Plan, plan } from "./_convert_fixture.ts";

const CORPUS = new URL("../../../testdata/dockerfile/corpus/", import.meta.url);
const UPDATE_GOLDEN = Deno.env.get("UPDATE_GOLDEN") === "1";

interface CorpusCase {
  mode: "build" | "plan";
  buildArgs?: Record<string, string>;
  platforms?: string[];
}

function caseNames(): string[] {
  return [...Deno.readDirSync(CORPUS)].filter((entry) => entry.isDirectory)
    .map((entry) => entry.name).sort();
}

function mountSummary(mount: Mount): Record<string, unknown> {
  const summary: Record<string, unknown> = {
    type: MountType[mount.type].toLowerCase(),
    dest: mount.dest,
  };
  if (mount.type === MountType.BIND || mount.type === MountType.CACHE) {
    summary.readonly = mount.readonly;
    if (mount.selector) summary.selector = mount.selector;
    summary.input = mount.input >= 0 ? "op" : "none";
  }
  if (mount.cache) {
    summary.cache = {
      id: mount.cache.id,
      sharing: CacheSharing[mount.cache.sharing].toLowerCase(),
    };
  }
  if (mount.secret) {
    const { id, env, optional, mode, uid, gid } = mount.secret;
    summary.secret = { id, env, optional, mode: mode.toString(8), uid, gid };
  }
  if (mount.ssh) summary.ssh = { id: mount.ssh.id, optional: mount.ssh.optional };
  if (mount.tmpfs) summary.tmpfsSize = Number(mount.tmpfs.size);
  return summary;
}

function actionSummary(action: FileAction): Record<string, unknown> {
  const value = action.action.value!;
  const base: Record<string, unknown> = { action: action.action.case };
  if (action.action.case === "copy") {
    const copy = action.action.value;
    return {
      ...base,
      src: copy.src,
      dest: copy.dest,
      ...(copy.owner ? { owner: `${copy.owner.user}:${copy.owner.group}` } : {}),
      ...(copy.mode ? { mode: copy.mode.toString(8) } : {}),
      ...(copy.excludePatterns.length ? { exclude: copy.excludePatterns } : {}),
      ...(copy.includePatterns.length ? { include: copy.includePatterns } : {}),
      ...(copy.attemptUnpack ? { unpack: true } : {}),
    };
  }
  if (action.action.case === "mkfile") {
    return { ...base, path: action.action.value.path, size: action.action.value.data.length };
  }
  return { ...base, path: (value as { path: string }).path };
}

function opSummary(vertex: GraphVertex): Record<string, unknown> {
  const op = vertex.op.op;
  const platform = vertex.op.platform
    ? [vertex.op.platform.os, vertex.op.platform.architecture, vertex.op.platform.variant]
      .filter(Boolean).join("/")
    : undefined;
  const summary: Record<string, unknown> = {
    ...(vertex.metadata?.location ? { location: vertex.metadata.location } : {}),
    ...(vertex.metadata?.description ? { description: vertex.metadata.description } : {}),
    op: op.case,
    ...(platform ? { platform } : {}),
  };
  switch (op.case) {
    case "source":
      return { ...summary, identifier: op.value.identifier, attrs: op.value.attrs };
    case "exec":
      return {
        ...summary,
        args: op.value.meta?.args,
        cwd: op.value.meta?.cwd,
        user: op.value.meta?.user,
        env: op.value.meta?.env,
        network: NetworkMode[op.value.network].toLowerCase(),
        mounts: op.value.mounts.filter((mount) => mount.dest !== "/").map(mountSummary),
      };
    case "file":
      return { ...summary, actions: op.value.actions.map(actionSummary) };
    default:
      return { ...summary, inputs: vertex.op.inputs.length };
  }
}

function planSummary(result: Plan): Record<string, unknown> {
  const ops = [...result.graph.vertices.values()].map(opSummary);
  ops.sort((a, b) => JSON.stringify(a) < JSON.stringify(b) ? -1 : 1);
  return {
    resolved: result.resolved.map(({ reference, platform }) =>
      `${reference} for ${platform.os}/${platform.architecture}`
    ),
    imageConfig: result.imageConfig,
    ops,
  };
}

for (const name of caseNames()) {
  Deno.test(`convertDockerfile() plans corpus case ${name}`, async () => {
    const folder = new URL(`${name}/`, CORPUS);
    const testCase: CorpusCase = JSON.parse(Deno.readTextFileSync(new URL("case.json", folder)));
    const text = Deno.readTextFileSync(new URL("Dockerfile", folder));
    const buildArgs = {
      ...(testCase.mode === "build" ? { BASE: "corpus.test/base:1" } : {}),
      ...testCase.buildArgs,
    };
    const summary: Record<string, unknown> = { platforms: {}, warnings: [] as string[] };
    for (const platform of testCase.platforms ?? ["linux/amd64"]) {
      const result = await plan(text, { buildArgs, platform: parsePlatform(platform) });
      (summary.platforms as Record<string, unknown>)[platform] = planSummary(result);
      summary.warnings = result.warnings;
    }

    const json = JSON.stringify(summary, null, 2) + "\n";
    const expectedUrl = new URL("plan.json", folder);
    if (UPDATE_GOLDEN) Deno.writeTextFileSync(expectedUrl, json);
    assertEquals(JSON.parse(json), JSON.parse(Deno.readTextFileSync(expectedUrl)));
  });
}
