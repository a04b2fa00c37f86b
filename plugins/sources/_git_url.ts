/**
 * Git source addresses: recognising a git URL, splitting `URL#ref:subdir`,
 * separating credentials from the URL, and the redacted form used in messages.
 *
 * @module
 */

import { createHash } from "../../core/deps.ts";
import { InvalidInputError } from "../../core/errors.ts";

/** A git source as the plugin uses it, with every option settled. */
export interface GitSource {
  /** The remote URL without credentials, fragment or trailing slash, e.g. "https://host/repo.git". */
  url: string;
  /** User name and password from the URL's userinfo, kept apart so no message can show them. */
  userinfo?: { username: string; password: string };
  /** Branch, tag, full or abbreviated commit hash; "HEAD" means the remote's default branch. */
  ref: string;
  /** Directory inside the repository whose contents become the result; "" for the whole tree. */
  subdir: string;
  /** Keep a `.git` directory in the result (only without `subdir`, as BuildKit does). */
  keepGitDir: boolean;
  /** Check out submodules too, each at the commit the superproject records. */
  submodules: boolean;
}

/** The parts of `URL#ref:subdir`. */
export interface GitUrlParts {
  url: string;
  ref?: string;
  subdir?: string;
}

/**
 * Reports whether `text` names a git repository rather than a file or an
 * archive, using the rules of BuildKit's Dockerfile frontend: `git://`,
 * `ssh://` and `git@host:` addresses, `github.com/` shorthand, and HTTP(S)
 * URLs whose path ends in `.git`.
 */
export function isGitUrl(text: string): boolean {
  if (/^git@[^:/]+:/.test(text)) return true;
  if (/^(git|ssh|git\+ssh|ssh\+git):\/\//i.test(text)) return true;
  if (text.startsWith("github.com/")) return true;
  const beforeFragment = text.split("#", 1)[0];
  return /^https?:\/\//i.test(text) && /\.git\/?$/.test(beforeFragment);
}

/** Splits `URL#ref:subdir` into its parts; a missing or empty part stays undefined. */
export function splitGitUrl(text: string): GitUrlParts {
  const hash = text.indexOf("#");
  if (hash < 0) return { url: text };
  const fragment = text.slice(hash + 1);
  const colon = fragment.indexOf(":");
  const ref = colon < 0 ? fragment : fragment.slice(0, colon);
  const subdir = colon < 0 ? "" : fragment.slice(colon + 1);
  return { url: text.slice(0, hash), ref: ref || undefined, subdir: subdir || undefined };
}

/**
 * Builds the {@link GitSource} of a `git://` identifier's path and attributes.
 * Attributes win over the URL's fragment, which BuildKit-style identifiers carry.
 */
export function parseGitSource(path: string, attrs: Record<string, string>): GitSource {
  const parts = splitGitUrl(path);
  const { url, userinfo } = normaliseUrl(parts.url);
  const subdir = normaliseSubdir(attrs.subdir ?? parts.subdir ?? "", url);
  const ref = (attrs.ref ?? parts.ref ?? "").trim() || "HEAD";
  if (ref.startsWith("-") || /[\s\0]/.test(ref)) {
    throw new InvalidInputError(`Invalid git reference "${ref}" for "${url}"`);
  }
  return {
    url,
    ...(userinfo ? { userinfo } : {}),
    ref,
    subdir,
    keepGitDir: subdir === "" && isTrue(attrs["keep-git-dir"]),
    submodules: isTrue(attrs.submodules),
  };
}

/**
 * Separates credentials from a remote URL and returns it in a canonical form:
 * scheme and host in lower case, no default port, no fragment, no trailing slash.
 * A URL with no scheme, such as "github.com/org/repo", means HTTPS.
 */
export function normaliseUrl(text: string): { url: string; userinfo?: GitSource["userinfo"] } {
  if (/^git@[^:/]+:/.test(text) || /^(git|ssh|git\+ssh|ssh\+git):\/\//i.test(text)) {
    throw new InvalidInputError(
      `Unsupported git URL "${
        redactUrl(text)
      }": tsbuild fetches git repositories over HTTP(S) only; use an https:// URL`,
    );
  }
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `https://${text}`;
  let parsed: URL;
  try {
    parsed = new URL(withScheme);
  } catch (error) {
    throw new InvalidInputError(`Invalid git URL "${redactUrl(text)}"`, { cause: error });
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new InvalidInputError(
      `Unsupported git URL "${redactUrl(text)}": expected an http:// or https:// URL`,
    );
  }
  const userinfo = parsed.username || parsed.password
    ? {
      username: decodeURIComponent(parsed.username),
      password: decodeURIComponent(parsed.password),
    }
    : undefined;
  parsed.username = "";
  parsed.password = "";
  parsed.hash = "";
  const url = parsed.href.replace(/\/+$/, "");
  return userinfo ? { url, userinfo } : { url };
}

/** Returns `text` with any `user:password@` part of a URL replaced by `***@`, for messages. */
export function redactUrl(text: string): string {
  return text.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@#?]*@/i, "$1***@");
}

/** Returns `text` with every URL userinfo in it redacted, for progress names and image history. */
export function redactUrls(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/@#?\s]*@/gi, "$1***@");
}

/** Returns the directory name of the shared repository for `url`: a digest, so any URL is a safe name. */
export function repositoryKey(url: string): string {
  return createHash("sha256").update(url).digest("hex").slice(0, 32);
}

function normaliseSubdir(subdir: string, url: string): string {
  const parts = subdir.split("/").filter((part) => part !== "" && part !== ".");
  if (parts.includes("..")) {
    throw new InvalidInputError(
      `Invalid subdirectory "${subdir}" for "${url}": it must stay inside the repository`,
    );
  }
  return parts.join("/");
}

function isTrue(value: string | undefined): boolean {
  return value === "true" || value === "1";
}
