/**
 * Streaming zstd decompression one frame at a time. It works around two faults
 * of Deno 2.9.6's `node:zlib` zstd decompressor, which drops everything after
 * the first frame when one write contains the end of a frame and the start of
 * the next, and which ends without an error on truncated input.
 *
 * @module
 */

import { createZstdDecompress } from "../deps.ts";
import { pipeThroughNodeTransform } from "./_tar_node_transform.ts";

/** Little-endian magic number of a zstd frame (RFC 8878, section 3.1.1). */
const FRAME_MAGIC = 0xfd2fb528;
/** Skippable frames use the 16 magic numbers from this one up (RFC 8878, section 3.1.2). */
const SKIPPABLE_MAGIC = 0x184d2a50;

/** The part of the stream the splitter expects next. */
type Step = "magic" | "descriptor" | "skippable-size" | "block-header";

const STEP_LENGTH: Record<Step, number> = {
  "magic": 4,
  "descriptor": 1,
  "skippable-size": 4,
  "block-header": 3,
};

/** Field sizes selected by the frame header descriptor's flags (RFC 8878, section 3.1.1.1). */
const DICTIONARY_ID_SIZES = [0, 1, 2, 4];
const CONTENT_SIZE_SIZES = [0, 2, 4, 8];

/** A piece of split zstd input: bytes of the current frame, or the end of that frame. */
export type FramePiece = Uint8Array | "end";

function readUint32(bytes: Uint8Array): number {
  return (bytes[0] | (bytes[1] << 8) | (bytes[2] << 16) | (bytes[3] << 24)) >>> 0;
}

/**
 * Splits a zstd stream into frames by reading magic numbers, frame headers and
 * block headers and skipping over block contents. Skippable frames are dropped.
 */
export class ZstdFrameSplitter {
  #step: Step = "magic";
  #field = new Uint8Array(4);
  #filled = 0;
  /** Bytes to pass over before the next field. */
  #skip = 0;
  /** Whether the bytes passed over belong to a skippable frame and are dropped. */
  #dropping = false;
  /** Whether the frame ends once `#skip` reaches zero. */
  #endsAfterSkip = false;
  #checksum = false;
  #frames = 0;

