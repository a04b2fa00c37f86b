/**
 * Transpiles one plugin module from TypeScript to JavaScript with CommonJS-style `require` and
 * `exports`, keeping line numbers, with sucrase loaded on first use.
 *
 * @module
 */

import { InvalidInputError } from "../errors.ts";

// sucrase is imported lazily, so commands that load no plugin never pay for it (15 to 60 ms
// measured, depending on Deno's code cache). deno compile embeds it because the specifier is a
// string literal.
type Sucrase = typeof import("sucrase");

let sucrase: Promise<Sucrase> | undefined;

/** Loads the transpiler now, so that its start-up overlaps with reading plugin files. */
export function preloadTranspiler(): Promise<Sucrase> {
  sucrase ??= import("sucrase");
  return sucrase;
}

/** The origin of a module being transpiled, for error messages. */
export interface TranspileSource {
  /** The plugin file the user named, as they wrote it. */
  plugin: string;
  /** This module's path as shown in messages: the plugin file or one it imports. */
  display: string;
  /** Absolute path, which picks TypeScript or JavaScript by its extension. */
  path: string;
}

/**
 * Returns `text` as JavaScript in which imports are `require()` calls and exports are properties
 * of `exports`. Type-only imports and exports disappear, so `import type` from tsbuild's mod.ts
 * needs nothing at run time. Line N of the output is line N of the input.
 *
 * @throws {InvalidInputError} when the text does not parse, naming the file, line and column.
 */
export async function transpileModule(text: string, source: TranspileSource): Promise<string> {
  const { transform } = await preloadTranspiler();
  const typescript = /\.[mc]?tsx?$/.test(source.path);
  try {
    return transform(text, {
      transforms: typescript ? ["typescript", "imports"] : ["imports"],
      filePath: source.path,
    }).code;
  } catch (error) {
    throw syntaxError(error, source);
  }
}

function syntaxError(error: unknown, source: TranspileSource): InvalidInputError {
  const loc = (error as { loc?: { line: number; column: number } }).loc;
  const raw = String((error as Error)?.message ?? error);
  // sucrase's message is "Error transforming FILE: PROBLEM (LINE:COLUMN)"; keep the problem only.
  const prefix = `Error transforming ${source.path}: `;
  const problem = (raw.startsWith(prefix) ? raw.slice(prefix.length) : raw)
    .replace(/ \(\d+:\d+\)$/, "");
  const where = loc ? `${source.display}:${loc.line}:${loc.column}` : source.display;
  return new InvalidInputError(
    `Failed to load plugin from "${source.plugin}": syntax error at ${where}: ${problem}`,
    {
      cause: error,
      data: { file: source.display, line: loc?.line, column: loc?.column },
    },
  );
}
