/**
 * Hand-made tar blocks for archives that no tar program writes: odd names,
 * binary PAX values, broken fields.
 *
 * @module
 */

import { concatBytes } from "../../../core/registry/_body.ts";

const encoder = new TextEncoder();

/** Encodes one ustar header block, for archives that no tar program writes. */
export function headerBlock(
  name: string,
  flag: string,
  size: number,
  fields: { linkname?: string; mode?: number; mtime?: number } = {},
): Uint8Array {
  const block = new Uint8Array(512);
  const field = (offset: number, text: string) => block.set(encoder.encode(text), offset);
  field(0, name);
  field(100, `${(fields.mode ?? 0o644).toString(8).padStart(7, "0")}\0`);
  field(108, "0000000\0");
  field(116, "0000000\0");
  field(124, `${size.toString(8).padStart(11, "0")}\0`);
  field(136, `${(fields.mtime ?? 0).toString(8).padStart(11, "0")}\0`);
  field(157, fields.linkname ?? "");
  field(156, flag);
  field(257, "ustar\u000000");
  block.fill(0x20, 148, 156);
  const sum = block.reduce((total, byte) => total + byte, 0);
  field(148, `${sum.toString(8).padStart(6, "0")}\0 `);
  return block;
}

/** Pads `data` with zeros to a whole number of 512-byte blocks. */
export function padded(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.ceil(data.length / 512) * 512);
  out.set(data);
  return out;
}

/** Encodes a PAX record "LENGTH KEY=VALUE\n" whose value may be binary. */
export function paxRecord(key: string, value: Uint8Array): Uint8Array {
  const rest = encoder.encode(` ${key}=`).length + value.length + 1;
  let length = rest + 1;
  while (String(length).length + rest !== length) length++;
  return concat([encoder.encode(`${length} ${key}=`), value, encoder.encode("\n")]);
}

/** Joins byte arrays into one. */
export function concat(parts: Uint8Array[]): Uint8Array {
  return concatBytes(parts, parts.reduce((total, part) => total + part.length, 0));
}
