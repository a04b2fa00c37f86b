/**
 * The automatic platform ARGs BuildKit defines: TARGETPLATFORM, TARGETOS,
 * TARGETARCH, TARGETVARIANT and their BUILD* counterparts.
 *
 * @module
 */

import type { Platform } from "../../../mod.ts";

/** Returns the automatic platform ARG values for a target and build platform. */
export function platformArgs(target: Platform, build: Platform): Record<string, string> {
  const format = (platform: Platform) =>
    [platform.os, platform.architecture, platform.variant].filter(Boolean).join("/");
  return {
    TARGETPLATFORM: format(target),
    TARGETOS: target.os,
    TARGETARCH: target.architecture,
    TARGETVARIANT: target.variant ?? "",
    BUILDPLATFORM: format(build),
    BUILDOS: build.os,
    BUILDARCH: build.architecture,
    BUILDVARIANT: build.variant ?? "",
  };
}
