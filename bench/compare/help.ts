// deno-lint-ignore-file no-console -- prints a command-line script's help
/**
 * `--help` for the benchmark scripts: prints their usage and exits before any work starts.
 *
 * @module
 */

/** Prints `usage` and exits with status 0 when `argv` contains `--help` or `-h`. */
export function exitOnHelp(argv: string[], usage: string): void {
  if (!argv.includes("--help") && !argv.includes("-h")) return;
  console.log(usage.trim());
  Deno.exit(0);
}
