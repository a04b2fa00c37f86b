/**
 * Secrets a build may mount, by id, from files or environment variables.
 *
 * @module
 */

/** Looks up secret values by id; values never enter cache keys, layers or progress. */
export interface SecretProvider {
  /** Returns the secret's bytes, or undefined when no secret has that id. */
  get(id: string): Promise<Uint8Array | undefined>;
}
