/**
 * A description of the machine the bench runs on, for the report.
 *
 * @module
 */

import type { MachineInfo } from "./results.ts";

/** Reads the CPU count and model, total memory, kernel release and Deno version. */
export function describeMachine(): MachineInfo {
  return {
    cpus: navigator.hardwareConcurrency,
    cpuModel: cpuModel(),
    memoryBytes: Deno.systemMemoryInfo().total,
    kernel: Deno.osRelease(),
    deno: Deno.version.deno,
  };
}

function cpuModel(): string {
  try {
    const cpuInfo = Deno.readTextFileSync("/proc/cpuinfo");
    const line = cpuInfo.split("\n").find((entry) => entry.startsWith("model name"));
    return line?.split(":")[1]?.trim() ?? "unknown model";
  } catch {
    return "unknown model";
  }
}
