/**
 * The base URL of a registry's API: which scheme and host a registry name is reached at.
 *
 * @module
 */

/** The host that serves Docker Hub's registry API for "docker.io". */
export const DOCKER_HUB_API_HOST = "registry-1.docker.io";

/**
 * Returns the base URL for a registry host ("docker.io", "127.0.0.1:5000"), without a
 * trailing slash. Like Docker, it uses plain HTTP for loopback hosts (localhost, 127.0.0.0/8
 * and [::1]) and for hosts listed in `insecureRegistries`, and HTTPS for all others.
 * An `insecureRegistries` entry matches a host with or without its port ("myhost" matches
 * "myhost:5000"), and "docker.io" is served from registry-1.docker.io.
 */
export function registryBaseUrl(registry: string, insecureRegistries: readonly string[] = []) {
  const host = registry === "docker.io" ? DOCKER_HUB_API_HOST : registry;
  const plain = isLoopbackHost(registry) || isListed(registry, insecureRegistries);
  return `${plain ? "http" : "https"}://${host}`;
}

/** Reports whether a registry host (with optional port) is a loopback address. */
export function isLoopbackHost(registry: string): boolean {
  const hostname = hostnameOf(registry).toLowerCase();
  if (hostname === "localhost" || hostname === "[::1]") return true;
  const octets = hostname.split(".");
  return octets.length === 4 && octets[0] === "127" &&
    octets.every((octet) => /^\d{1,3}$/.test(octet) && Number(octet) <= 255);
}

function isListed(registry: string, insecureRegistries: readonly string[]): boolean {
  const host = registry.toLowerCase();
  return insecureRegistries.some((entry) => {
    const listed = entry.toLowerCase().replace(/^https?:\/\//, "").replace(/\/+$/, "");
    return listed === host || listed === hostnameOf(host);
  });
}

// Strips the port: "127.0.0.1:5000" → "127.0.0.1", "[::1]:5000" → "[::1]".
function hostnameOf(registry: string): string {
  if (registry.startsWith("[")) return registry.slice(0, registry.indexOf("]") + 1);
  const colon = registry.lastIndexOf(":");
  return colon === -1 ? registry : registry.slice(0, colon);
}
