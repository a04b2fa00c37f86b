// deno-lint-ignore-file no-console -- a command-line script prints its results
/**
 * Checks the direction of imports: core/ never imports plugins/ or cli.ts,
 * and plugins/ reach core/ only through mod.ts types or the pure helper
 * modules listed here.
 *
 * @module
 */

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

// Pure modules (no store, solver or process state) that built-in plugins may
// share with the core instead of duplicating them.
const PLUGIN_ALLOWED_CORE = [
  "core/deps.ts",
  "core/errors.ts",
  "core/digest.ts",
  "core/event_loop.ts",
  "core/fs/",
  "core/graph/builder.ts",
  "core/graph/definition.ts",
  "core/oci/",
];

const IMPORT_PATTERN = /^\s*(import|export)\s+(type\s+)?[^'"]*?from\s+["']([^"']+)["']/gm;

async function* walk(dir: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory && entry.name !== "gen") yield* walk(path);
    else if (entry.isFile && path.endsWith(".ts")) yield path;
  }
}

function resolveSpecifier(file: string, specifier: string): string | undefined {
  if (!specifier.startsWith(".")) return undefined;
  return new URL(specifier, `file://${file}`).pathname.slice(ROOT.length + 1);
}

async function check(): Promise<string[]> {
  const problems: string[] = [];
  for (const top of ["core", "plugins"]) {
    for await (const file of walk(`${ROOT}/${top}`)) {
      const relativeFile = file.slice(ROOT.length + 1);
      const text = await Deno.readTextFile(file);
      for (const match of text.matchAll(IMPORT_PATTERN)) {
        const typeOnly = match[2] !== undefined;
        const target = resolveSpecifier(file, match[3]);
        if (!target) continue;
        if (top === "core" && (target.startsWith("plugins/") || target === "cli.ts")) {
          problems.push(`${relativeFile}: core imports "${target}"`);
        }
        if (top === "plugins" && target.startsWith("core/") && !typeOnly) {
          if (
            !PLUGIN_ALLOWED_CORE.some((allowed) =>
              target === allowed || (allowed.endsWith("/") && target.startsWith(allowed))
            )
          ) {
            problems.push(
              `${relativeFile}: plugin imports a value from "${target}"; use the plugin context or a type from mod.ts`,
            );
          }
        }
      }
    }
  }
  return problems;
}

const problems = await check();
for (const problem of problems) console.error(problem);
if (problems.length > 0) {
  console.error(`${problems.length} import rule violation(s)`);
  Deno.exit(1);
}
