/**
 * Notices for parser directives that tsbuild accepts but does not act on:
 * `# syntax=` naming another frontend, and `# check=`.
 *
 * @module
 */

import type { ParserDirective } from "./parser.ts";

// The images of BuildKit's own Dockerfile frontend, whose syntax this frontend implements.
const DOCKERFILE_FRONTEND =
  /^(?:(?:docker\.io|index\.docker\.io|registry-1\.docker\.io)\/)?docker\/dockerfile(?:-upstream)?(?::[\w.-]+)?(?:@sha256:[0-9a-f]{64})?$/;

/**
 * Returns a notice for each directive the build ignores: a `syntax` that
 * names a frontend other than docker/dockerfile (tsbuild has no way to load
 * a frontend image and builds with its own), and any `check` (tsbuild runs
 * no Dockerfile checks).
 */
export function directiveNotices(directives: readonly ParserDirective[], file: string): string[] {
  const notices: string[] = [];
  for (const directive of directives) {
    const where = `${file}:${directive.line}`;
    if (directive.name === "syntax" && !DOCKERFILE_FRONTEND.test(directive.value)) {
      notices.push(
        `${where}: ignoring "# syntax=${directive.value}": tsbuild cannot load frontend ` +
          "images and builds with its built-in Dockerfile frontend",
      );
    } else if (directive.name === "check") {
      notices.push(
        `${where}: ignoring "# check=${directive.value}": tsbuild does not run Dockerfile checks`,
      );
    }
  }
  return notices;
}
