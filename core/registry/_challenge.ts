/**
 * Parsing of `WWW-Authenticate` headers such as
 * `Bearer realm="https://auth.example/token",service="registry",scope="repository:x:pull"`.
 *
 * @module
 */

/** One authentication challenge: its scheme in lower case and its parameters. */
export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+/;

/**
 * Parses the challenges in a `WWW-Authenticate` header value (RFC 9110, section 11.6.1).
 * Malformed parts end the parse, so the challenges before them are still returned.
 */
export function parseChallenges(header: string): Challenge[] {
  const challenges: Challenge[] = [];
  let rest = header.trim();
  while (rest !== "") {
    const scheme = TOKEN.exec(rest)?.[0];
    if (scheme === undefined) break;
    rest = rest.slice(scheme.length).trimStart();

    const challenge: Challenge = { scheme: scheme.toLowerCase(), params: {} };
    challenges.push(challenge);
    rest = parseParams(rest, challenge.params);
    rest = rest.replace(/^[\s,]+/, "");
  }
  return challenges;
}

// Reads `name=value` pairs separated by commas into `params` and returns the unread text,
// which starts at the next challenge's scheme (a token not followed by "=").
function parseParams(text: string, params: Record<string, string>): string {
  let rest = text;
  while (true) {
    const match = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*=\s*/.exec(rest);
    if (match === null) return rest;

    const afterName = rest.slice(match[0].length);
    const value = readValue(afterName);
    if (value === undefined) return "";
    params[match[1].toLowerCase()] = value.value;
    rest = afterName.slice(value.length).replace(/^\s*,?\s*/, "");
  }
}

function readValue(text: string): { value: string; length: number } | undefined {
  if (!text.startsWith('"')) {
    const token = /^[^\s,]*/.exec(text)![0];
    return { value: token, length: token.length };
  }
  let value = "";
  for (let i = 1; i < text.length; i++) {
    if (text[i] === "\\") {
      value += text[++i] ?? "";
    } else if (text[i] === '"') {
      return { value, length: i + 1 };
    } else {
      value += text[i];
    }
  }
  return undefined;
}
