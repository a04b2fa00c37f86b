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
export async function writeNetworkFiles(
  directory: string,
  hostname: string,
  options: WriteNetworkFilesOptions = {},
): Promise<NetworkFiles> {
  const hosts = join(directory, "hosts");
  const resolvConf = join(directory, "resolv.conf");

  await Deno.writeTextFile(hosts, hostsContent(hostname));
  await Deno.writeTextFile(
    resolvConf,
    await readOrEmpty(options.hostResolvConf ?? "/etc/resolv.conf"),
  );
  return { hosts, resolvConf };
}

/** Returns the hosts file for a container named `hostname`. */
export function hostsContent(hostname: string): string {
  return `127.0.0.1\tlocalhost ${hostname}\n::1\tlocalhost ip6-localhost ip6-loopback\n`;
}

async function readOrEmpty(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return "";
    throw error;
  }
}
