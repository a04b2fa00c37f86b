/**
 * Finds the Authorization header for a git remote: from build secrets, the
 * URL's userinfo, or the TSBUILD_GIT_AUTH_TOKEN environment variable.
 *
 * @module
 */

import type { PluginContext } from "../../mod.ts";
import { Buffer } from "../../core/deps.ts";
import type { GitSource } from "./_git_url.ts";

/** An Authorization header value and the name of the setting it came from, for messages. */
export interface GitAuthorization {
  header: string;
  source: string;
}

/** The environment variable read when no secret or userinfo gives credentials. */
export const TOKEN_ENV = "TSBUILD_GIT_AUTH_TOKEN";

/**
 * Returns the Authorization header for `source`, or undefined for none. The
 * first of these wins, as in BuildKit:
 *
 * 1. secret `GIT_AUTH_HEADER.<host>`, then `GIT_AUTH_TOKEN.<host>`;
 * 2. secret `GIT_AUTH_HEADER`, then `GIT_AUTH_TOKEN`;
 * 3. the user name and password in the URL;
 * 4. the environment variable `TSBUILD_GIT_AUTH_TOKEN`.
 *
 * A `GIT_AUTH_HEADER` secret is the whole header value, e.g. "Bearer abc". A
 * token is sent as HTTP basic credentials with the user name "x-access-token",
 * which GitHub, GitLab and Gitea accept.
 */
export async function findAuthorization(
  source: GitSource,
  context: PluginContext,
): Promise<GitAuthorization | undefined> {
  const host = new URL(source.url).host;
  for (const suffix of [`.${host}`, ""]) {
    const header = await readSecret(context, `GIT_AUTH_HEADER${suffix}`);
    if (header) return { header, source: `secret "GIT_AUTH_HEADER${suffix}"` };
    const token = await readSecret(context, `GIT_AUTH_TOKEN${suffix}`);
    if (token) {
      return { header: basic("x-access-token", token), source: `secret "GIT_AUTH_TOKEN${suffix}"` };
    }
  }
  if (source.userinfo) {
    return {
      header: basic(source.userinfo.username, source.userinfo.password),
      source: "the URL's user name and password",
    };
  }
  const token = Deno.env.get(TOKEN_ENV);
  if (token) {
    return { header: basic("x-access-token", token), source: `environment variable ${TOKEN_ENV}` };
  }
  return undefined;
}

async function readSecret(context: PluginContext, id: string): Promise<string | undefined> {
  const bytes = await context.secrets?.get(id);
  if (!bytes) return undefined;
  const text = new TextDecoder().decode(bytes).trim();
  return text || undefined;
}

function basic(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}`;
}
