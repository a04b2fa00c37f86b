/**
 * Splits one line of comma-separated values, as `RUN --mount=` and
 * `--secret` values are written: a field may be double-quoted, and `""`
 * inside quotes stands for one quote character.
 *
 * @module
 */

/**
 * Returns the fields of `line`. An empty line has no fields.
 *
 * @throws {SyntaxError} on a quote inside an unquoted field, an unterminated
 * quoted field, or text after a closing quote.
 */
export function splitCsvFields(line: string): string[] {
  if (line === "") return [];
  const fields: string[] = [];
  let position = 0;
  for (;;) {
    const { value, end } = line[position] === '"'
      ? readQuoted(line, position)
      : readBare(line, position);
    fields.push(value);
    if (end >= line.length) return fields;
    position = end + 1;
  }
}

function readBare(line: string, start: number): { value: string; end: number } {
  const comma = line.indexOf(",", start);
  const end = comma < 0 ? line.length : comma;
  const value = line.slice(start, end);
  const quote = value.indexOf('"');
  if (quote >= 0) {
    throw new SyntaxError(`bare quote in unquoted field ${JSON.stringify(value)}`);
  }
  return { value, end };
}

function readQuoted(line: string, start: number): { value: string; end: number } {
  let value = "";
  let position = start + 1;
  for (;;) {
    const quote = line.indexOf('"', position);
    if (quote < 0) throw new SyntaxError(`unterminated quoted field in ${JSON.stringify(line)}`);
    value += line.slice(position, quote);
    if (line[quote + 1] === '"') {
      value += '"';
      position = quote + 2;
      continue;
    }
    const end = quote + 1;
    if (end < line.length && line[end] !== ",") {
      throw new SyntaxError(`extraneous text after quoted field in ${JSON.stringify(line)}`);
    }
    return { value, end };
  }
}
