/**
 * Lexical clean-up of slash-separated paths, as Go's `path.Clean` does it.
 *
 * @module
 */

/**
 * Returns the shortest equivalent of `path`: repeated and trailing slashes,
 * `.` segments, and `..` segments after a name are removed. A `..` that
 * climbs above a relative start is kept; one above `/` is dropped. An empty
 * result is `.`.
 */
export function cleanPath(path: string): string {
  const rooted = path.startsWith("/");
  const segments: string[] = [];

  for (const segment of path.split("/")) {
    if (segment === "" || segment === ".") continue;
    if (segment !== "..") {
      segments.push(segment);
    } else if (segments.length > 0 && segments[segments.length - 1] !== "..") {
      segments.pop();
    } else if (!rooted) {
      segments.push("..");
    }
  }

  const joined = segments.join("/");
  if (rooted) return "/" + joined;
  return joined === "" ? "." : joined;
}
