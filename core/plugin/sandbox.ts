/**
 * Runs one third-party plugin in Deno workers with only the permissions it declared and the user
 * granted: a first worker without any permission describes the plugin, and a second one, started
 * at the first hook call, runs the hooks.
 *
 * @module
 */

import { processExists } from "../fs/process_exists.ts";
import { randomBytes } from "../deps.ts";
import { CancelledError } from "../errors.ts";
import { parseReference } from "../oci/reference.ts";
import { bundleUrl, mapBundleStack, type PluginBundle } from "./_bundle.ts";
import { closeSteps, HOST_METHODS, HOST_NOTES, type HostScope } from "./sandbox_host.ts";
import { PluginHookError, PluginPermissionError } from "./sandbox_errors.ts";
import {
  covers,
  findDeniedAccess,
  grantAdvice,
  noPermissions,
  pathAllowed,
  type ResolvedPermissions,
  workerPermissions,
} from "./sandbox_permissions.ts";
import type { PluginContext } from "./types.ts";
import { createRpcEndpoint, type RpcEndpoint } from "./worker_rpc.ts";
import type { HookTarget, PluginDescription } from "./worker_runtime.ts";
import { workerScriptUrl } from "./worker_script.ts";

interface RunningWorker {
  worker: Worker;
  endpoint: RpcEndpoint;
  dataDir: string;
  stagingDir: string;
}

/** The kind of plugin entry a hook belongs to. */
export type HookKind = "source" | "exporter" | "frontend";

/** One plugin file, bundled, with the workers that run it. */
export class PluginSandbox implements AsyncDisposable {
  /** The plugin file as the user named it. */
  readonly file: string;
  readonly #bundle: PluginBundle;
  readonly #granted: ResolvedPermissions;
  readonly #scriptUrl: string;
  #name = "";
  #declared = noPermissions();
  #allowed = noPermissions();
  #hookWorker: Promise<RunningWorker> | undefined;
  #closed = false;
  readonly #scopes = new Map<number, HostScope>();
  #nextScopeId = 1;

  /**
   * @param file The plugin file as the user named it, used in messages.
   * @param bundle The plugin and its imports as one module.
   * @param granted What the user granted; the plugin gets at most what it also declares.
   */
  constructor(file: string, bundle: PluginBundle, granted: ResolvedPermissions) {
    this.file = file;
    this.#bundle = bundle;
    this.#granted = granted;
    this.#scriptUrl = workerScriptUrl(bundleUrl(bundle));
  }

  /** The plugin's `name`, known once {@link configure} ran; empty before. */
  get name(): string {
    return this.#name;
  }

  /** The permissions the plugin runs with: its declaration, narrowed to the user's grant. */
  get permissions(): ResolvedPermissions {
    return this.#allowed;
  }

  /**
   * Imports the plugin in a worker without any permission and describes its default export.
   * The module's top-level code runs there, and again in the worker that runs hooks.
   *
   * @throws {Error} with the module's own error, its stack mapped to the plugin's files.
   */
  async inspect(): Promise<PluginDescription> {
    const running = this.#startWorker(noPermissions(), "", "");
    try {
      return await running.endpoint.call("inspect") as PluginDescription;
    } catch (error) {
      throw this.#mapStack(error);
    } finally {
      running.endpoint.close(new Error("The inspection is over"));
      running.worker.terminate();
    }
  }

  /** Records the plugin's name and declared permissions, which narrow what it is granted. */
  configure(name: string, declared: ResolvedPermissions, allowed: ResolvedPermissions): void {
    this.#name = name;
    this.#declared = declared;
    this.#allowed = allowed;
  }

