/**
 * Image references ("busybox", "127.0.0.1:5000/app:1", "name@sha256:…"), parsed and
 * normalized the way Docker does.
 *
 * @module
 */

import type { Digest } from "../digest.ts";
import { InvalidInputError } from "../errors.ts";

/** A parsed, normalized image reference. */
export interface ImageReference {
  /** Registry host with optional port, such as "docker.io" or "127.0.0.1:5000". */
  registry: string;
  /** Repository path inside the registry, such as "library/busybox". */
  repository: string;
  /** Tag, such as "latest"; absent when the reference names only a digest. */
  tag?: string;
  /** Manifest digest that pins the reference, such as "sha256:…". */
  digest?: Digest;
}

/** The registry that references without a registry host name. */
export const DEFAULT_REGISTRY = "docker.io";
/** The tag that references with neither tag nor digest get. */
export const DEFAULT_TAG = "latest";

const MAX_NAME_LENGTH = 255;
const DOMAIN_COMPONENT = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const DOMAIN_PATTERN = new RegExp(
  `^(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?$`,
);
const PATH_COMPONENT_PATTERN = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG_PATTERN = /^[\w][\w.-]{0,127}$/;
const SHA256_DIGEST_PATTERN = /^sha256:[a-f0-9]{64}$/;
const HEX64_PATTERN = /^[a-f0-9]{64}$/;

/**
 * Parses an image reference and fills in Docker's defaults: a name without a registry host is
 * on docker.io, a single-component docker.io name is under "library/", and a reference with
 * neither tag nor digest gets the tag "latest".
 *
 * @example Normalizing a short name
 * ```ts
 * parseReference("busybox");
 * // { registry: "docker.io", repository: "library/busybox", tag: "latest" }
 * ```
 *
 * @throws {InvalidInputError} naming the reference and the part that is invalid.
 */
export function parseReference(text: string): ImageReference {
  const fail = (reason: string): never => {
    throw new InvalidInputError(`Invalid image reference "${text}": ${reason}`, {
      data: { reference: text },
    });
  };
  if (text === "") fail("the reference is empty");

  const [nameAndTag, digest, ...extra] = text.split("@");
  if (extra.length > 0) fail(`it contains more than one "@"`);
  if (digest !== undefined) checkDigest(digest, fail);

  const { name, tag } = splitTag(nameAndTag);
  if (tag !== undefined && !TAG_PATTERN.test(tag)) fail(`invalid tag "${tag}"`);
  const { registry, repository } = splitRegistry(name, fail);

  return {
    registry,
    repository,
    ...(tag !== undefined ? { tag } : digest === undefined ? { tag: DEFAULT_TAG } : {}),
    ...(digest !== undefined ? { digest: digest as Digest } : {}),
  };
}

/**
 * Formats a reference in full: "registry/repository[:tag][@digest]". The result parses back
 * to an equal reference.
 */
export function formatReference(reference: ImageReference): string {
  let text = `${reference.registry}/${reference.repository}`;
  if (reference.tag !== undefined) text += `:${reference.tag}`;
  if (reference.digest !== undefined) text += `@${reference.digest}`;
  return text;
}

function checkDigest(digest: string, fail: (reason: string) => never): void {
  if (SHA256_DIGEST_PATTERN.test(digest)) return;
  if (/^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/.test(digest)) {
    fail(`unsupported digest algorithm in "${digest}": only sha256 is supported`);
  }
  fail(`invalid digest "${digest}": expected "sha256:" and 64 lowercase hex digits`);
}

// A ":" after the last "/" starts the tag; one before it belongs to a registry port.
function splitTag(nameAndTag: string): { name: string; tag?: string } {
  const colon = nameAndTag.lastIndexOf(":");
  if (colon === -1 || nameAndTag.indexOf("/", colon) !== -1) return { name: nameAndTag };
  return { name: nameAndTag.slice(0, colon), tag: nameAndTag.slice(colon + 1) };
}

// Docker treats the first component as a registry host when it contains "." or ":", is
// "localhost", or has upper-case letters (which repository paths never have).
function splitRegistry(
  name: string,
  fail: (reason: string) => never,
): { registry: string; repository: string } {
  const slash = name.indexOf("/");
  const first = slash === -1 ? "" : name.slice(0, slash);
  const isHost = slash !== -1 &&
    (/[.:]/.test(first) || first === "localhost" || first !== first.toLowerCase());
  let registry = isHost ? first : DEFAULT_REGISTRY;
  let repository = isHost ? name.slice(slash + 1) : name;

  if (registry === "index.docker.io") registry = DEFAULT_REGISTRY;
  if (!DOMAIN_PATTERN.test(registry)) fail(`invalid registry host "${registry}"`);
  if (repository === "") fail("the repository name is empty");
  if (registry === DEFAULT_REGISTRY && !repository.includes("/")) {
    repository = `library/${repository}`;
  }
  checkRepository(name, repository, fail);
  return { registry, repository };
}

function checkRepository(name: string, repository: string, fail: (reason: string) => never) {
  if (HEX64_PATTERN.test(name)) {
    fail("a 64-character hex string is an image ID, not a repository name");
  }
  if (repository !== repository.toLowerCase()) fail("the repository name must be lowercase");
  for (const component of repository.split("/")) {
    if (!PATH_COMPONENT_PATTERN.test(component)) {
      fail(
        `invalid repository path component "${component}": use lowercase letters, digits and single separators (".", "_", "__", "-")`,
      );
    }
  }
  if (name.length > MAX_NAME_LENGTH) {
    fail(`the name is longer than ${MAX_NAME_LENGTH} characters`);
  }
}
