/**
 * An example source plugin for `inline://NAME` identifiers whose attributes carry the files:
 * attribute "file:/PATH" contains a file's text and "mode:/PATH" its octal mode (default 644).
 * It needs no permission: the host hands it a directory of its own to fill.
 *
 * In a build program:
 *
 * ```ts ignore
 * const files = source("inline://greeting", { "file:/etc/greeting": "hello\n" });
 * const app = image(BASE).file(copy(files, "/etc/greeting", "/etc/greeting"));
 * ```
 *
 * @module
 */

import type {
  Plugin,
  PluginContext,
  SourceLoadArgs,
  SourceLoadResult,
  SourceResolveArgs,
  SourceResolveResult,
} from "../../mod.ts";

interface InlineFile {
  path: string;
  text: string;
  mode: number;
}

function inlineFiles(attrs: Record<string, string>): InlineFile[] {
  const files: InlineFile[] = [];
  for (const [key, text] of Object.entries(attrs)) {
    if (key.startsWith("mode:")) continue;
    if (!key.startsWith("file:/")) {
      throw new TypeError(
        `Unknown attribute "${key}" of an inline:// source (expected "file:/PATH" or "mode:/PATH")`,
      );
    }
    const path = key.slice("file:".length);
    if (path.split("/").includes("..")) {
      throw new TypeError(`Invalid inline file "${path}": ".." is not allowed`);
    }
    const modeText = attrs[`mode:${path}`] ?? "644";
    if (!/^[0-7]{3,4}$/.test(modeText)) {
      throw new TypeError(
        `Invalid mode "${modeText}" for inline file "${path}": expected octal, e.g. 755`,
      );
    }
    files.push({ path, text, mode: parseInt(modeText, 8) });
  }
  return files.sort((a, b) => (a.path < b.path ? -1 : 1));
}

async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

// The pin is the digest of the files themselves, so equal attributes hit the same cache entry.
async function onResolve(args: SourceResolveArgs): Promise<SourceResolveResult> {
  return { pin: `sha256:${await sha256(JSON.stringify(inlineFiles(args.attrs)))}` };
}

async function onLoad(args: SourceLoadArgs, context: PluginContext): Promise<SourceLoadResult> {
  const files = inlineFiles(args.attrs);
  const id = `inline-${args.pin.slice("sha256:".length)}`;
  const snapshot = await context.content.createSnapshot({ kind: "inline", id }, async (dir) => {
    for (const file of files) {
      const target = `${dir}${file.path}`;
      await Deno.mkdir(target.slice(0, target.lastIndexOf("/")), { recursive: true });
      await Deno.writeTextFile(target, file.text);
      await Deno.chmod(target, file.mode);
    }
  });
  context.logger.debug("inline source loaded", { name: args.path, files: files.length });
  return { snapshot };
}

const plugin: Plugin = {
  apiVersion: 1,
  name: "inline-source",
  sources: [{ schemes: ["inline"], onResolve, onLoad }],
};

export default plugin;
