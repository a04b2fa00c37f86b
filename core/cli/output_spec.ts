/**
 * Parses `--output` values as buildx and buildctl accept them:
 * `type=oci,dest=out.tar`, `type=local,dest=dir`, or a bare path meaning a
 * local directory.
 *
 * @module
 */

import { InvalidInputError } from "../errors.ts";

/** One requested output: the exporter's name and its options. */
export interface OutputSpec {
  type: string;
  attrs: Record<string, string>;
}

/** Parses one `--output` value. */
export function parseOutputSpec(value: string): OutputSpec {
  if (!value.includes("=")) {
    // buildx: "-o DIR" exports the filesystem; "-o -" writes a tar to stdout.
    return value === "-"
      ? { type: "tar", attrs: { dest: "-" } }
      : { type: "local", attrs: { dest: value } };
  }
  const attrs: Record<string, string> = {};
  for (const field of splitFields(value)) {
    const equals = field.indexOf("=");
    if (equals <= 0) {
      throw new InvalidInputError(
        `Invalid --output "${value}": expected key=value, got "${field}"`,
      );
    }
    attrs[field.slice(0, equals).trim()] = field.slice(equals + 1);
  }
  const type = attrs.type;
  if (!type) {
    throw new InvalidInputError(
      `Invalid --output "${value}": missing "type=" (for example type=oci,dest=image.tar)`,
    );
  }
  delete attrs.type;
  return { type, attrs };
}

/** Parses the older buildctl spelling: `--exporter NAME --exporter-opt k=v ...`. */
export function parseExporterFlags(exporter: string, options: string[]): OutputSpec {
  const attrs: Record<string, string> = {};
  for (const option of options) {
    const equals = option.indexOf("=");
    if (equals <= 0) {
      throw new InvalidInputError(`Invalid --exporter-opt "${option}": expected key=value`);
    }
    attrs[option.slice(0, equals)] = option.slice(equals + 1);
  }
  return { type: exporter, attrs };
}

// Splits on commas outside double quotes, as CSV does, so that a value such
// as name="a,b" keeps its comma.
function splitFields(value: string): string[] {
  const fields: string[] = [];
  let current = "";
  let quoted = false;
  for (const char of value) {
    if (char === '"') quoted = !quoted;
    else if (char === "," && !quoted) {
      fields.push(current);
      current = "";
    } else current += char;
  }
  fields.push(current);
  return fields.filter((field) => field.length > 0);
}
