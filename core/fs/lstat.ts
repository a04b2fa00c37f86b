/**
 * Looking up a path that may not exist, without following a final symlink.
 *
 * @module
 */

/**
 * Returns `Deno.lstatSync(path)`, or undefined when nothing is there: the
 * path is missing, or a component on the way is not a directory.
 */
export function lstatIfExists(path: string): Deno.FileInfo | undefined {
  try {
    return Deno.lstatSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
      return undefined;
    }
    throw error;
  }
}
