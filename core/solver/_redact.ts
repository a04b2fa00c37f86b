/**
 * Masks secret values in a process's output before it reaches progress or errors.
 *
 * @module
 */

/** The text that replaces each occurrence of a secret value. */
export const REDACTED = new TextEncoder().encode("****");

/** A stream filter that replaces secret values, even when one is split across chunks. */
export interface Redactor {
  /** Returns the bytes of `chunk` that are safe to pass on; a possible secret prefix is held back. */
  push(chunk: Uint8Array): Uint8Array;
  /** Returns what is still held back, at the end of the stream. */
  flush(): Uint8Array;
}

/**
 * Creates a redactor for `secrets`. Empty values are ignored. Until a chunk
 * shows that a secret does not continue, up to the longest secret's length
 * minus one byte are held back, so output may arrive slightly later.
 */
export function createRedactor(secrets: Uint8Array[]): Redactor {
  const values = secrets.filter((value) => value.length > 0).sort((a, b) => b.length - a.length);
  if (values.length === 0) return { push: (chunk) => chunk, flush: () => new Uint8Array() };
  const holdBack = values[0].length - 1;
  let pending: Uint8Array = new Uint8Array();

  return {
    push(chunk) {
      const text = concat(pending, chunk);
      const { output, rest } = replaceAll(text, values, holdBack);
      pending = rest;
      return output;
    },
    flush() {
      const { output } = replaceAll(pending, values, 0);
      pending = new Uint8Array();
      return output;
    },
  };
}

// Replaces every complete match, and keeps back the last `holdBack` bytes when they could be
// the start of a match that the next chunk completes.
function replaceAll(
  text: Uint8Array,
  values: Uint8Array[],
  holdBack: number,
): { output: Uint8Array; rest: Uint8Array } {
  const parts: Uint8Array[] = [];
  let start = 0;
  let position = 0;
  while (position < text.length) {
    const match = values.find((value) => startsWith(text, position, value));
    if (match) {
      parts.push(text.subarray(start, position), REDACTED);
      position += match.length;
      start = position;
      continue;
    }
    if (
      text.length - position <= holdBack &&
      values.some((value) => isPrefixAt(text, position, value))
    ) {
      break;
    }
    position++;
  }
  parts.push(text.subarray(start, position));
  return { output: concat(...parts), rest: text.slice(position) };
}

function startsWith(text: Uint8Array, position: number, value: Uint8Array): boolean {
  if (position + value.length > text.length) return false;
  for (let i = 0; i < value.length; i++) if (text[position + i] !== value[i]) return false;
  return true;
}

// Reports whether the rest of `text` from `position` is a proper prefix of `value`.
function isPrefixAt(text: Uint8Array, position: number, value: Uint8Array): boolean {
  const length = text.length - position;
  if (length >= value.length) return false;
  for (let i = 0; i < length; i++) if (text[position + i] !== value[i]) return false;
  return true;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const total = parts.reduce((sum, part) => sum + part.length, 0);
  const result = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    result.set(part, offset);
    offset += part.length;
  }
  return result;
}
