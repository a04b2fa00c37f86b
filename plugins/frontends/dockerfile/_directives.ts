/**
 * Parser directives (`# syntax=`, `# escape=`, `# check=`) at the top of a Dockerfile.
 *
 * @module
 */

import { trimSpaceStart } from "./_chars.ts";

/** Names of the parser directives BuildKit recognises. */
export const DIRECTIVE_NAMES = ["syntax", "escape", "check"] as const;

/** One of {@linkcode DIRECTIVE_NAMES}. */
export type DirectiveName = typeof DIRECTIVE_NAMES[number];

/** A parser directive read from the top of the file. */
export interface ParserDirective {
  /** Directive name in lower case. */
  name: DirectiveName;
  /** Value with surrounding white space removed, e.g. `docker/dockerfile:1`. */
  value: string;
  /** 1-based line of the directive. */
  line: number;
}

// `[ \t\n\v\f\r]` is Go's regexp `\s`, which BuildKit's directive pattern uses.
const DIRECTIVE = /^([a-zA-Z][a-zA-Z0-9]*)[ \t\n\v\f\r]*=[ \t\n\v\f\r]*(.+?)[ \t\n\v\f\r]*$/;

/**
 * Reads directives line by line until the first line that is not one. A blank
 * line, an ordinary comment, an unknown directive name or an instruction ends
 * the directive block; later lines that look like directives are comments.
 */
export class DirectiveReader {
  readonly directives: ParserDirective[] = [];
  #done = false;

  /**
   * Returns the directive on `line` (with leading white space removed), or
   * undefined once the directive block has ended.
   *
   * @throws {SyntaxError} when a directive is repeated; the caller adds the location.
   */
  read(line: string, lineNumber: number): ParserDirective | undefined {
    if (this.#done) return undefined;
    if (!line.startsWith("#")) {
      this.#done = true;
      return undefined;
    }

    const match = DIRECTIVE.exec(trimSpaceStart(line.slice(1)));
    const name = match?.[1].toLowerCase();
    if (!match || !(DIRECTIVE_NAMES as readonly string[]).includes(name!)) {
      this.#done = true;
      return undefined;
    }
    if (this.directives.some((directive) => directive.name === name)) {
      throw new SyntaxError(`only one "${name}" parser directive is allowed`);
    }

    const directive = { name: name as DirectiveName, value: match[2], line: lineNumber };
    this.directives.push(directive);
    return directive;
  }
}
