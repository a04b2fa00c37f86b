/**
 * Reads a whole regular file or stream with a size limit, so a FIFO,
 * /dev/zero or a huge file passed by mistake fails clearly instead of
 * filling memory.
 *
 * @module
 */

import { InvalidInputError } from "../errors.ts";

/**
 * Reads the regular file `path`, failing when it is larger than `maxBytes`.
 * `description` names the file in errors, e.g. `secret "npmrc"`.
 */
export async function readRegularFile(
  path: string,
  maxBytes: number,
  description: string,
): Promise<Uint8Array> {
  const info = await Deno.stat(path);
  if (!info.isFile) {
    throw new InvalidInputError(`Failed to read ${description} from "${path}": not a regular file`);
  }
  if (info.size > maxBytes) {
    throw new InvalidInputError(
      `Failed to read ${description} from "${path}": ${info.size} bytes is more than the limit of ${maxBytes}`,
    );
  }
  return await Deno.readFile(path);
}

/** Reads `stream` to its end, failing once it carries more than `maxBytes`. */
export async function readStreamLimited(
  stream: ReadableStream<Uint8Array>,
  maxBytes: number,
  description: string,
): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += chunk.byteLength;
    if (size > maxBytes) {
      throw new InvalidInputError(
        `Failed to read ${description}: more than the limit of ${maxBytes} bytes`,
      );
    }
    chunks.push(chunk);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}
