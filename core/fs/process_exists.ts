/**
 * Telling whether a process still runs, for cleaning up what a killed
 * process left: temporary files and directories name their owner's pid.
 *
 * @module
 */

/**
 * Reports whether a process with id `pid` exists, from `/proc`. A pid that a
 * new process reused counts as running, so its leftovers are kept: the safe side.
 */
export function processExists(pid: number): boolean {
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}
