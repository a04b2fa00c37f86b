/**
 * Parses Dockerfile text into instruction nodes with line numbers, flags,
 * exec-form arguments and heredoc bodies, following BuildKit's parser.
 *
 * The parser handles the layout of the file: parser directives, comments,
 * line continuations, the split between an instruction's keyword, flags and
 * arguments, and heredocs. It does not check keywords or argument counts;
 * {@linkcode parseInstructions} in `instructions.ts` does that.
 *
 * @example Parse a small Dockerfile
 * ```ts
 * import { parseDockerfile } from "./parser.ts";
 *
 * const ast = parseDockerfile("FROM alpine\nRUN --network=none echo hi\n");
 * ast.nodes[1].flags; // [{ name: "network", value: "none" }]
 * ast.nodes[1].args; // "echo hi"
 * ```
 *
 * @module
 */

import { DockerfileSyntaxError, TsbuildError } from "../../../core/errors.ts";
import { escapeRegExp, isSpace, trimSpace, trimSpaceStart } from "./_chars.ts";
import { DirectiveReader, type ParserDirective } from "./_directives.ts";
import { type BuilderFlag, extractFlags } from "./_flag_words.ts";
import { findHeredocMarkers, type HeredocMarker } from "./_heredoc.ts";
import { parseJsonForm } from "./_json_form.ts";

export type { BuilderFlag } from "./_flag_words.ts";
export type { DirectiveName, ParserDirective } from "./_directives.ts";
export type { HeredocMarker } from "./_heredoc.ts";

/** The character that escapes the next one and continues lines. */
export type EscapeChar = "\\" | "`";

/** A heredoc attached to an instruction, with its body. */
export interface Heredoc extends HeredocMarker {
  /**
   * Body lines between the instruction and the delimiter line, each with its
   * original line ending. Leading tabs are already removed when `chomp` is
   * true. Variables are not expanded, even when `expand` is true.
   */
  content: string;
}

/** One instruction as laid out in the file, before its arguments are interpreted. */
export interface InstructionNode {
  /** Keyword as written, e.g. `run`, so compare it case-insensitively. */
  keyword: string;
  /** Flags before the arguments, in order, repeated ones included. */
  flags: BuilderFlag[];
  /**
   * Arguments after the flags with continuation lines joined, trimmed. For
   * ONBUILD this is the whole trigger instruction.
   */
  args: string;
  /**
   * The strings of the exec form when `args` is a JSON array and the keyword
   * accepts one (RUN, CMD, ENTRYPOINT, SHELL, COPY, ADD, VOLUME). For
   * HEALTHCHECK it is the part after the CMD word. Undefined for shell form.
   */
  json: string[] | undefined;
  /** Heredocs named in a RUN, COPY or ADD line, with their bodies, in order. */
  heredocs: Heredoc[];
  /** For ONBUILD, the instruction it registers. Heredocs belong to that node. */
  trigger: InstructionNode | undefined;
  /** 1-based line of the keyword. */
  startLine: number;
  /** 1-based last line, including continuation lines and heredoc bodies. */
  endLine: number;
  /** The instruction with continuation lines joined, trimmed, for progress output. */
  original: string;
  /** Comment lines directly above the instruction, without `#`. */
  comments: string[];
}

/** Something the parser accepts but warns about. */
export interface ParseWarning {
  /** 1-based line the warning points at. */
  line: number;
  message: string;
}

/** The parsed layout of a Dockerfile. */
export interface DockerfileAst {
  /** File name used in messages. */
  file: string;
  /** Escape character in effect, from the `escape` directive or `\`. */
  escapeChar: EscapeChar;
  /** Parser directives from the top of the file, in order. */
  directives: ParserDirective[];
  /** Instructions in file order. */
  nodes: InstructionNode[];
  warnings: ParseWarning[];
}

/** Options for {@linkcode parseDockerfile}. */
export interface ParseDockerfileOptions {
  /**
   * File name for error messages and for `DockerfileAst.file`.
   * @default "Dockerfile"
   */
  file?: string;
}

const EXEC_FORM_KEYWORDS = new Set(["RUN", "CMD", "ENTRYPOINT", "SHELL", "COPY", "ADD", "VOLUME"]);
const HEREDOC_KEYWORDS = new Set(["RUN", "COPY", "ADD"]);
const UTF8_BOM = "\ufeff";

