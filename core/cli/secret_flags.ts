/**
 * Parses `--secret id=NAME,src=PATH` and `--secret id=NAME,env=VAR` into a
 * secret provider that reads values only when a step mounts them.
 *
 * @module
 */

import { InvalidInputError, NotFoundError } from "../errors.ts";
import { readRegularFile } from "../fs/read_limited.ts";

/** BuildKit's limit for one secret, 500 KiB; secrets are tokens and keys, not archives. */
const MAX_SECRET_BYTES = 500 * 1024;
import type { SecretProvider } from "../solver/secrets.ts";

/** Returns a provider for the secrets named by `--secret` values. */
export function parseSecretFlags(values: string[]): SecretProvider {
  const sources = new Map<string, { file?: string; env?: string }>();
  for (const value of values) {
    const fields = Object.fromEntries(
      value.split(",").map((field) => {
        const equals = field.indexOf("=");
        return equals < 0 ? [field, ""] : [field.slice(0, equals), field.slice(equals + 1)];
      }),
    );
    const id = fields.id;
    if (!id) throw new InvalidInputError(`Invalid --secret "${value}": missing id=`);
    const file = fields.src ?? fields.source;
    const env = fields.env;
    if (!file && !env) {
      // As with buildx: a bare id reads the environment variable of that name.
      sources.set(id, { env: id });
      continue;
    }
    sources.set(id, { file, env });
  }
  return {
    async get(id) {
      const source = sources.get(id);
      if (!source) return undefined;
      if (source.file) {
        try {
          return await readRegularFile(source.file, MAX_SECRET_BYTES, `secret "${id}"`);
        } catch (error) {
          if (error instanceof InvalidInputError) throw error;
          throw new NotFoundError(
            `Failed to read secret "${id}" from "${source.file}": ${(error as Error).message}`,
          );
        }
      }
      const value = Deno.env.get(source.env!);
      if (value === undefined) {
        throw new NotFoundError(
          `Failed to read secret "${id}": environment variable "${source.env}" is not set`,
        );
      }
      return new TextEncoder().encode(value);
    },
  };
}
