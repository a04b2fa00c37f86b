/**
 * Registry credentials read from Docker's config.json, the file `docker login` writes.
 *
 * @module
 */

import { join } from "../deps.ts";
import { InvalidInputError } from "../errors.ts";
import { homeDirectory } from "../fs/home.ts";

/** A user name and password (or access token) for one registry. */
export interface RegistryCredentials {
  username: string;
  password: string;
}

/** Credentials by registry host, as `readDockerCredentials()` returns them. */
export type CredentialMap = Map<string, RegistryCredentials>;

/**
 * Returns the path of Docker's config.json: in the folder that `DOCKER_CONFIG` names when it
 * is set, and in ~/.docker otherwise.
 */
export function defaultDockerConfigPath(): string {
  const folder = Deno.env.get("DOCKER_CONFIG") || join(homeDirectory(), ".docker");
  return join(folder, "config.json");
}

/**
 * Returns the registry host an `auths` key of config.json stands for: the scheme and path
 * are dropped ("https://index.docker.io/v1/" becomes "docker.io") and Docker Hub's other host
 * names become "docker.io".
 */
export function normalizeRegistryHost(key: string): string {
  const host = key.replace(/^[a-z]+:\/\//i, "").replace(/\/.*$/, "").toLowerCase();
  const dockerHubHosts = ["index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"];
  return dockerHubHosts.includes(host) ? "docker.io" : host;
}

/**
 * Reads the credentials in a Docker config.json (`path` may also name the folder that contains
 * it); a missing file means no credentials. An entry gives them as `auth`, base64 of
 * "user:password", or as `username` and `password` fields.
 *
 * NOTE: credential helpers (`credsStore`, `credHelpers`) and `identitytoken` entries are not
 * read, so registries whose login is kept by a helper are accessed anonymously.
 *
 * @throws {InvalidInputError} naming the file when it is not valid JSON or an entry is malformed.
 * Messages never contain the secrets themselves.
 */
export async function readDockerCredentials(
  path: string = defaultDockerConfigPath(),
): Promise<CredentialMap> {
  const file = await configFilePath(path);
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return new Map();
    throw error;
  }

  const auths = parseAuths(text, file);
  const credentials: CredentialMap = new Map();
  for (const [key, entry] of Object.entries(auths)) {
    const parsed = parseEntry(entry, file, key);
    if (parsed) credentials.set(normalizeRegistryHost(key), parsed);
  }
  return credentials;
}

async function configFilePath(path: string): Promise<string> {
  try {
    const info = await Deno.stat(path);
    return info.isDirectory ? join(path, "config.json") : path;
  } catch {
    return path;
  }
}

function parseAuths(text: string, file: string): Record<string, unknown> {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    // The SyntaxError is not kept as the cause because V8 quotes part of the file in it,
    // and that part may be a password.
    throw new InvalidInputError(`Failed to read Docker credentials from "${file}": invalid JSON`, {
      data: { path: file },
    });
  }
  if (typeof document !== "object" || document === null) return {};
  const auths = (document as { auths?: unknown }).auths;
  return typeof auths === "object" && auths !== null ? auths as Record<string, unknown> : {};
}

function parseEntry(entry: unknown, file: string, key: string): RegistryCredentials | undefined {
  if (typeof entry !== "object" || entry === null) return undefined;
  const { auth, username, password } = entry as Record<string, unknown>;

  if (typeof auth === "string" && auth !== "") {
    const decoded = decodeBase64(auth);
    const colon = decoded?.indexOf(":") ?? -1;
    if (decoded === undefined || colon === -1) {
      throw new InvalidInputError(
        `Failed to read Docker credentials from "${file}": the "auth" value for "${key}" is not base64 of "user:password"`,
        { data: { path: file, registry: key } },
      );
    }
    return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  if (typeof username === "string" && typeof password === "string") return { username, password };
  return undefined;
}

function decodeBase64(text: string): string | undefined {
  try {
    const binary = atob(text);
    return new TextDecoder().decode(Uint8Array.from(binary, (char) => char.charCodeAt(0)));
  } catch {
    return undefined;
  }
}
