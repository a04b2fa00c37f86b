/**
 * Splits instruction arguments into words the two ways BuildKit's parser does,
 * both without expanding variables.
 *
 * @module
 */

import { isSpace } from "./_chars.ts";

const BLANKS = /[\t\v\f\r ]+/;

/**
 * Splits `text` at runs of blanks, ignoring quotes, as BuildKit does for FROM,
 * EXPOSE and the shell form of COPY, ADD and VOLUME.
 */
export function splitAtBlanks(text: string): string[] {
  if (text === "") return [];
  return text.split(BLANKS);
}

/**
 * Splits `text` at white space outside quotes, keeping quotes and escape
 * characters in the words, as BuildKit does for ARG, ENV and LABEL. The
 * quotes are removed later, when the converter expands each word.
 */
export function splitQuotedWords(text: string, escapeChar: string): string[] {
  const chars = Array.from(text);
  const words: string[] = [];
  let pos = 0;

  while (pos < chars.length) {
    if (isSpace(chars[pos])) {
      pos++;
      continue;
    }
    const word = readQuotedWord(chars, pos, escapeChar);
    if (word.text !== "") words.push(word.text);
    pos = word.end;
  }
  return words;
}

function readQuotedWord(
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
    } else if (ch === quote) {
      quote = undefined;
      text += ch;
      continue;
    }
    // The escape character means nothing inside single quotes.
    if (ch === escapeChar && quote !== "'") {
      // An escape character at the very end is dropped.
      if (pos + 1 === chars.length) continue;
      text += ch;
      pos++;
    }
    text += chars[pos];
  }
  return { text, end: pos };
}