  /**
   * Runs a hook in the hook worker with `context` served from the host, and returns its result
   * with streams and callbacks reconnected.
   *
   * @param label The hook for messages, e.g. `onExport of exporter "file-list"`.
   * @throws {PluginPermissionError} when the hook reached for something it was not granted.
   * @throws {PluginHookError} when the hook threw, naming the plugin, file, hook and location.
   * @throws {CancelledError} when `context.signal` aborts first.
   */
  async callHook(
    target: HookTarget,
    label: string,
    kind: HookKind,
    args: Record<string, unknown>,
    context: PluginContext,
  ): Promise<unknown> {
    context.signal.throwIfAborted();
    let running: RunningWorker;
    try {
      running = await this.#workerFor(context);
    } catch (error) {
      throw this.#hookFailure(error, label);
    }
    const id = this.#nextScopeId++;
    const scope = this.#scope(running, context, kind, label);
    this.#scopes.set(id, scope);
    const info = { id, kind, platform: context.platform, locals: { ...context.locals } };
    const onAbort = () => running.endpoint.notify("abort", id, "The build was cancelled");
    context.signal.addEventListener("abort", onAbort, { once: true });
    try {
      const call = running.endpoint.call("hook", target, this.#marshalArgs(running, args), info);
      const result = await abortable(call, context.signal);
      return this.#unmarshalResult(running, result);
    } catch (error) {
      if (context.signal.aborted) throw new CancelledError(undefined, { cause: error });
      throw this.#hookFailure(error, label);
    } finally {
      context.signal.removeEventListener("abort", onAbort);
      await closeSteps(scope);
      this.#scopes.delete(id);
    }
  }

  /** Stops the workers and removes the staging directory. */
  async close(): Promise<void> {
    this.#closed = true;
    const hookWorker = this.#hookWorker;
    this.#hookWorker = undefined;
    const running = await hookWorker?.catch(() => undefined);
    if (running) await stopWorker(running);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #startWorker(
    permissions: ResolvedPermissions,
    dataDir: string,
    stagingDir: string,
  ): RunningWorker {
    const extra = dataDir ? [dataDir] : [];
    const worker = new Worker(this.#scriptUrl, {
      type: "module",
      name: `tsbuild plugin ${this.file}`,
      deno: {
        permissions: workerPermissions({
          ...permissions,
          read: [...permissions.read, ...extra],
          write: [...permissions.write, ...extra],
        }),
      },
    });
    const endpoint = createRpcEndpoint(worker, {
      context: (id: number, method: string, ...args: never[]) => this.#serve(id, method, args),
      contextNote: (id: number, method: string, ...args: never[]) => {
        const scope = this.#scopes.get(id);
        if (scope) HOST_NOTES[method]?.(scope, ...args);
      },
      unhandledRejection: (reason: string) => {
        for (const scope of this.#scopes.values()) {
          scope.context.logger.warn("A plugin promise rejected and nothing handled it", {
            file: this.file,
            reason: mapBundleStack(reason, this.#bundle.lines),
          });
          break;
        }
      },
    });
    worker.addEventListener("error", (event) => {
      event.preventDefault();
      endpoint.close(new Error(`the plugin's worker stopped: ${event.message}`));
      worker.terminate();
    });
    return { worker, endpoint, dataDir, stagingDir };
  }

  async #serve(id: number, method: string, args: never[]): Promise<unknown> {
    const scope = this.#scopes.get(id);
    const handler = HOST_METHODS[method];
    if (!scope) throw new Error(`The hook that made this call has already returned`);
    if (!handler) throw new Error(`Unknown context method "${method}"`);
    return await handler(scope, ...args);
  }

  // The hook worker may also read and write the plugin's data directory in the store, which
  // contains `dataDir()` and snapshot staging. A new store (another build) gets a new worker.
  #workerFor(context: PluginContext): Promise<RunningWorker> {
    const start = async (previous?: Promise<RunningWorker>): Promise<RunningWorker> => {
      const dataDir = await context.content.dataDir(`plugin-${safeName(this.#name)}`);
      const current = await previous?.catch(() => undefined);
      if (current && current.dataDir === dataDir) return current;
      if (current) await stopWorker(current);
      if (this.#closed) throw new Error(`the plugin was unloaded`);
      const stagingDir = await prepareStaging(dataDir);
      return this.#startWorker(this.#allowed, dataDir, stagingDir);
    };
    this.#hookWorker = start(this.#hookWorker);
    return this.#hookWorker;
  }