/**
 * Parses Dockerfile text into instruction nodes.
 *
 * @param text The Dockerfile's content.
 * @param options The file name used in messages.
 * @returns Directives, instruction nodes and warnings.
 * @throws {DockerfileSyntaxError} on a bad parser directive, a JSON array with
 * a value that is not a string, an unterminated heredoc, or a file without
 * instructions. The message starts with `file:line: `.
 *
 * @example Read a heredoc
 * ```ts
 * import { parseDockerfile } from "./parser.ts";
 *
 * const ast = parseDockerfile("FROM alpine\nRUN <<EOF\necho hi\nEOF\n");
 * ast.nodes[1].heredocs[0].content; // "echo hi\n"
 * ```
 */
export function parseDockerfile(text: string, options: ParseDockerfileOptions = {}): DockerfileAst {
  const parser = new DockerfileParser(text, options.file ?? "Dockerfile");
  const nodes = parser.parse();

  if (nodes.length === 0) {
    parser.fail("file contains no instructions", Math.max(1, parser.lastLine));
  }
  return {
    file: parser.file,
    escapeChar: parser.escapeChar,
    directives: parser.directives.directives,
    nodes,
    warnings: parser.warnings,
  };
}

interface SourceLine {
  /** Line number, 1-based. */
  number: number;
  /** The line with its line ending, as heredoc bodies keep it. */
  raw: string;
  /** The line without trailing `\r` and `\n`. */
  text: string;
}

/** The state of one parse: the line cursor, the escape character and the results. */
class DockerfileParser {
  readonly file: string;
  readonly directives = new DirectiveReader();
  readonly warnings: ParseWarning[] = [];
  escapeChar: EscapeChar = "\\";
  #continuation = continuationPattern("\\");
  #lines: SourceLine[];
  #next = 0;
  #comments: string[] = [];

  constructor(text: string, file: string) {
    this.file = file;
    this.#lines = splitLines(text.startsWith(UTF8_BOM) ? text.slice(UTF8_BOM.length) : text);
  }

  get lastLine(): number {
    return this.#lines.length;
  }

  fail(message: string, line: number, cause?: unknown): never {
    throw new DockerfileSyntaxError(message, { file: this.file, line, cause });
  }

  parse(): InstructionNode[] {
    const nodes: InstructionNode[] = [];
    while (this.#next < this.#lines.length) {
      const node = this.#readInstruction(this.#lines[this.#next++]);
      if (node) nodes.push(node);
    }
    return nodes;
  }

  // Reads the instruction that starts on `first`, or returns undefined for a
  // blank line, a comment or a directive.
  #readInstruction(first: SourceLine): InstructionNode | undefined {
    const token = trimSpaceStart(first.text);
    this.#collectComment(token);
    this.#readDirective(token, first.number);

    const start = this.#trimContinuation(isComment(token) ? "" : token);
    if (start.complete && start.text === "") return undefined;
    const line = start.complete ? start.text : start.text + this.#readContinuation(first.number);
    if (trimSpace(line) === "") return undefined;

    const node = this.#createNode(line, first.number, this.#comments);
    this.#comments = [];
    const target = node.trigger ?? node;
    if (acceptsHeredocs(target) && line.includes("<<")) {
      target.heredocs = this.#readHeredocs(line, first.number);
    }
    setEndLine(node, this.#lines[this.#next - 1]?.number ?? first.number);
    return node;
  }

