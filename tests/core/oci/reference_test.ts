import { InvalidInputError } from "../../../core/errors.ts";
import {
  formatReference,
  type ImageReference,
  parseReference,
} from "../../../core/oci/reference.ts";
import { assertEquals, assertThrows } from "../../_assert.ts";

const DIGEST = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

const VALID: [string, ImageReference][] = [
  ["busybox", { registry: "docker.io", repository: "library/busybox", tag: "latest" }],
  ["busybox:1.36", { registry: "docker.io", repository: "library/busybox", tag: "1.36" }],
  ["user/app", { registry: "docker.io", repository: "user/app", tag: "latest" }],
  ["docker.io/busybox", { registry: "docker.io", repository: "library/busybox", tag: "latest" }],
  [
    "index.docker.io/library/busybox:1",
    { registry: "docker.io", repository: "library/busybox", tag: "1" },
  ],
  ["127.0.0.1:5000/busybox:1", { registry: "127.0.0.1:5000", repository: "busybox", tag: "1" }],
  ["localhost/x", { registry: "localhost", repository: "x", tag: "latest" }],
  ["localhost:5000/a/b/c:v1.2", { registry: "localhost:5000", repository: "a/b/c", tag: "v1.2" }],
  ["[::1]:5000/app:dev", { registry: "[::1]:5000", repository: "app", tag: "dev" }],
  ["ghcr.io/owner/my_app-x.y:TAG_1", {
    registry: "ghcr.io",
    repository: "owner/my_app-x.y",
    tag: "TAG_1",
  }],
  [`busybox@${DIGEST}`, { registry: "docker.io", repository: "library/busybox", digest: DIGEST }],
  [`127.0.0.1:5000/busybox:1@${DIGEST}`, {
    registry: "127.0.0.1:5000",
    repository: "busybox",
    tag: "1",
    digest: DIGEST,
  }],
  ["Registry.Example/app", { registry: "Registry.Example", repository: "app", tag: "latest" }],
];

for (const [text, expected] of VALID) {
  Deno.test(`parseReference() parses "${text}"`, () => {
    assertEquals(parseReference(text), expected);
  });
}

const INVALID: [string, string][] = [
  ["", `Invalid image reference "": the reference is empty`],
  ["Busybox", `Invalid image reference "Busybox": the repository name must be lowercase`],
  ["busybox:", `Invalid image reference "busybox:": invalid tag ""`],
  ["busybox:-x", `Invalid image reference "busybox:-x": invalid tag "-x"`],
  [
    "busybox@sha256:abc",
    `Invalid image reference "busybox@sha256:abc": invalid digest "sha256:abc": expected "sha256:" and 64 lowercase hex digits`,
  ],
  [
    "busybox@sha512:0123456789abcdef0123456789abcdef",
    `Invalid image reference "busybox@sha512:0123456789abcdef0123456789abcdef": unsupported digest algorithm in "sha512:0123456789abcdef0123456789abcdef": only sha256 is supported`,
  ],
  [
    `busybox@${DIGEST}@${DIGEST}`,
    `Invalid image reference "busybox@${DIGEST}@${DIGEST}": it contains more than one "@"`,
  ],
  ["a//b", `Invalid image reference "a//b": invalid repository path component ""`],
  ["-busybox", `Invalid image reference "-busybox": invalid repository path component "-busybox"`],
  ["localhost/", `Invalid image reference "localhost/": the repository name is empty`],
  [
    "bad_host:5000x/app",
    `Invalid image reference "bad_host:5000x/app": invalid registry host "bad_host:5000x"`,
  ],
  [
    DIGEST.slice("sha256:".length),
    `Invalid image reference "${
      DIGEST.slice("sha256:".length)
    }": a 64-character hex string is an image ID, not a repository name`,
  ],
  [
    `a/${"b".repeat(260)}`,
    `Invalid image reference "a/${"b".repeat(260)}": the name is longer than 255 characters`,
  ],
];

for (const [text, message] of INVALID) {
  Deno.test(`parseReference() rejects "${text.slice(0, 40)}"`, () => {
    const error = assertThrows(() => parseReference(text), InvalidInputError);
    assertEquals(error.message.startsWith(message), true, error.message);
    assertEquals(error.data.reference, text);
  });
}

Deno.test("formatReference() writes the full form", () => {
  assertEquals(formatReference(parseReference("busybox")), "docker.io/library/busybox:latest");
  assertEquals(
    formatReference(parseReference(`127.0.0.1:5000/busybox:1@${DIGEST}`)),
    `127.0.0.1:5000/busybox:1@${DIGEST}`,
  );
  assertEquals(formatReference(parseReference(`x@${DIGEST}`)), `docker.io/library/x@${DIGEST}`);
});

Deno.test("formatReference() output parses back to the same reference", () => {
  for (const [text] of VALID) {
    const parsed = parseReference(text);
    assertEquals(parseReference(formatReference(parsed)), parsed);
  }
});
