import { parseChallenges } from "../../../core/registry/_challenge.ts";
import { assertEquals } from "../../_assert.ts";

Deno.test("parseChallenges() reads a Docker Hub bearer challenge", () => {
  const header =
    'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"';
  assertEquals(parseChallenges(header), [{
    scheme: "bearer",
    params: {
      realm: "https://auth.docker.io/token",
      service: "registry.docker.io",
      scope: "repository:library/busybox:pull",
    },
  }]);
});

Deno.test("parseChallenges() reads several challenges and unquoted values", () => {
  const header =
    'Basic realm="registry", charset=UTF-8, Bearer realm="https://a/token",scope="x:y:pull,push"';
  assertEquals(parseChallenges(header), [
    { scheme: "basic", params: { realm: "registry", charset: "UTF-8" } },
    { scheme: "bearer", params: { realm: "https://a/token", scope: "x:y:pull,push" } },
  ]);
});

Deno.test("parseChallenges() unescapes quoted values", () => {
  assertEquals(parseChallenges('Bearer realm="a \\"b\\" c"'), [
    { scheme: "bearer", params: { realm: 'a "b" c' } },
  ]);
});

Deno.test("parseChallenges() keeps challenges before a malformed part", () => {
  assertEquals(parseChallenges('Basic realm="r", Bearer realm="unterminated'), [
    { scheme: "basic", params: { realm: "r" } },
    { scheme: "bearer", params: {} },
  ]);
  assertEquals(parseChallenges(""), []);
});
