/**
 * Submodules of a checkout: reading `.gitmodules` at a commit and working out
 * each submodule's remote URL, relative URLs included.
 *
 * @module
 */

import { InvalidInputError } from "../../core/errors.ts";
import { parseCommit, parseTree } from "./_git_objects.ts";
import type { PackReader } from "./_git_pack.ts";
import { type GitSource, normaliseUrl } from "./_git_url.ts";

/** One `[submodule "NAME"]` section of `.gitmodules`. */
export interface Submodule {
  name: string;
  path: string;
  url: string;
}

/** Reads `.gitmodules` at `commit` and returns its submodules by path; empty when there is none. */
export function readSubmodules(reader: PackReader, commit: string): Map<string, Submodule> {
  const { tree } = parseCommit(reader.readTyped(commit, "commit"));
  const entry = parseTree(reader.readTyped(tree, "tree")).find((candidate) =>
    candidate.name === ".gitmodules"
  );
  if (!entry || entry.type !== "blob") return new Map();
  return parseGitmodules(new TextDecoder().decode(reader.readTyped(entry.oid, "blob")));
}

/**
 * Parses the git-config text of `.gitmodules`. Only what a checkout needs is
 * read: section names, `path` and `url`; comments and other keys are skipped.
 */
export function parseGitmodules(text: string): Map<string, Submodule> {
  const sections: Array<Partial<Submodule> & { name: string }> = [];
  let current: (Partial<Submodule> & { name: string }) | undefined;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const header = /^\[\s*submodule\s+"((?:[^"\\]|\\.)*)"\s*\]$/.exec(line);
    if (header) {
      current = { name: header[1].replace(/\\(.)/g, "$1") };
      sections.push(current);
      continue;
    }
    if (line.startsWith("[")) {
      current = undefined;
      continue;
    }
    const equals = line.indexOf("=");
    if (!current || equals < 0) continue;
    const key = line.slice(0, equals).trim().toLowerCase();
    const value = unquote(line.slice(equals + 1).trim());
    if (key === "path") current.path = value.replace(/\/+$/, "");
    if (key === "url") current.url = value;
  }
  const byPath = new Map<string, Submodule>();
  for (const section of sections) {
    if (section.path && section.url) {
      byPath.set(section.path, { name: section.name, path: section.path, url: section.url });
    }
  }
  return byPath;
}

/**
 * Returns the source of submodule `submodule` of `parent`, pinned to
 * `commit`. A relative URL ("../lib.git", "./lib.git") is resolved against the
 * parent's URL as git does, and reuses the parent's credentials, which are
 * for the same server.
 */
export function submoduleSource(
  parent: GitSource,
  submodule: Submodule,
  commit: string,
): GitSource {
  const relative = submodule.url.startsWith("./") || submodule.url.startsWith("../");
  let text = submodule.url;
  if (relative) text = new URL(submodule.url, `${parent.url}/`).href;
  let normalised: ReturnType<typeof normaliseUrl>;
  try {
    normalised = normaliseUrl(text);
  } catch (error) {
    throw new InvalidInputError(
      `Failed to check out submodule "${submodule.path}" of "${parent.url}": ${
        (error as Error).message
      }`,
      { cause: error },
    );
  }
  const sameServer = new URL(normalised.url).host === new URL(parent.url).host;
  const userinfo = normalised.userinfo ?? (sameServer ? parent.userinfo : undefined);
  return {
    url: normalised.url,
    ...(userinfo ? { userinfo } : {}),
    ref: commit,
    subdir: "",
    keepGitDir: false,
    submodules: true,
  };
}

function unquote(value: string): string {
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
    return value.slice(1, -1).replace(/\\(.)/g, "$1");
  }
  return value;
}
