/**
 * The automatic ARGs BuildKit defines in the global scope: TARGETPLATFORM,
 * TARGETOS, TARGETARCH, TARGETVARIANT, their BUILD* counterparts, and
 * TARGETSTAGE. A stage gets one only after declaring it with `ARG NAME`.
 *
 * @module
 */

import type { Platform } from "../../../mod.ts";

/** Names of the automatic ARGs, in the order BuildKit defines them. */
export const PLATFORM_ARG_NAMES = [
  "BUILDPLATFORM",
  "BUILDOS",
  "BUILDOSVERSION",
  "BUILDARCH",
  "BUILDVARIANT",
  "TARGETPLATFORM",
  "TARGETOS",
  "TARGETOSVERSION",
  "TARGETARCH",
  "TARGETVARIANT",
  "TARGETSTAGE",
] as const;

/**
 * Returns the automatic ARG values for a target and build platform. As in
 * BuildKit, a build argument of the same name (`--build-arg TARGETARCH=...`)
 * overrides the computed value, and TARGETSTAGE is the target stage's name,
 * or "default" when the target stage has none.
 */
export function platformArgs(
  target: Platform,
  build: Platform,
  options: { targetStage?: string; overrides?: Record<string, string> } = {},
): Record<string, string> {
  const format = (platform: Platform) =>
    [platform.os, platform.architecture, platform.variant].filter(Boolean).join("/");
  const values: Record<string, string> = {
    BUILDPLATFORM: format(build),
    BUILDOS: build.os,
    BUILDOSVERSION: "",
    BUILDARCH: build.architecture,
    BUILDVARIANT: build.variant ?? "",
    TARGETPLATFORM: format(target),
    TARGETOS: target.os,
    TARGETOSVERSION: "",
    TARGETARCH: target.architecture,
    TARGETVARIANT: target.variant ?? "",
    TARGETSTAGE: options.targetStage || "default",
  };
  for (const name of PLATFORM_ARG_NAMES) {
    if (options.overrides && Object.hasOwn(options.overrides, name)) {
      values[name] = options.overrides[name];
    }
  }
  return values;
}
