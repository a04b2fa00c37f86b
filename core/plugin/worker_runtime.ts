/**
 * The code that runs inside a plugin worker: it imports the plugin bundle, describes the default
 * export to tsbuild, and runs hooks when tsbuild calls them.
 *
 * @module
 */

import { createRpcEndpoint, type RpcPort } from "./worker_rpc.ts";
import { createWorkerContext, type WorkerContextInfo } from "./worker_context.ts";

/** A list in the default export (`sources`, `exporters`, `frontends`) as the worker saw it. */
export type ListDescription<T> = undefined | "not-a-list" | Array<T | "not-an-object">;

/** The worker's report on a plugin module, in a form that can cross `postMessage`. */
export interface PluginDescription {
  hasDefault: boolean;
  /** `typeof` the default export, or "null" or "array". */
  defaultType: string;
  /** The default export's own keys. */
  keys: string[];
  apiVersion: unknown;
  name: unknown;
  permissions: unknown;
  sources: ListDescription<SourceDescription>;
  exporters: ListDescription<ExporterDescription>;
  frontends: ListDescription<FrontendDescription>;
}

/** A source entry as the worker saw it: its schemes and which hooks are functions. */
export interface SourceDescription {
  schemes: unknown;
  onResolve: boolean;
  onLoad: boolean;
}

/** An exporter entry as the worker saw it. */
export interface ExporterDescription {
  name: unknown;
  onCheck: boolean;
  onExport: boolean;
}

/** A frontend entry as the worker saw it. */
export interface FrontendDescription {
  name: unknown;
  onBuild: boolean;
}

/** A hook to run: the list in the default export, the entry's index and the hook's name. */
export interface HookTarget {
  list: "sources" | "exporters" | "frontends";
  index: number;
  hook: "onResolve" | "onLoad" | "onCheck" | "onExport" | "onBuild";
}

/**
 * Describes `moduleExports`, the plugin bundle's exports.
 *
 * NOTE: the worker receives this function's source text, so the body uses no outside name.
 */
export function describePluginModule(moduleExports: Record<string, unknown>): PluginDescription {
  const copy = (value: unknown): unknown => {
    try {
      return structuredClone(value);
    } catch {
      return String(value);
    }
  };
  const isObject = (value: unknown): value is Record<string, unknown> =>
    typeof value === "object" && value !== null && !Array.isArray(value);
  const describeList = <T>(value: unknown, describe: (entry: Record<string, unknown>) => T) => {
    if (value === undefined) return undefined;
    if (!Array.isArray(value)) return "not-a-list" as const;
    return value.map((entry) => (isObject(entry) ? describe(entry) : "not-an-object" as const));
  };

  const hasDefault = Object.hasOwn(moduleExports, "default");
  const plugin = moduleExports.default;
  const defaultType = plugin === null ? "null" : Array.isArray(plugin) ? "array" : typeof plugin;
  if (!isObject(plugin)) {
    return {
      hasDefault,
      defaultType,
      keys: [],
      apiVersion: undefined,
      name: undefined,
      permissions: undefined,
      sources: undefined,
      exporters: undefined,
      frontends: undefined,
    };
  }
  return {
    hasDefault,
    defaultType,
    keys: Object.keys(plugin),
    apiVersion: copy(plugin.apiVersion),
    name: copy(plugin.name),
    permissions: copy(plugin.permissions),
    sources: describeList(plugin.sources, (source) => ({
      schemes: copy(source.schemes),
      onResolve: typeof source.onResolve === "function",
      onLoad: typeof source.onLoad === "function",
    })),
    exporters: describeList(plugin.exporters, (exporter) => ({
      name: copy(exporter.name),
      onCheck: typeof exporter.onCheck === "function",
      onExport: typeof exporter.onExport === "function",
    })),
    frontends: describeList(plugin.frontends, (frontend) => ({
      name: copy(frontend.name),
      onBuild: typeof frontend.onBuild === "function",
    })),
  };
}

/**
 * Serves tsbuild's calls inside the worker: "inspect" imports the bundle from `bundleUrl` and
 * describes it, "hook" runs one hook with a context that calls back to tsbuild, and the note
 * "abort" aborts a running hook's signal.
 *
 * NOTE: the worker receives this function's source text next to `createRpcEndpoint`,
 * `createWorkerContext` and `describePluginModule`, so the body uses no other outside name.
 */
export function runPluginWorker(bundleUrl: string): void {
  let loaded: Promise<{ moduleExports: Record<string, unknown> }> | undefined;
  const load = () => (loaded ??= import(bundleUrl));
  const aborts = new Map<number, AbortController>();
  const port = globalThis as unknown as RpcPort;

  const runHook = async (
    target: HookTarget,
    args: Record<string, unknown>,
    info: WorkerContextInfo,
  ) => {
    const plugin = (await load()).moduleExports.default as Record<string, unknown[]>;
    const owner = plugin[target.list][target.index] as Record<
      string,
      (...args: unknown[]) => unknown
    >;
    const controller = new AbortController();
    aborts.set(info.id, controller);
    try {
      const context = createWorkerContext(endpoint, info, controller.signal);
      const hookArgs = typeof args.stdin === "number"
        ? { ...args, stdin: endpoint.importStream(args.stdin) }
        : args;
      const result = await owner[target.hook].call(owner, hookArgs, context);
      return marshalResult(target, result);
    } finally {
      aborts.delete(info.id);
    }
  };

  // onResolve may return selectionDigest, a function, which crosses as an id.
  const marshalResult = (target: HookTarget, result: unknown) => {
    if (target.hook !== "onResolve" || typeof result !== "object" || result === null) return result;
    const { selectionDigest, ...rest } = result as Record<string, unknown>;
    if (typeof selectionDigest !== "function") return result;
    return { ...rest, selectionDigest: endpoint.exportFunction(selectionDigest as () => unknown) };
  };

  const endpoint = createRpcEndpoint(port, {
    inspect: async () => describePluginModule((await load()).moduleExports),
    hook: runHook,
    abort: (id: number, reason: string) => {
      aborts.get(id)?.abort(new DOMException(reason, "AbortError"));
    },
  });

  // A promise the plugin forgot to await must not end the worker; tsbuild logs it as a warning.
  globalThis.addEventListener("unhandledrejection", (event) => {
    event.preventDefault();
    const reason = event.reason as Error | undefined;
    endpoint.notify("unhandledRejection", String(reason?.stack ?? reason));
  });
}
