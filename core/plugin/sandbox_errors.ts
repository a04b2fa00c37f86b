/**
 * Error classes for plugins that run in a sandbox: a hook that failed and an access the plugin
 * was not granted.
 *
 * @module
 */

import { TsbuildError, type TsbuildErrorOptions } from "../errors.ts";

/** Where a failing plugin call came from: the plugin, its file and the hook. */
export interface PluginCallSite {
  /** The plugin's `name`. */
  plugin: string;
  /** The plugin file as the user named it, e.g. "./plugins/list.ts". */
  file: string;
  /** The hook and what it belongs to, e.g. `onExport of exporter "file-list"`. */
  hook?: string;
}

/**
 * A plugin hook threw or rejected. The message names the plugin, its file and the hook, and
 * `cause` keeps the plugin's own error with its stack mapped back to the plugin's files.
 */
export class PluginHookError extends TsbuildError {
  constructor(message: string, options: TsbuildErrorOptions & { site: PluginCallSite }) {
    super("PLUGIN_HOOK_FAILED", message, {
      ...options,
      data: { ...options.data, ...options.site },
    });
  }
}

/**
 * A sandboxed plugin reached for a file, host, program or variable it was not granted.
 * `data.kind` is the permission ("read", "write", "net", "run" or "env") and `data.target`
 * what the plugin tried to reach.
 */
export class PluginPermissionError extends TsbuildError {
  constructor(
    message: string,
    options: TsbuildErrorOptions & { site: PluginCallSite; kind: string; target: string },
  ) {
    super("PLUGIN_PERMISSION_DENIED", message, {
      ...options,
      data: { ...options.data, ...options.site, kind: options.kind, target: options.target },
    });
  }
}