  #scope(
    running: RunningWorker,
    context: PluginContext,
    kind: HookKind,
    label: string,
  ): HostScope {
    const writable = [...this.#allowed.write, running.dataDir];
    const readable = [...this.#allowed.read, ...writable];
    return {
      context,
      kind,
      endpoint: running.endpoint,
      dataDir: running.dataDir,
      stagingDir: running.stagingDir,
      steps: new Map(),
      checkWrite: async (path, through) => {
        if (typeof path !== "string" || !(await pathAllowed(path, writable))) {
          throw this.#denied(
            { kind: "write", target: String(path) },
            `through ${through} in ${label}`,
          );
        }
      },
      checkRead: async (path, through) => {
        if (typeof path !== "string" || !(await pathAllowed(path, readable))) {
          throw this.#denied(
            { kind: "read", target: String(path) },
            `through ${through} in ${label}`,
          );
        }
      },
      checkRegistry: (reference, through) => {
        const host = typeof reference === "string"
          ? parseReference(reference).registry
          : String((reference as { registry?: unknown })?.registry);
        if (!this.#allowed.net.some((entry) => covers("net", entry, host))) {
          throw this.#denied({ kind: "net", target: host }, `through ${through} in ${label}`);
        }
      },
    };
  }

  #marshalArgs(running: RunningWorker, args: Record<string, unknown>): Record<string, unknown> {
    if (!(args.stdin instanceof ReadableStream)) return args;
    return { ...args, stdin: running.endpoint.exportStream(args.stdin) };
  }

  #unmarshalResult(running: RunningWorker, result: unknown): unknown {
    if (typeof result !== "object" || result === null) return result;
    const { selectionDigest } = result as { selectionDigest?: unknown };
    if (typeof selectionDigest !== "number") return result;
    const remote = running.endpoint.importFunction(selectionDigest);
    return { ...result, selectionDigest: (patterns: string[]) => remote(patterns) };
  }

  // `where` describes how the access was attempted, e.g. `in onExport of exporter "x"`.
  #denied(
    access: { kind: string; target: string },
    where: string,
    cause?: unknown,
  ): PluginPermissionError {
    return new PluginPermissionError(
      `Plugin "${this.#name}" (${this.file}) was denied ${access.kind} access to "${access.target}" ${where}: ${
        grantAdvice(access, this.#declared)
      }`,
      { cause, site: { plugin: this.#name, file: this.file }, ...access },
    );
  }

  #hookFailure(error: unknown, label: string): Error {
    const site = { plugin: this.#name, file: this.file, hook: label };
    const ownDenial = findCode(error, "PLUGIN_PERMISSION_DENIED");
    if (ownDenial) {
      const data = (ownDenial as Error & { data?: Record<string, string> }).data ?? {};
      return new PluginPermissionError(ownDenial.message, {
        cause: error,
        site,
        kind: data.kind ?? "",
        target: data.target ?? "",
      });
    }
    const access = findDeniedAccess(error);
    if (access) return this.#denied(access, `in ${label}`, error);
    if (findCode(error, "CANCELLED")) return new CancelledError(undefined, { cause: error });

    const mapped = this.#mapStack(error);
    const location = pluginLocation(mapped, this.#bundle.lines.map((lines) => lines.display));
    const message = String((mapped as Error)?.message ?? mapped);
    return new PluginHookError(
      `Plugin "${this.#name}" (${this.file}) failed in ${label}: ${message}${
        location ? ` (at ${location})` : ""
      }`,
      { cause: mapped, site },
    );
  }

  #mapStack(error: unknown): unknown {
    if (error instanceof Error && error.stack) {
      error.stack = mapBundleStack(error.stack, this.#bundle.lines);
    }
    return error;
  }
}

/** Rejects when `signal` aborts, without waiting for `promise`. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

async function stopWorker(running: RunningWorker): Promise<void> {
  running.endpoint.close(new Error("the plugin was unloaded"));
  running.worker.terminate();
  await Deno.remove(running.stagingDir, { recursive: true }).catch(() => {});
}

// Staging directories are named after the process, so that one left by a dead process can be
// distinguished from one in use by a concurrent build.
async function prepareStaging(dataDir: string): Promise<string> {
  const root = `${dataDir}/.staging`;
  await Deno.mkdir(root, { recursive: true });
  for await (const entry of Deno.readDir(root)) {
    const pid = Number(entry.name.split("-")[0]);
    if (Number.isInteger(pid) && pid !== Deno.pid && !processExists(pid)) {
      await Deno.remove(`${root}/${entry.name}`, { recursive: true }).catch(() => {});
    }
  }
  const dir = `${root}/${Deno.pid}-${randomBytes(4).toString("hex")}`;
  await Deno.mkdir(dir);
  return dir;
}

function safeName(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]/g, "_") || "unnamed";
}

function findCode(error: unknown, code: string): Error | undefined {
  for (let current = error, depth = 0; current instanceof Error && depth < 8; depth++) {
    if ((current as Error & { code?: string }).code === code) return current;
    current = current.cause;
  }
  return undefined;
}

// Returns "file:line" of the first stack frame inside the plugin's own files. The column is left
// out because the transpiler puts its helpers at the start of line 1.
function pluginLocation(error: unknown, files: string[]): string | undefined {
  const stack = (error as Error)?.stack ?? "";
  for (const line of stack.split("\n").slice(1)) {
    const match = line.match(/\(?(\S+):(\d+):\d+\)?$/);
    if (match && files.includes(match[1])) return `${match[1]}:${match[2]}`;
  }
  return undefined;
}
