/**
 * Shell-style variable expansion and word splitting with BuildKit's rules.
 *
 * Supported forms: `$VAR`, `${VAR}`, `${VAR:-word}`, `${VAR-word}`,
 * `${VAR:+word}`, `${VAR+word}`, `${VAR:?message}`, `${VAR?message}`,
 * `${VAR#pattern}`, `${VAR##pattern}`, `${VAR%pattern}`, `${VAR%%pattern}`,
 * `${VAR/pattern/replacement}` and `${VAR//pattern/replacement}`. Single
 * quotes keep their content literal, double quotes allow expansion, and the
 * escape character (`\` unless the Dockerfile sets `# escape=` to a backtick)
 * makes the next character literal. Which instructions expand, and with which
 * variables, is the converter's business.
 *
 * @example Expand a word and split a line into words
 * ```ts
 * import { expandWord, expandWords } from "./expand.ts";
 *
 * const vars: Record<string, string> = { APP: "web", FILES: "a b" };
 * const lookup = (name: string) => vars[name];
 * expandWord("/srv/${APP:-default}", lookup); // "/srv/web"
 * expandWords('$FILES "c d"', lookup); // ["a", "b", "c d"]
 * ```
 *
 * @module
 */

import { InvalidInputError } from "../../../core/errors.ts";
import { isDigit, isLetter, isSpace } from "./_chars.ts";
import { replacePattern, trimPatternPrefix, trimPatternSuffix } from "./_shell_pattern.ts";

/**
 * The maximum length of an expansion's result, in characters. Variables that double themselves
 * (`ENV A=$A$A` repeated) would otherwise grow until the process runs out of memory.
 */
const MAX_EXPANDED_LENGTH = 1024 * 1024;

/** Returns a variable's value, or `undefined` when the variable is not set. */
export type VariableLookup = (name: string) => string | undefined;

/** Options for {@linkcode expandWord} and {@linkcode expandWords}. */
export interface ExpandOptions {
  /**
   * The character that escapes the next one, from the Dockerfile's `escape`
   * parser directive.
   * @default "\\"
   */
  escapeChar?: "\\" | "`";
  /**
   * Treat quotes as ordinary characters, as BuildKit does when it expands a
   * heredoc body.
   * @default true
   */
  processQuotes?: boolean;
  /**
   * Keep quote characters in the result while still honouring their meaning.
   * Used to detect heredoc delimiters and to show commands in progress output.
   * @default false
   */
  keepQuotes?: boolean;
  /**
   * Keep escape characters in the result while still honouring their meaning.
   * @default false
   */
  keepEscapes?: boolean;
  /**
   * Leave a reference to an unset variable as written instead of replacing it
   * with an empty string. `${VAR:?message}` does not fail in this mode.
   * @default false
   */
  keepUnset?: boolean;
}

interface ResolvedExpandOptions {
  escapeChar: string;
  processQuotes: boolean;
  keepQuotes: boolean;
  keepEscapes: boolean;
  keepUnset: boolean;
}

/**
 * Expands the variables in `word` and removes its quotes and escapes, keeping
 * white space as it is.
 *
 * @param word The text to expand, such as a COPY source or an ENV value.
 * @param lookup Returns the value of a variable, or `undefined` when it is unset.
 * @param options Escape character and the raw modes; see {@linkcode ExpandOptions}.
 * @returns The expanded text.
 * @throws {InvalidInputError} on a syntax error (an unterminated quote, a
 * missing `}`) or on `${VAR:?message}` with `VAR` unset or empty.
 *
 * @example Apply a default
 * ```ts
 * import { expandWord } from "./expand.ts";
 *
 * expandWord("${TAG:-latest}", () => undefined); // "latest"
 * ```
 */
export function expandWord(word: string, lookup: VariableLookup, options?: ExpandOptions): string {
  return runExpander(word, lookup, options).text;
}