  /** Returns the frame bytes and frame ends that `chunk` holds, in order. */
  split(chunk: Uint8Array): FramePiece[] {
    const pieces: FramePiece[] = [];
    let offset = 0;
    while (offset < chunk.length) {
      if (this.#skip > 0) {
        const count = Math.min(this.#skip, chunk.length - offset);
        if (!this.#dropping) pieces.push(chunk.subarray(offset, offset + count));
        this.#skip -= count;
        offset += count;
        if (this.#skip === 0) this.#endSkip(pieces);
        continue;
      }
      const count = Math.min(STEP_LENGTH[this.#step] - this.#filled, chunk.length - offset);
      this.#field.set(chunk.subarray(offset, offset + count), this.#filled);
      // Magic bytes are held back until they show whether the frame is kept.
      if (this.#step !== "magic" && this.#step !== "skippable-size") {
        pieces.push(chunk.subarray(offset, offset + count));
      }
      this.#filled += count;
      offset += count;
      if (this.#filled === STEP_LENGTH[this.#step]) {
        this.#filled = 0;
        this.#advance(pieces);
      }
    }
    return pieces;
  }

  /** Reports whether the bytes so far are one or more whole frames. */
  complete(): boolean {
    return this.#frames > 0 && this.#step === "magic" && this.#filled === 0 && this.#skip === 0;
  }

  #endSkip(pieces: FramePiece[]): void {
    this.#dropping = false;
    if (this.#endsAfterSkip) {
      this.#endsAfterSkip = false;
      pieces.push("end");
    }
  }

  #advance(pieces: FramePiece[]): void {
    const field = this.#field;
    switch (this.#step) {
      case "magic":
        return this.#readMagic(pieces, readUint32(field));
      case "skippable-size":
        this.#skip = readUint32(field);
        this.#dropping = true;
        this.#step = "magic";
        return;
      case "descriptor": {
        const descriptor = field[0];
        const singleSegment = (descriptor & 0x20) !== 0;
        const contentSizeFlag = descriptor >> 6;
        this.#checksum = (descriptor & 0x04) !== 0;
        this.#skip = (singleSegment ? 0 : 1) + DICTIONARY_ID_SIZES[descriptor & 0x03] +
          (contentSizeFlag === 0 && singleSegment ? 1 : CONTENT_SIZE_SIZES[contentSizeFlag]);
        this.#step = "block-header";
        return;
      }
      case "block-header": {
        const header = field[0] | (field[1] << 8) | (field[2] << 16);
        const last = (header & 1) !== 0;
        const type = (header >> 1) & 0x03;
        // An RLE block stores its one repeated byte; raw and compressed blocks store their size.
        this.#skip = (type === 1 ? 1 : header >>> 3) + (last && this.#checksum ? 4 : 0);
        this.#step = last ? "magic" : "block-header";
        this.#endsAfterSkip = last;
        if (this.#skip === 0) this.#endSkip(pieces);
        return;
      }
    }
  }

  #readMagic(pieces: FramePiece[], magic: number): void {
    if (magic === FRAME_MAGIC) {
      this.#frames++;
      pieces.push(this.#field.slice(0, 4));
      this.#step = "descriptor";
    } else if ((magic & 0xfffffff0) === SKIPPABLE_MAGIC) {
      this.#step = "skippable-size";
    } else {
      throw new Error(
        `Failed to decompress zstd: unknown frame magic number "0x${magic.toString(16)}"`,
      );
    }
  }
}

/** Reads a zstd stream as split pieces, one frame after another. */
class FrameSource {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #splitter = new ZstdFrameSplitter();
  #pending: FramePiece[] = [];
  #done = false;

  constructor(stream: ReadableStream<Uint8Array>) {
    this.#reader = stream.getReader();
  }

  /** Resolves to whether another frame starts, reading until it does or the stream ends. */
  async hasFrame(): Promise<boolean> {
    while (this.#pending.length === 0 && !this.#done) await this.#fill();
    return this.#pending.length > 0;
  }

  /** Returns the next piece of the current frame, or "end" after its last byte. */
  async nextPiece(): Promise<FramePiece> {
    while (this.#pending.length === 0) {
      if (this.#done) return "end";
      await this.#fill();
    }
    return this.#pending.shift()!;
  }

  cancel(reason: unknown): Promise<void> {
    return this.#reader.cancel(reason);
  }

  async #fill(): Promise<void> {
    const { done, value } = await this.#reader.read();
    if (!done) {
      this.#pending = this.#splitter.split(value);
      return;
    }
    this.#done = true;
    if (!this.#splitter.complete()) {
      throw new Error("Failed to decompress zstd: unexpected end of file inside a frame");
    }
  }
}

/** Returns the bytes of the current frame of `source` as a stream that ends with the frame. */
function frameStream(source: FrameSource): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const piece = await source.nextPiece();
      if (piece === "end") controller.close();
      else controller.enqueue(piece);
    },
    cancel: (reason) => source.cancel(reason),
  }, { highWaterMark: 0 });
}

/**
 * Returns the decompressed bytes of the zstd stream `stream`, giving each
 * frame its own decompressor.
 *
 * @throws {Error} through the stream when the input ends inside a frame or is not zstd.
 */
export function decompressZstd(
  stream: ReadableStream<Uint8Array>,
  chunkSize: number,
): ReadableStream<Uint8Array> {
  const source = new FrameSource(stream);
  let frame: ReadableStreamDefaultReader<Uint8Array> | undefined;

  const readFrames = async (controller: ReadableStreamDefaultController<Uint8Array>) => {
    for (;;) {
      if (frame === undefined) {
        if (!(await source.hasFrame())) return controller.close();
        const decompressor = createZstdDecompress({ chunkSize });
        frame = pipeThroughNodeTransform(frameStream(source), decompressor).getReader();
      }
      const { done, value } = await frame.read();
      if (!done) return controller.enqueue(value);
      frame = undefined;
    }
  };

  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        await readFrames(controller);
      } catch (error) {
        await source.cancel(error).catch(() => {});
        throw error;
      }
    },
    async cancel(reason) {
      // The current frame's stream may have ended already, so the source is cancelled as well.
      if (frame !== undefined) await frame.cancel(reason);
      await source.cancel(reason);
    },
  }, { highWaterMark: 0 });
}
