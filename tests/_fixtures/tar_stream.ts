/**
 * tar-stream, a tar encoder and decoder independent of tsbuild's own, for
 * writing test archives and reading exported ones.
 *
 * @module
 */

import tarStream from "tar-stream";

export { tarStream };