/**
 * Expands the variables in `text` and splits the result into words at
 * unquoted white space. Quotes group words and are removed, and white space
 * inside a variable's value splits words as well, as in a shell.
 *
 * @param text The text to expand and split.
 * @param lookup Returns the value of a variable, or `undefined` when it is unset.
 * @param options Escape character and the raw modes; see {@linkcode ExpandOptions}.
 * @returns The words, without empty ones.
 * @throws {InvalidInputError} under the same conditions as {@linkcode expandWord}.
 *
 * @example Split with quotes
 * ```ts
 * import { expandWords } from "./expand.ts";
 *
 * expandWords('a "b c" d', () => undefined); // ["a", "b c", "d"]
 * ```
 */
export function expandWords(
  text: string,
  lookup: VariableLookup,
  options?: ExpandOptions,
): string[] {
  return runExpander(text, lookup, options).words;
}

function runExpander(
  text: string,
  lookup: VariableLookup,
  options: ExpandOptions = {},
): { text: string; words: string[] } {
  const resolved: ResolvedExpandOptions = {
    escapeChar: options.escapeChar ?? "\\",
    processQuotes: options.processQuotes ?? true,
    keepQuotes: options.keepQuotes ?? false,
    keepEscapes: options.keepEscapes ?? false,
    keepUnset: options.keepUnset ?? false,
  };

  try {
    const result = new Expander(text, lookup, resolved).readUntil(undefined, resolved.keepEscapes);
    if (result.text.length > MAX_EXPANDED_LENGTH) {
      throw new InvalidInputError(
        `failed to expand ${
          JSON.stringify(text.slice(0, 80))
        }: the result is longer than ${MAX_EXPANDED_LENGTH} characters`,
      );
    }
    return result;
  } catch (error) {
    if (!(error instanceof ExpansionFailure)) throw error;
    throw new InvalidInputError(`failed to expand ${JSON.stringify(text)}: ${error.message}`, {
      data: { text, variable: error.variable },
    });
  }
}

/** A failure inside the expander; `runExpander` adds the text it was expanding. */
class ExpansionFailure extends Error {
  constructor(message: string, readonly variable?: string) {
    super(message);
  }
}

/**
 * Collects words the way BuildKit does: characters that came from a
 * variable's value split at white space, while quoted or escaped characters
 * never do. An empty quoted string does not make a word of its own.
 */
class WordCollector {
  #words: string[] = [];
  #current = "";
  #inWord = false;

  addChar(ch: string): void {
    if (!isSpace(ch)) {
      this.addRawChar(ch);
      return;
    }
    if (this.#inWord && this.#current !== "") {
      this.#words.push(this.#current);
      this.#current = "";
      this.#inWord = false;
    }
  }

  addRawChar(ch: string): void {
    this.#current += ch;
    this.#inWord = true;
  }

  addString(text: string): void {
    for (const ch of text) this.addChar(ch);
  }

  addRawString(text: string): void {
    this.#current += text;
    this.#inWord = true;
  }

  finish(): string[] {
    if (this.#current !== "") this.#words.push(this.#current);
    this.#current = "";
    this.#inWord = false;
    return this.#words;
  }
}

/** A single pass over one text. Each method consumes the construct it reads. */
class Expander {
  readonly #chars: string[];
  readonly #lookup: VariableLookup;
  readonly #options: ResolvedExpandOptions;
  #pos = 0;
  #rawEscapes: boolean;

  constructor(text: string, lookup: VariableLookup, options: ResolvedExpandOptions) {
    this.#chars = Array.from(text);
    this.#lookup = lookup;
    this.#options = options;
    this.#rawEscapes = options.keepEscapes;
  }

  #peek(): string | undefined {
    return this.#chars[this.#pos];
  }

