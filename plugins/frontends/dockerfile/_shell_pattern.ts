/**
 * Shell patterns for the `${VAR#pattern}`, `${VAR%pattern}` and
 * `${VAR/pattern/replacement}` substitutions.
 *
 * @module
 */

import { escapeRegExp } from "./_chars.ts";

/**
 * Converts a shell pattern to a regular expression: `*` is any string, `?` is
 * one character, and a backslash makes `*`, `?` or itself literal. A backslash
 * before `}` or `/` only protects that character from ending the substitution,
 * so it is dropped. Bracket expressions are not supported, as in BuildKit.
 *
 * @throws {SyntaxError} on a backslash before any other character.
 */
export function shellPatternToRegExp(
  pattern: string,
  options: { greedy: boolean; anchored: boolean },
): RegExp {
  const chars = Array.from(pattern);
  // `[^\n]` mirrors Go's `.`, which matches anything but a newline.
  const star = options.greedy ? "[^\n]*" : "[^\n]*?";
  let source = options.anchored ? "^" : "";

  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i];
    if (ch === "*") {
      source += star;
    } else if (ch === "?") {
      source += "[^\n]";
    } else if (ch === "\\") {
      const next = chars[i + 1];
      if (next === "}" || next === "/") continue;
      if (next !== "*" && next !== "?" && next !== "\\") {
        throw new SyntaxError(`invalid escape "\\${next ?? ""}"`);
      }
      source += escapeRegExp(next);
      i++;
    } else {
      source += escapeRegExp(ch);
    }
  }
  return new RegExp(source, "u");
}

/**
 * Removes the shortest (or, when `greedy`, the longest) prefix of `value` that
 * matches `pattern`.
 */
export function trimPatternPrefix(value: string, pattern: string, greedy: boolean): string {
  const match = shellPatternToRegExp(pattern, { greedy, anchored: true }).exec(value);
  return match ? value.slice(match[0].length) : value;
}

/**
 * Removes the shortest (or, when `greedy`, the longest) suffix of `value` that
 * matches `pattern`.
 */
export function trimPatternSuffix(value: string, pattern: string, greedy: boolean): string {
  // A regular expression finds the leftmost match, so the search for a
  // rightmost match runs on the reversed value with the reversed pattern.
  const reversed = trimPatternPrefix(reverse(value), reversePattern(pattern), greedy);
  return reverse(reversed);
}

/**
 * Replaces the first (or every) longest match of `pattern` in `value` with the
 * literal `replacement`.
 */
export function replacePattern(
  value: string,
  pattern: string,
  replacement: string,
  all: boolean,
): string {
  const regExp = shellPatternToRegExp(pattern, { greedy: true, anchored: false });
  const flags = all ? "gu" : "u";
  return value.replace(new RegExp(regExp.source, flags), () => replacement);
}

function reverse(text: string): string {
  return Array.from(text).reverse().join("");
}

// Reverses a pattern but keeps each backslash in front of the character it escapes.
function reversePattern(pattern: string): string {
  const tokens: string[] = [];
  const chars = Array.from(pattern);
  for (let i = 0; i < chars.length; i++) {
    if (chars[i] === "\\" && i + 1 < chars.length) {
      tokens.push(chars[i] + chars[i + 1]);
      i++;
    } else {
      tokens.push(chars[i]);
    }
  }
  return tokens.reverse().join("");
}
