/**
 * The `dockerfile` frontend: reads the Dockerfile and .dockerignore from the
 * build's local directories and converts them into a build definition.
 *
 * @module
 */

import type {
  FrontendBuildArgs,
  FrontendContext,
  FrontendPlugin,
  FrontendResult,
  Platform,
  PlatformDefinition,
  Plugin,
} from "../../../mod.ts";
import { NotFoundError } from "../../../core/errors.ts";
import {
  formatPlatform,
  hostPlatform,
  parsePlatform,
  platformMatches,
} from "../../../core/oci/platform.ts";
import { convertDockerfile } from "./convert.ts";
import { parseDockerignore } from "../../../core/fs/path_matcher.ts";

const DEFAULT_FILENAME = "Dockerfile";

async function onBuild(args: FrontendBuildArgs, context: FrontendContext): Promise<FrontendResult> {
  const filename = args.options.filename ?? DEFAULT_FILENAME;
  const dockerfileLocal = args.locals.dockerfile !== undefined ? "dockerfile" : "context";
  const text = await context.progress.step(
    `[internal] load build definition from ${filename}`,
    async () => {
      const bytes = await context.readLocalFile(dockerfileLocal, filename);
      if (!bytes) {
        throw new NotFoundError(
          `Failed to read Dockerfile "${filename}": not found in "${args.locals[dockerfileLocal]}"`,
        );
      }
      return new TextDecoder().decode(bytes);
    },
  );
  const excludes = await context.progress.step(
    "[internal] load .dockerignore",
    () => readIgnorePatterns(filename, dockerfileLocal, context),
  );

  const buildArgs: Record<string, string> = {};
  for (const [key, value] of Object.entries(args.options)) {
    if (key.startsWith("build-arg:")) buildArgs[key.slice("build-arg:".length)] = value;
  }
  const platforms = targetPlatforms(args.options.platform, context);
  const notices = new Set<string>();
  const definitions: PlatformDefinition[] = [];
  for (const platform of platforms) {
    const definition = await convertDockerfile({
      file: filename,
      text,
      buildArgs,
      target: args.options.target,
      platform,
      buildPlatform: hostPlatform(),
      stepScope: platforms.length > 1 ? formatPlatform(platform) : undefined,
      excludes,
      resolveImage: (reference, imagePlatform) =>
        context.resolveImage(reference, { platform: imagePlatform }),
      // Each platform's conversion finds the same notices; they are shown once.
      onWarning: (message) => notices.add(message),
    });
    definitions.push({ platform, definition });
  }
  for (const message of notices) {
    context.progress.emit({ type: "warning", message, time: Date.now() });
  }
  return {
    definition: definitions[0].definition,
    ...(definitions.length > 1 ? { platforms: definitions } : {}),
  };
}

// `platform` may list several platforms, comma-separated; repeats are built once.
function targetPlatforms(option: string | undefined, context: FrontendContext): Platform[] {
  if (!option) return [context.platform];
  const platforms: Platform[] = [];
  for (const text of option.split(",").map((part) => part.trim()).filter(Boolean)) {
    const platform = parsePlatform(text);
    if (!platforms.some((known) => platformMatches(known, platform))) platforms.push(platform);
  }
  return platforms.length > 0 ? platforms : [context.platform];
}

// A "<Dockerfile>.dockerignore" next to the Dockerfile wins over the context's ".dockerignore".
async function readIgnorePatterns(
  filename: string,
  dockerfileLocal: string,
  context: FrontendContext,
): Promise<string[]> {
  const specific = await context.readLocalFile(dockerfileLocal, `${filename}.dockerignore`);
  if (specific) {
    return parseDockerignore(new TextDecoder().decode(specific), `${filename}.dockerignore`);
  }
  const shared = await context.readLocalFile("context", ".dockerignore");
  if (shared) return parseDockerignore(new TextDecoder().decode(shared), ".dockerignore");
  return [];
}

/** The `dockerfile` frontend plugin. */
export const dockerfileFrontend: FrontendPlugin = { name: "dockerfile", onBuild };

const plugin: Plugin = {
  apiVersion: 1,
  name: "builtin-dockerfile-frontend",
  frontends: [dockerfileFrontend],
};
export default plugin;
