/**
 * One .dockerignore pattern, checked and compiled with Docker's matching rules.
 *
 * @module
 */

/** A pattern ready to test paths against. */
export interface CompiledPattern {
  /** The cleaned pattern, without a leading `!`. */
  source: string;
  /** Reports whether the pattern matches `path` itself (not through a parent). */
  test(path: string): boolean;
  /**
   * Reports whether the pattern could match a path strictly below `dir`. It
   * returns true when unsure, and false only when no such match is possible.
   */
  mayMatchBelow(dir: string): boolean;
}

type Token =
  | { kind: "char"; text: string }
  | { kind: "escaped"; text: string }
  | { kind: "star" }
  | { kind: "any" }
  | { kind: "class"; source: string }
  | { kind: "doubleStar"; atEnd: boolean };

/**
 * Compiles a cleaned pattern. `*` and `?` do not match `/`. `**` matches any
 * number of directories, including none. `[a-z]` and `[^a-z]` are character
 * classes, and a backslash makes the next character literal.
 *
 * @throws {SyntaxError} when the pattern is malformed, with the reason.
 */
export function compileIgnorePattern(source: string): CompiledPattern {
  const tokens = tokenize(source, true);
  const kind = matchKind(tokens);
  const regExp = kind === "regexp" ? new RegExp(`^${tokensToRegExp(tokens)}$`, "u") : undefined;
  const segments = kind === "regexp" ? compileSegments(source) : [];

  return {
    source,
    test(path) {
      if (kind === "exact") return path === source;
      if (kind === "prefix") return path.startsWith(source.slice(0, -2));
      if (kind === "suffix") return matchesSuffix(path, source.slice(2));
      return regExp!.test(path);
    },
    mayMatchBelow(dir) {
      const dirSlash = dir + "/";
      if (kind === "exact") return source.startsWith(dirSlash);
      if (kind === "suffix") return true;
      if (kind === "prefix") {
        const prefix = source.slice(0, -2);
        return prefix.startsWith(dirSlash) || dirSlash.startsWith(prefix);
      }
      return segmentsMayMatchBelow(segments, dir);
    },
  };
}

// Docker's pattern matcher picks a cheap comparison when it can: a pattern
// without wildcards is compared as a string, `prefix**` as a prefix and
// `**suffix` as a suffix. The kinds are kept because they differ from a
// regular expression in corner cases: `**foo` matches "barfoo".
function matchKind(tokens: Token[]): "exact" | "prefix" | "suffix" | "regexp" {
  let kind: "exact" | "prefix" | "suffix" | "regexp" = "exact";
  tokens.forEach((token, index) => {
    if (token.kind === "char") return;
    if (token.kind === "doubleStar") {
      kind = token.atEnd && kind === "exact" ? "prefix" : "regexp";
      if (index === 0) kind = "suffix";
      return;
    }
    kind = "regexp";
  });
  return kind;
}

// `**/foo` also matches "foo" at the top.
function matchesSuffix(path: string, suffix: string): boolean {
  return path.endsWith(suffix) || (suffix.startsWith("/") && path === suffix.slice(1));
}

function tokensToRegExp(tokens: Token[]): string {
  return tokens.map((token) => {
    switch (token.kind) {
      case "char":
      case "escaped":
        return escapeRegExp(token.text);
      case "star":
        return "[^/]*";
      case "any":
        return "[^/]";
      case "class":
        return token.source;
      case "doubleStar":
        return token.atEnd ? "[^\\n]*" : "(?:[^\\n]*/)?";
    }
  }).join("");
}

/** A pattern segment as a regular expression, or "any" when it may match any number of segments. */
type Segment = RegExp | "any";

// Compiles each `/`-separated segment on its own. A segment with `**`, or one
// that does not compile alone (after an escaped `/`), is treated as "any".
function compileSegments(source: string): Segment[] {
  return source.split("/").map((segment) => {
    if (segment.includes("**")) return "any";
    try {
      return new RegExp(`^${tokensToRegExp(tokenize(segment, false))}$`, "u");
    } catch {
      return "any";
    }
  });
}

// Compares the pattern with `dir` segment by segment. Without `**`, a pattern
// matches only paths with as many segments as it has.
function segmentsMayMatchBelow(segments: Segment[], dir: string): boolean {
  const dirSegments = dir.split("/");

  for (let i = 0; i < dirSegments.length; i++) {
    if (i >= segments.length) return false;
    const segment = segments[i];
    if (segment === "any") return true;
    if (!segment.test(dirSegments[i])) return false;
  }
  return segments.length > dirSegments.length;
}

function tokenize(source: string, allowDoubleStar: boolean): Token[] {
  const chars = Array.from(source);
  const tokens: Token[] = [];
  let pos = 0;

  while (pos < chars.length) {
    const ch = chars[pos++];
    if (ch === "*" && chars[pos] === "*" && allowDoubleStar) {
      pos++;
      // `**/` is treated as `**`, so `a/**/b` also matches "a/b".
      if (chars[pos] === "/") pos++;
      tokens.push({ kind: "doubleStar", atEnd: pos >= chars.length });
    } else if (ch === "*") {
      tokens.push({ kind: "star" });
    } else if (ch === "?") {
      tokens.push({ kind: "any" });
    } else if (ch === "\\") {
      if (pos >= chars.length) throw new SyntaxError("pattern ends with an escape character");
      tokens.push({ kind: "escaped", text: chars[pos++] });
    } else if (ch === "[") {
      const parsed = readClass(chars, pos);
      tokens.push({ kind: "class", source: parsed.source });
      pos = parsed.end;
    } else {
      tokens.push({ kind: "char", text: ch });
    }
  }
  return tokens;
}

// Reads a class after `[` with Go's filepath.Match rules: `^` negates, the
// first character may not be `]` or `-`, and a range is `lo-hi`.
function readClass(chars: string[], start: number): { source: string; end: number } {
  let pos = start;
  let source = "[";
  if (chars[pos] === "^") {
    source += "^";
    pos++;
  }

  let ranges = 0;
  for (;;) {
    if (chars[pos] === "]" && ranges > 0) return { source: source + "]", end: pos + 1 };
    const low = readClassChar(chars, pos);
    let high = low;
    if (chars[low.end] === "-") high = readClassChar(chars, low.end + 1);
    if (low.ch.codePointAt(0)! > high.ch.codePointAt(0)!) {
      throw new SyntaxError(`invalid character class range "${low.ch}-${high.ch}"`);
    }
    source += low === high
      ? escapeClassChar(low.ch)
      : `${escapeClassChar(low.ch)}-${escapeClassChar(high.ch)}`;
    pos = high.end;
    ranges++;
  }
}

function readClassChar(chars: string[], start: number): { ch: string; end: number } {
  let pos = start;
  if (pos >= chars.length) throw new SyntaxError("unterminated character class");
  if (chars[pos] === "-" || chars[pos] === "]") {
    throw new SyntaxError(`invalid character class: unexpected "${chars[pos]}"`);
  }
  if (chars[pos] === "\\") pos++;
  if (pos >= chars.length) throw new SyntaxError("unterminated character class");
  // The class still needs its closing `]` after this character.
  if (pos + 1 >= chars.length) throw new SyntaxError("unterminated character class");
  return { ch: chars[pos], end: pos + 1 };
}

function escapeClassChar(ch: string): string {
  return /[\\\]\[^\-]/.test(ch) ? "\\" + ch : ch;
}

function escapeRegExp(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|\/]/g, "\\$&");
}
