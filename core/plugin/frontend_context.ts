/**
 * The context frontends receive: image resolution for base images and
 * reading files from the build's local directories.
 *
 * @module
 */

import { NotFoundError } from "../errors.ts";
import { formatReference, parseReference } from "../oci/reference.ts";
import { scopedPath } from "../fs/scoped_path.ts";
import { readRegularFile } from "../fs/read_limited.ts";

/** The largest file a frontend reads whole (a Dockerfile, an ignore file). */
const MAX_LOCAL_FILE_BYTES = 16 * 1024 * 1024;
import { createPluginContext, type PluginContextOptions } from "./context.ts";
import type { FrontendContext, ResolvedImage } from "./types.ts";

/** Options for {@link createFrontendContext}. */
export interface FrontendContextOptions extends PluginContextOptions {
  locals: Record<string, string>;
  /**
   * Looks images up in containerd's image store (`containerd`) before the registry, and loads
   * those found there with the containerd-image source, as BuildKit's containerd worker does.
   * @default false, so that a build without a configured containerd never depends on one
   */
  preferContainerdImages?: boolean;
}

/** Returns the context for a frontend's `onBuild`. */
export function createFrontendContext(
  options: FrontendContextOptions,
  plugin?: string,
): FrontendContext {
  const base = createPluginContext(options, plugin);
  const resolved = new Map<string, Promise<ResolvedImage>>();

  const resolveImage: FrontendContext["resolveImage"] = (reference, resolveOptions = {}) => {
    const platform = resolveOptions.platform ?? options.platform;
    const cacheKey = `${reference}|${platform.os}/${platform.architecture}/${
      platform.variant ?? ""
    }`;
    let found = resolved.get(cacheKey);
    if (!found) {
      found = base.progress.step(`[internal] load metadata for ${reference}`, async () => {
        const local = options.preferContainerdImages && options.containerd
          ? await (await import("../containerd/resolve_image.ts")).findContainerdImage(
            options.containerd,
            reference,
            platform,
          )
          : undefined;
        const image = local ?? await options.registry.resolve(reference, platform);
        const parsed = parseReference(reference);
        return {
          pinned: formatReference({ ...parsed, digest: image.digest }),
          digest: image.digest,
          config: image.config as ResolvedImage["config"],
          ...(local ? { source: "containerd-image" as const } : {}),
        };
      });
      resolved.set(cacheKey, found);
    }
    return found;
  };

  const readLocalFile: FrontendContext["readLocalFile"] = async (local, path) => {
    const dir = options.locals[local];
    if (dir === undefined) {
      throw new NotFoundError(
        `Failed to read "${path}": no local directory named "${local}" was given (use --local ${local}=DIR)`,
      );
    }
    const target = await scopedPath(dir, path, { followFinal: true });
    try {
      return await readRegularFile(target, MAX_LOCAL_FILE_BYTES, `"${path}"`);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return undefined;
      throw error;
    }
  };

  return { ...base, resolveImage, readLocalFile };
}
