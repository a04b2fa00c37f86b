import { isLoopbackHost, registryBaseUrl } from "../../../core/registry/endpoint.ts";
import { assertEquals } from "../../_assert.ts";

Deno.test("registryBaseUrl() uses HTTP for loopback hosts", () => {
  assertEquals(registryBaseUrl("127.0.0.1:5000"), "http://127.0.0.1:5000");
  assertEquals(registryBaseUrl("127.1.2.3"), "http://127.1.2.3");
  assertEquals(registryBaseUrl("localhost"), "http://localhost");
  assertEquals(registryBaseUrl("localhost:5000"), "http://localhost:5000");
  assertEquals(registryBaseUrl("[::1]:5000"), "http://[::1]:5000");
});

Deno.test("registryBaseUrl() uses HTTPS for other hosts", () => {
  assertEquals(registryBaseUrl("ghcr.io"), "https://ghcr.io");
  assertEquals(registryBaseUrl("128.0.0.1:5000"), "https://128.0.0.1:5000");
  assertEquals(registryBaseUrl("127.0.0.1.example.com"), "https://127.0.0.1.example.com");
  assertEquals(registryBaseUrl("localhost.example.com"), "https://localhost.example.com");
});

Deno.test("registryBaseUrl() maps docker.io to registry-1.docker.io", () => {
  assertEquals(registryBaseUrl("docker.io"), "https://registry-1.docker.io");
});

Deno.test("registryBaseUrl() uses HTTP for listed insecure registries", () => {
  const insecure = ["registry.lan:5000", "http://mirror.lan", "other.lan:7000/"];
  assertEquals(registryBaseUrl("registry.lan:5000", insecure), "http://registry.lan:5000");
  assertEquals(registryBaseUrl("registry.lan:6000", insecure), "https://registry.lan:6000");
  assertEquals(registryBaseUrl("mirror.lan:443", insecure), "http://mirror.lan:443");
  assertEquals(registryBaseUrl("mirror.lan", insecure), "http://mirror.lan");
  assertEquals(registryBaseUrl("other.lan:7000", insecure), "http://other.lan:7000");
});

Deno.test("isLoopbackHost() rejects addresses outside 127.0.0.0/8", () => {
  assertEquals(isLoopbackHost("127.0.0.256"), false);
  assertEquals(isLoopbackHost("10.0.0.1:5000"), false);
  assertEquals(isLoopbackHost("[::2]:5000"), false);
  assertEquals(isLoopbackHost("LOCALHOST:5000"), true);
});