  #collectComment(token: string): void {
    if (!isComment(token)) return;
    const comment = trimSpace(token.slice(1));
    // An empty comment line separates a comment block from the instruction below.
    if (comment === "") this.#comments = [];
    else this.#comments.push(comment);
  }

  #readDirective(token: string, lineNumber: number): void {
    let directive: ParserDirective | undefined;
    try {
      directive = this.directives.read(token, lineNumber);
    } catch (error) {
      this.fail((error as Error).message, lineNumber, error);
    }
    if (!directive) return;

    this.#comments.pop();
    if (directive.name !== "escape") return;
    if (directive.value !== "\\" && directive.value !== "`") {
      this.fail(
        `invalid escape directive ${JSON.stringify(directive.value)}: must be "\\" or "\`"`,
        lineNumber,
      );
    }
    this.escapeChar = directive.value;
    this.#continuation = continuationPattern(directive.value);
  }

  // Appends the lines that continue an instruction. Comment lines in between
  // are skipped, and so are blank ones, with a warning.
  #readContinuation(startLine: number): string {
    let text = "";
    while (this.#next < this.#lines.length) {
      const line = this.#lines[this.#next++];
      if (isComment(trimSpaceStart(line.text))) continue;
      if (trimSpace(line.text) === "") {
        this.warnings.push({
          line: line.number,
          message: `empty continuation line in the instruction on line ${startLine}`,
        });
        continue;
      }
      const part = this.#trimContinuation(line.text);
      text += part.text;
      if (part.complete) break;
    }
    return text;
  }

  // Removes a trailing escape character (and blanks after it) that continues
  // the line. An escaped escape character (`\\`) at the end does not continue it.
  #trimContinuation(text: string): { text: string; complete: boolean } {
    if (!this.#continuation.test(text)) return { text, complete: true };
    return { text: text.replace(this.#continuation, "$1"), complete: false };
  }

  #createNode(line: string, lineNumber: number, comments: string[]): InstructionNode {
    const trimmed = trimSpace(line);
    const split = /^(.*?)[\t\v\f\r ]+([^]*)$/.exec(trimmed);
    const keyword = split ? split[1] : trimmed;
    const { flags, rest } = extractFlags(split ? split[2] : "", this.escapeChar);
    const args = trimSpace(rest);

    const node: InstructionNode = {
      keyword,
      flags,
      args,
      json: this.#parseJson(keyword.toUpperCase(), args, lineNumber),
      heredocs: [],
      trigger: undefined,
      startLine: lineNumber,
      endLine: lineNumber,
      original: trimmed,
      comments,
    };
    if (keyword.toUpperCase() === "ONBUILD" && args !== "") {
      node.trigger = this.#createNode(args, lineNumber, []);
    }
    return node;
  }

  #parseJson(keyword: string, args: string, lineNumber: number): string[] | undefined {
    let jsonText: string;
    if (EXEC_FORM_KEYWORDS.has(keyword)) jsonText = args;
    else if (keyword === "HEALTHCHECK") jsonText = afterFirstWord(args);
    else return undefined;

    try {
      return parseJsonForm(jsonText);
    } catch (error) {
      this.fail((error as Error).message, lineNumber, error);
    }
  }

  #readHeredocs(line: string, startLine: number): Heredoc[] {
    let markers: HeredocMarker[];
    try {
      markers = findHeredocMarkers(line, this.escapeChar);
    } catch (error) {
      if (!(error instanceof TsbuildError)) throw error;
      this.fail(`invalid heredoc marker: ${error.message}`, startLine, error);
    }
    return markers.map((marker) => ({
      ...marker,
      content: this.#readHeredocBody(marker, startLine),
    }));
  }

  #readHeredocBody(marker: HeredocMarker, startLine: number): string {
    let content = "";
    while (this.#next < this.#lines.length) {
      const line = this.#lines[this.#next++];
      const candidate = marker.chomp ? line.text.replace(/^\t+/, "") : line.text;
      if (candidate === marker.name) {
        return marker.chomp ? content.replace(/(^|\n)\t+/g, "$1") : content;
      }
      content += line.raw;
    }
    this.fail(`unterminated heredoc ${JSON.stringify(marker.name)}`, startLine);
  }
}

function splitLines(text: string): SourceLine[] {
  if (text === "") return [];
  const parts = text.split("\n");
  // A final newline ends the last line instead of starting an empty one.
  if (parts[parts.length - 1] === "") parts.pop();
  return parts.map((part, index) => ({
    number: index + 1,
    raw: index < parts.length - 1 || text.endsWith("\n") ? part + "\n" : part,
    text: part.replace(/[\r\n]+$/, ""),
  }));
}

function continuationPattern(escapeChar: EscapeChar): RegExp {
  const escape = escapeRegExp(escapeChar);
  return new RegExp(`([^${escape}])${escape}[ \\t]*$|^${escape}[ \\t]*$`);
}

function isComment(token: string): boolean {
  return token.startsWith("#");
}

function acceptsHeredocs(node: InstructionNode): boolean {
  return HEREDOC_KEYWORDS.has(node.keyword.toUpperCase()) && node.json === undefined;
}

// The text after the first word and the white space that follows it.
function afterFirstWord(text: string): string {
  const chars = Array.from(text);
  let pos = 0;
  while (pos < chars.length && !isSpace(chars[pos])) pos++;
  while (pos < chars.length && isSpace(chars[pos])) pos++;
  return chars.slice(pos).join("");
}

function setEndLine(node: InstructionNode, endLine: number): void {
  node.endLine = endLine;
  if (node.trigger) node.trigger.endLine = endLine;
}
