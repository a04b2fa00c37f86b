/**
 * Test fixture with one registry per test file that already contains the busybox image, started
 * on first use and stopped when the test file's module unloads.
 *
 * @module
 */

import type { Digest } from "../../core/digest.ts";
import { pushBusybox } from "./push_busybox.ts";
import { startRegistry } from "./registry.ts";

/** The registry `sharedRegistry()` runs and what it holds. */
export interface SharedRegistry {
  /** "127.0.0.1:PORT". */
  host: string;
  /** "127.0.0.1:PORT/busybox:1". */
  busyboxRef: string;
  /** Manifest digest of busybox:1 in that registry. */
  busyboxDigest: Digest;
}

let shared: Promise<SharedRegistry> | undefined;

/**
 * Returns the test file's shared registry with busybox:1 pushed, starting it on the first call.
 * Tests may push more to it, so they should use repository names of their own.
 *
 * The registry is started outside any test's resource tracking (it is not a child process of
 * Deno's), so tests that use it need no sanitizer exceptions.
 */
export function sharedRegistry(): Promise<SharedRegistry> {
  shared ??= startShared().catch((error) => {
    shared = undefined;
    throw error;
  });
  return shared;
}

async function startShared(): Promise<SharedRegistry> {
  const registry = await startRegistry();
  globalThis.addEventListener("unload", () => registry.stopSync());
  try {
    const busyboxDigest = await pushBusybox(registry.host);
    return { host: registry.host, busyboxRef: `${registry.host}/busybox:1`, busyboxDigest };
  } catch (error) {
    await registry.stop();
    throw error;
  }
}
