/**
 * Image platforms ("linux/arm64/v8"): parsing, formatting, the host's platform and matching.
 *
 * @module
 */

import { InvalidInputError } from "../errors.ts";

/** The platform an image runs on, with the field names and values of the OCI image index. */
export interface Platform {
  /** Operating system in Go's GOOS spelling, such as "linux". */
  os: string;
  /** CPU architecture in Go's GOARCH spelling, such as "amd64" or "arm64". */
  architecture: string;
  /** CPU variant, such as "v7" for arm or "v8" for arm64. */
  variant?: string;
}

const COMPONENT_PATTERN = /^[a-z0-9._-]+$/;

const ARCHITECTURE_ALIASES: Record<string, Platform["architecture"]> = {
  x86_64: "amd64",
  "x86-64": "amd64",
  aarch64: "arm64",
  i386: "386",
  i686: "386",
};

/**
 * Returns the platform of this machine, from `Deno.build`, in its normalized form
 * (x86_64 becomes amd64, aarch64 becomes arm64 with variant v8).
 */
export function hostPlatform(): Platform {
  return normalizePlatform({ os: Deno.build.os, architecture: Deno.build.arch });
}

/**
 * Parses "os/architecture" or "os/architecture/variant" and returns it normalized.
 *
 * @throws {InvalidInputError} when the text does not have two or three non-empty parts.
 */
export function parsePlatform(text: string): Platform {
  const parts = text.trim().toLowerCase().split("/");
  const wellFormed = (parts.length === 2 || parts.length === 3) &&
    parts.every((part) => COMPONENT_PATTERN.test(part));
  if (!wellFormed) {
    throw new InvalidInputError(
      `Invalid platform "${text}": expected "os/architecture" or "os/architecture/variant", such as "linux/arm64/v8"`,
      { data: { platform: text } },
    );
  }

  const [os, architecture, variant] = parts;
  return normalizePlatform({ os, architecture, variant });
}

/** Formats a platform as "os/architecture" or "os/architecture/variant". */
export function formatPlatform(platform: Platform): string {
  const base = `${platform.os}/${platform.architecture}`;
  return platform.variant ? `${base}/${platform.variant}` : base;
}

/**
 * Returns the canonical form of a platform: lower case, Go's architecture names, and the
 * default variants filled in (v8 for arm64, v7 for arm) or dropped (v1 for amd64), so two
 * spellings of one platform compare equal.
 */
export function normalizePlatform(platform: Platform): Platform {
  const os = platform.os.toLowerCase() === "macos" ? "darwin" : platform.os.toLowerCase();
  const rawArchitecture = platform.architecture.toLowerCase();
  let architecture = ARCHITECTURE_ALIASES[rawArchitecture] ?? rawArchitecture;
  let variant = platform.variant?.toLowerCase() || undefined;
  if (variant !== undefined && /^\d/.test(variant)) variant = `v${variant}`;

  if (rawArchitecture === "armhf") [architecture, variant] = ["arm", "v7"];
  if (rawArchitecture === "armel") [architecture, variant] = ["arm", "v6"];
  if (architecture === "arm64" && (variant === undefined || variant === "v8.0")) variant = "v8";
  if (architecture === "arm" && variant === undefined) variant = "v7";
  if (architecture === "amd64" && variant === "v1") variant = undefined;

  return variant === undefined ? { os, architecture } : { os, architecture, variant };
}

/**
 * Reports whether an image built for `candidate` is the one to pick for `want`. Both are
 * normalized first, so "linux/arm64" matches "linux/arm64/v8" and "linux/arm" matches
 * "linux/arm/v7".
 *
 * NOTE: matching is exact after normalization. An older variant that would also run
 * (arm/v6 on an arm/v7 machine) is not picked, which keeps the choice predictable.
 */
export function platformMatches(want: Platform, candidate: Platform): boolean {
  const a = normalizePlatform(want);
  const b = normalizePlatform(candidate);
  return a.os === b.os && a.architecture === b.architecture && a.variant === b.variant;
}

/**
 * Returns the first entry whose platform matches `want` (see `platformMatches()`), such as the
 * manifest to pick from an image index. Entries without a platform never match.
 */
export function findByPlatform<T extends { platform?: Platform }>(
  entries: readonly T[],
  want: Platform,
): T | undefined {
  return entries.find((entry) => entry.platform && platformMatches(want, entry.platform));
}
