import { InvalidInputError } from "../../../core/errors.ts";
import {
  findByPlatform,
  formatPlatform,
  hostPlatform,
  normalizePlatform,
  parsePlatform,
  platformMatches,
} from "../../../core/oci/platform.ts";
import { assertEquals, assertThrows } from "../../_assert.ts";

Deno.test("hostPlatform() maps Deno.build to OCI names", () => {
  const expected = Deno.build.arch === "x86_64"
    ? { os: Deno.build.os, architecture: "amd64" }
    : { os: Deno.build.os, architecture: "arm64", variant: "v8" };
  assertEquals(hostPlatform(), expected);
});

Deno.test("parsePlatform() reads two and three parts", () => {
  assertEquals(parsePlatform("linux/amd64"), { os: "linux", architecture: "amd64" });
  assertEquals(parsePlatform("linux/arm64/v8"), {
    os: "linux",
    architecture: "arm64",
    variant: "v8",
  });
  assertEquals(parsePlatform("linux/arm/6"), { os: "linux", architecture: "arm", variant: "v6" });
});

Deno.test("parsePlatform() normalizes aliases and default variants", () => {
  assertEquals(parsePlatform("Linux/x86_64"), { os: "linux", architecture: "amd64" });
  assertEquals(parsePlatform("linux/aarch64"), {
    os: "linux",
    architecture: "arm64",
    variant: "v8",
  });
  assertEquals(parsePlatform("linux/arm"), { os: "linux", architecture: "arm", variant: "v7" });
  assertEquals(parsePlatform("linux/armhf"), { os: "linux", architecture: "arm", variant: "v7" });
  assertEquals(parsePlatform("linux/amd64/v1"), { os: "linux", architecture: "amd64" });
  assertEquals(parsePlatform("linux/i386"), { os: "linux", architecture: "386" });
});

Deno.test("parsePlatform() rejects malformed text", () => {
  for (const text of ["linux", "linux/", "/amd64", "linux/amd64/v8/extra", "linux/am d64"]) {
    const error = assertThrows(() => parsePlatform(text), InvalidInputError);
    assertEquals(
      error.message,
      `Invalid platform "${text}": expected "os/architecture" or "os/architecture/variant", such as "linux/arm64/v8"`,
    );
  }
});

Deno.test("formatPlatform() writes the variant only when set", () => {
  assertEquals(formatPlatform({ os: "linux", architecture: "amd64" }), "linux/amd64");
  assertEquals(formatPlatform({ os: "linux", architecture: "arm", variant: "v7" }), "linux/arm/v7");
});

Deno.test("normalizePlatform() keeps a non-default variant", () => {
  assertEquals(normalizePlatform({ os: "linux", architecture: "amd64", variant: "v3" }), {
    os: "linux",
    architecture: "amd64",
    variant: "v3",
  });
});

Deno.test("platformMatches() fills arm variant defaults", () => {
  const arm64 = { os: "linux", architecture: "arm64" };
  assertEquals(platformMatches(arm64, { ...arm64, variant: "v8" }), true);
  assertEquals(platformMatches({ ...arm64, variant: "v8" }, arm64), true);
  assertEquals(
    platformMatches({ os: "linux", architecture: "arm" }, parsePlatform("linux/arm/v7")),
    true,
  );
  assertEquals(
    platformMatches({ os: "linux", architecture: "arm" }, parsePlatform("linux/arm/v6")),
    false,
  );
  assertEquals(platformMatches(parsePlatform("linux/amd64"), parsePlatform("linux/arm64")), false);
  assertEquals(
    platformMatches(parsePlatform("linux/amd64"), parsePlatform("windows/amd64")),
    false,
  );
  assertEquals(
    platformMatches(parsePlatform("linux/amd64"), parsePlatform("linux/amd64/v3")),
    false,
  );
});

Deno.test("findByPlatform() returns the first matching entry", () => {
  const entries = [
    { name: "none" },
    { name: "arm", platform: { os: "linux", architecture: "arm", variant: "v7" } },
    { name: "arm64", platform: { os: "linux", architecture: "arm64" } },
    { name: "arm64-again", platform: { os: "linux", architecture: "arm64", variant: "v8" } },
  ];
  assertEquals(findByPlatform(entries, parsePlatform("linux/arm64/v8"))?.name, "arm64");
  assertEquals(findByPlatform(entries, parsePlatform("linux/s390x")), undefined);
});
