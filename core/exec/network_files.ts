/**
 * The /etc/hosts and /etc/resolv.conf files bound into a container that
 * shares the host's network.
 *
 * @module
 */

import { join } from "../deps.ts";
import type { NetworkFiles } from "./spec.ts";

/** Options of {@linkcode writeNetworkFiles}. */
export interface WriteNetworkFilesOptions {
  /** Host file whose content becomes the container's resolv.conf. @default "/etc/resolv.conf" */
  hostResolvConf?: string;
}

/**
 * Writes `hosts` and `resolv.conf` into `directory` and returns their paths.
 * The hosts file maps localhost and `hostname` to the loopback addresses.
 * resolv.conf is a copy of the host's, because the container reaches the same
 * resolvers as the host, or empty when the host has none.
 */
export function writeNetworkFiles(
  directory: string,
  hostname: string,
  options: WriteNetworkFilesOptions = {},
): NetworkFiles {
  const hosts = join(directory, "hosts");
  const resolvConf = join(directory, "resolv.conf");

  // Synchronous, as the other small calls that prepare a run are (see _root_path.ts).
  Deno.writeTextFileSync(hosts, hostsContent(hostname));
  Deno.writeTextFileSync(resolvConf, readOrEmpty(options.hostResolvConf ?? "/etc/resolv.conf"));
  return { hosts, resolvConf };
}

/** Returns the hosts file for a container named `hostname`. */
export function hostsContent(hostname: string): string {
  return `127.0.0.1\tlocalhost ${hostname}\n::1\tlocalhost ip6-localhost ip6-loopback\n`;
}

function readOrEmpty(path: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return "";
    throw error;
  }
}
