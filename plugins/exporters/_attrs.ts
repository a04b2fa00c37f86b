/**
 * Checks and reads the attributes of `--output type=NAME,key=value,...` for the built-in exporters.
 *
 * @module
 */

import type { BuildImageOptions, ExportCheckArgs } from "../../mod.ts";
// NOTE: plugins are meant to import only types from core. The plugin API does not offer error
// classes yet, so the built-in exporters take InvalidInputError from core until it does.
import { InvalidInputError } from "../../core/errors.ts";

/**
 * Rejects attributes that exporter `type` does not accept, naming the first unknown one and
 * listing the accepted ones.
 *
 * @throws {InvalidInputError} for an unknown attribute.
 */
export function checkAttrs(
  type: string,
  attrs: Record<string, string>,
  accepted: readonly string[],
): void {
  for (const key of Object.keys(attrs)) {
    if (accepted.includes(key)) continue;
    const list = accepted.map((name) => `"${name}"`).join(", ");
    throw new InvalidInputError(
      `Invalid output "type=${type}": unknown attribute "${key}" (accepted: ${list})`,
      {
        data: { type, attribute: key, accepted: [...accepted] },
      },
    );
  }
}

/**
 * Returns the `dest` attribute.
 *
 * @throws {InvalidInputError} when it is missing or empty, or is "-", since writing to standard
 * output is not supported.
 */
export function requireDest(type: string, attrs: Record<string, string>): string {
  const dest = attrs.dest;
  if (dest === undefined || dest === "") {
    throw new InvalidInputError(`Invalid output "type=${type}": missing "dest"`, {
      data: { type },
    });
  }
  if (dest === "-") {
    throw new InvalidInputError(
      `Invalid output "type=${type}": "dest=-" is not supported, because tsbuild cannot write to standard output yet`,
      { data: { type } },
    );
  }
  return dest;
}

/**
 * Returns a "true"/"false" attribute, or `fallback` when it is absent.
 *
 * @throws {InvalidInputError} for any other value.
 */
export function booleanAttr(
  type: string,
  attrs: Record<string, string>,
  key: string,
  fallback: boolean,
): boolean {
  const value = attrs[key];
  if (value === undefined) return fallback;
  if (value === "true") return true;
  if (value === "false") return false;
  throw new InvalidInputError(
    `Invalid output "type=${type}": "${key}" must be "true" or "false", got "${value}"`,
    {
      data: { type, attribute: key, value },
    },
  );
}

const COMPRESSIONS: Record<string, BuildImageOptions["compression"]> = {
  gzip: "gzip",
  zstd: "zstd",
  uncompressed: "none",
};

/**
 * Returns the layer compression named by the `compression` attribute ("gzip", "zstd" or
 * "uncompressed", as BuildKit names them), or undefined when it is absent.
 *
 * @throws {InvalidInputError} for any other value.
 */
export function compressionAttr(
  type: string,
  attrs: Record<string, string>,
): BuildImageOptions["compression"] {
  const value = attrs.compression;
  if (value === undefined) return undefined;
  const compression = COMPRESSIONS[value];
  if (compression !== undefined) return compression;
  const list = Object.keys(COMPRESSIONS).map((name) => `"${name}"`).join(", ");
  throw new InvalidInputError(
    `Invalid output "type=${type}": unknown compression "${value}" (accepted: ${list})`,
    {
      data: { type, attribute: "compression", value },
    },
  );
}

/**
 * Returns the names to export an image under: the `-t` names, then those of the `name`
 * attribute, which contains one or more names separated by commas as in BuildKit.
 */
export function imageNames(args: ExportCheckArgs): string[] {
  const fromAttr = (args.attrs.name ?? "").split(",").map((name) => name.trim()).filter((name) =>
    name !== ""
  );
  return [...args.names, ...fromAttr];
}
