/**
 * Character classes shared by the Dockerfile parser and the variable expander.
 *
 * @module
 */

// Go's unicode.IsSpace, which BuildKit uses to split words. It differs from
// JavaScript's `\s` by including U+0085 and excluding U+FEFF.
const SPACE = /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]$/;
const LETTER = /^\p{L}$/u;
const DIGIT = /^\p{Nd}$/u;

/** Reports whether the code point `ch` is white space in Go's sense. */
export function isSpace(ch: string): boolean {
  return SPACE.test(ch);
}

/** Reports whether the code point `ch` is a Unicode letter. */
export function isLetter(ch: string): boolean {
  return LETTER.test(ch);
}

/** Reports whether the code point `ch` is a Unicode decimal digit. */
export function isDigit(ch: string): boolean {
  return DIGIT.test(ch);
}

/** Removes Go white space from the start of `text`. */
export function trimSpaceStart(text: string): string {
  let start = 0;
  for (const ch of text) {
    if (!isSpace(ch)) break;
    start += ch.length;
  }
  return text.slice(start);
}

/** Removes Go white space from the end of `text`. */
export function trimSpaceEnd(text: string): string {
  const chars = Array.from(text);
  let end = chars.length;
  while (end > 0 && isSpace(chars[end - 1])) end--;
  return chars.slice(0, end).join("");
}

/** Removes Go white space from both ends of `text`. */
export function trimSpace(text: string): string {
  return trimSpaceEnd(trimSpaceStart(text));
}

/** Escapes `text` for literal use inside a regular expression. */
export function escapeRegExp(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|\/]/g, "\\$&");
}