  #next(): string | undefined {
    return this.#chars[this.#pos++];
  }

  /**
   * Reads up to `stop` (consumed) or to the end of the text when `stop` is
   * undefined. `rawEscapes` keeps escape characters, which the pattern
   * substitutions need to tell `\*` from `*`.
   */
  readUntil(stop: string | undefined, rawEscapes: boolean): { text: string; words: string[] } {
    const savedRawEscapes = this.#rawEscapes;
    this.#rawEscapes = rawEscapes;
    try {
      return this.#readUntil(stop);
    } finally {
      this.#rawEscapes = savedRawEscapes;
    }
  }

  #readUntil(stop: string | undefined): { text: string; words: string[] } {
    const words = new WordCollector();
    let text = "";

    while (this.#peek() !== undefined) {
      const ch = this.#peek()!;
      if (stop !== undefined && ch === stop) {
        this.#next();
        return { text, words: words.finish() };
      }
      const special = this.#readSpecial(ch);
      if (special !== undefined) {
        text += special;
        // A variable's value splits into words. Quoted text and `<<` never do.
        if (ch === "$") words.addString(special);
        else words.addRawString(special);
        continue;
      }

      this.#next();
      if (ch === this.#options.escapeChar) {
        if (this.#rawEscapes) {
          words.addRawChar(ch);
          text += ch;
        }
        const escaped = this.#next();
        if (escaped === undefined) break;
        words.addRawChar(escaped);
        text += escaped;
        continue;
      }
      words.addChar(ch);
      text += ch;
    }

    if (stop !== undefined) throw new ExpansionFailure(`missing ${JSON.stringify(stop)}`);
    return { text, words: words.finish() };
  }

  // Reads a construct that starts with `ch`, or returns undefined for an ordinary character.
  #readSpecial(ch: string): string | undefined {
    if (ch === "$") return this.#readDollar();
    if (ch === "<") return this.#readPossibleHeredoc();
    if (!this.#options.processQuotes) return undefined;
    if (ch === "'") return this.#readSingleQuoted();
    if (ch === '"') return this.#readDoubleQuoted();
    return undefined;
  }

  #readSingleQuoted(): string {
    const quote = this.#options.keepQuotes ? "'" : "";
    let text = quote;
    this.#next();

    for (;;) {
      const ch = this.#next();
      if (ch === undefined) throw new ExpansionFailure("unterminated single quote");
      if (ch === "'") return text + quote;
      text += ch;
    }
  }

  #readDoubleQuoted(): string {
    const quote = this.#options.keepQuotes ? '"' : "";
    const escapeChar = this.#options.escapeChar;
    let text = quote;
    this.#next();

    for (;;) {
      const ch = this.#peek();
      if (ch === undefined) throw new ExpansionFailure("unterminated double quote");
      if (ch === '"') {
        this.#next();
        return text + quote;
      }
      if (ch === "$") {
        text += this.#readDollar();
        continue;
      }
      this.#next();
      if (ch !== escapeChar) {
        text += ch;
        continue;
      }
      // Inside double quotes the escape character only escapes `"`, `$` and
      // itself, and stays as it is before any other character.
      const escaped = this.#peek();
      if (escaped === '"' || escaped === "$" || escaped === escapeChar) {
        this.#next();
        text += (this.#rawEscapes ? ch : "") + escaped;
      } else if (escaped !== undefined) {
        text += ch;
      }
    }
  }

  // `<<` and the blanks after it stay together, so `<< EOF` is one heredoc word.
  #readPossibleHeredoc(): string {
    this.#next();
    if (this.#peek() !== "<") return "<";
    this.#next();

    let text = "<<";
    for (let ch = this.#peek(); ch === " " || ch === "\t" || ch === "\r"; ch = this.#peek()) {
      text += ch;
      this.#next();
    }
    return text;
  }

  #readDollar(): string {
    this.#next();
    if (this.#peek() !== "{") {
      const name = this.#readName();
      if (name === "") return "$";
      return this.#lookup(name) ?? (this.#options.keepUnset ? "$" + name : "");
    }

    this.#next();
    const first = this.#peek();
    if (first === undefined) throw new ExpansionFailure('missing "}"');
    if (first === "{" || first === "}" || first === ":") {
      throw new ExpansionFailure("bad substitution");
    }
    const name = this.#readName();
    const operator = this.#next();
    return this.#readSubstitution(name, operator);
  }

  // Reads what follows `${name`, starting after the operator character.
  #readSubstitution(name: string, operator: string | undefined): string {
    switch (operator) {
      case undefined:
        throw new ExpansionFailure('missing "}"');
      case "}": {
        const value = this.#lookup(name);
        return value ?? (this.#options.keepUnset ? "${" + name + "}" : "");
      }
      case ":": {
        const modifier = this.#next();
        if (modifier === "-" || modifier === "+" || modifier === "?") {
          return this.#readDefaultOrAlternative(name, modifier, true);
        }
        throw new ExpansionFailure(`unsupported modifier ":${modifier ?? ""}" in substitution`);
      }
      case "-":
      case "+":
      case "?":
        return this.#readDefaultOrAlternative(name, operator, false);
      case "#":
      case "%":
        return this.#readTrim(name, operator);
      case "/":
        return this.#readReplace(name);
      default:
        throw new ExpansionFailure(`unsupported modifier "${operator}" in substitution`);
    }
  }

  // Reads `${name-word}`, `${name+word}` or `${name?message}`. The `:` forms
  // also treat an empty value as unset.
  #readDefaultOrAlternative(name: string, modifier: string, nullIsUnset: boolean): string {
    const word = this.readUntil("}", false).text;
    const value = this.#lookup(name);
    if (value === undefined && this.#options.keepUnset) {
      return "${" + name + (nullIsUnset ? ":" : "") + modifier + word + "}";
    }

    const unset = value === undefined || (nullIsUnset && value === "");
    if (modifier === "-") return unset ? word : value!;
    if (modifier === "+") return unset ? "" : word;
    if (value === undefined) {
      throw new ExpansionFailure(`${name}: ${word || "is not allowed to be unset"}`, name);
    }
    if (unset) {
      throw new ExpansionFailure(`${name}: ${word || "is not allowed to be empty"}`, name);
    }
    return value;
  }

  // Reads `${name#pattern}` or `${name%pattern}`. A doubled operator is greedy.
  #readTrim(name: string, operator: "#" | "%"): string {
    let pattern = this.readUntil("}", true).text;
    const value = this.#lookup(name);
    if (value === undefined && this.#options.keepUnset) {
      return "${" + name + operator + pattern + "}";
    }

    const greedy = pattern.startsWith(operator);
    if (greedy) pattern = pattern.slice(1);
    try {
      return operator === "#"
        ? trimPatternPrefix(value ?? "", pattern, greedy)
        : trimPatternSuffix(value ?? "", pattern, greedy);
    } catch (error) {
      throw new ExpansionFailure(
        `invalid pattern ${JSON.stringify(pattern)} in substitution: ${(error as Error).message}`,
      );
    }
  }

  // Reads `${name/pattern/replacement}`. A doubled `/` replaces every match.
  #readReplace(name: string): string {
    const all = this.#peek() === "/";
    if (all) this.#next();
    const pattern = this.readUntil("/", true).text;
    const replacement = this.readUntil("}", true).text;
    const value = this.#lookup(name);
    if (value === undefined && this.#options.keepUnset) {
      return "${" + name + "/" + pattern + "/" + replacement + "}";
    }

    try {
      return replacePattern(value ?? "", pattern, replacement, all);
    } catch (error) {
      throw new ExpansionFailure(
        `invalid pattern ${JSON.stringify(pattern)} in substitution: ${(error as Error).message}`,
      );
    }
  }

  // Reads a variable name. A name is a run of letters, digits and `_`, a run
  // of digits, or one of the shell's special parameters (`$@`, `$*`, `$#`, ...).
  #readName(): string {
    const first = this.#peek();
    if (first === undefined) return "";
    if (isDigit(first)) {
      let digits = "";
      while (this.#peek() !== undefined && isDigit(this.#peek()!)) digits += this.#next();
      return digits;
    }
    if ("@*#?-$!0".includes(first)) {
      this.#next();
      return first;
    }

    let name = "";
    for (let ch = this.#peek(); ch !== undefined; ch = this.#peek()) {
      if (!isLetter(ch) && !isDigit(ch) && ch !== "_") break;
      name += ch;
      this.#next();
    }
    return name;
  }
}
