/**
 * Heredoc markers (`<<EOF`, `<<-EOF`, `<<"EOF"`, `3<<EOF`) in an instruction line.
 *
 * @module
 */

import { expandWords } from "./expand.ts";

/** Delimiter and options from a heredoc marker, which apply to the body after the instruction. */
export interface HeredocMarker {
  /** Delimiter with quotes and escapes removed. */
  name: string;
  /** False when any part of the delimiter was quoted, so the body is taken literally. */
  expand: boolean;
  /** True for `<<-`, which strips leading tabs from the body and the delimiter line. */
  chomp: boolean;
  /** File descriptor before `<<`, e.g. 3 in `3<<EOF`; 0 when absent. */
  fileDescriptor: number;
}

const MARKER = /^(\d*)<<(-?)[\t\n\f\r ]*([^<]*)$/;

/**
 * Finds the heredoc markers in `line`, in order. The line is split into
 * shell words first, so `"<<EOF"` inside quotes and `cat<<EOF` glued to
 * another word are not markers, matching BuildKit.
 *
 * NOTE: the line is split with the Dockerfile's escape character, while
 * BuildKit always uses `\`. The two differ only when the file sets a backtick escape.
 *
 * @throws {InvalidInputError} when a marker's delimiter cannot be read.
 */
export function findHeredocMarkers(line: string, escapeChar: "\\" | "`"): HeredocMarker[] {
  let words: string[];
  try {
    words = expandWords(line, () => undefined, {
      escapeChar,
      keepQuotes: true,
      keepEscapes: true,
      keepUnset: true,
    });
  } catch {
    // A line that does not split into words (an open quote) has no markers.
    return [];
  }

  const markers: HeredocMarker[] = [];
  for (const word of words) {
    const marker = parseHeredocMarker(word, escapeChar);
    if (marker) markers.push(marker);
  }
  return markers;
}

/**
 * Parses one word as a heredoc marker, or returns undefined when it is not one.
 *
 * @throws {InvalidInputError} when the delimiter cannot be read.
 */
export function parseHeredocMarker(
  word: string,
  escapeChar: "\\" | "`",
): HeredocMarker | undefined {
  const match = MARKER.exec(word);
  if (!match || match[3] === "") return undefined;

  const unset = () => undefined;
  const plain = expandWords(match[3], unset, { escapeChar, keepUnset: true });
  if (plain.length !== 1) return undefined;
  const quoted = expandWords(match[3], unset, { escapeChar, keepUnset: true, keepQuotes: true });

  // Quotes that vanish when they are processed were quoting part of the delimiter.
  const expand = countQuotes(plain[0]) === countQuotes(quoted[0] ?? "");
  return {
    name: plain[0],
    expand,
    chomp: match[2] === "-",
    fileDescriptor: match[1] === "" ? 0 : Number(match[1]),
  };
}

function countQuotes(text: string): number {
  return text.split("").filter((ch) => ch === "'" || ch === '"').length;
}
