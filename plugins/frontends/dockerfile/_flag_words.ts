/**
 * Splits the `--name=value` flags off the front of an instruction's arguments.
 *
 * @module
 */

import { isSpace } from "./_chars.ts";

/** A flag as written before an instruction's arguments. */
export interface BuilderFlag {
  /** Flag name without the leading `--`, e.g. `mount`. */
  name: string;
  /**
   * Text after the first `=`, with quotes and escape characters removed but
   * variables not expanded; undefined for a bare `--link`.
   */
  value: string | undefined;
}

/**
 * Takes the words that start with `--` from the front of `text`. Quotes inside
 * a flag group characters and are removed, the escape character makes the
 * next character literal, and a lone `--` ends the flags.
 */
export function extractFlags(
  text: string,
  escapeChar: string,
): { flags: BuilderFlag[]; rest: string } {
  const chars = Array.from(text);
  const words: string[] = [];
  let pos = 0;

  for (;;) {
    while (pos < chars.length && isSpace(chars[pos])) pos++;
    if (pos >= chars.length) break;
    if (chars[pos] !== "-" || chars[pos + 1] !== "-") break;

    const word = readFlagWord(chars, pos, escapeChar);
    pos = word.end;
    if (word.text === "--") break;
    words.push(word.text);
  }

  return { flags: words.map(toFlag), rest: chars.slice(pos).join("") };
}

function readFlagWord(
  chars: string[],
  start: number,
  escapeChar: string,
): { text: string; end: number } {
  let text = "";
  let quote: string | undefined;
  let pos = start;

  for (; pos < chars.length; pos++) {
    const ch = chars[pos];
    if (quote === undefined && isSpace(ch)) break;
    if (quote === undefined && (ch === "'" || ch === '"')) {
      quote = ch;
      continue;
    }
    if (ch === quote) {
      quote = undefined;
      continue;
    }
    if (ch === escapeChar) {
      // An escape character at the very end is dropped.
      if (pos + 1 === chars.length) break;
      pos++;
    }
    text += chars[pos];
  }
  return { text, end: pos };
}

function toFlag(word: string): BuilderFlag {
  const body = word.slice(2);
  const equals = body.indexOf("=");
  if (equals < 0) return { name: body, value: undefined };
  return { name: body.slice(0, equals), value: body.slice(equals + 1) };
}
