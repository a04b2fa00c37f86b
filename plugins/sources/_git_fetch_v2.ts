/**
 * The `fetch` command of git's protocol v2 over smart HTTP: requests exact
 * objects at a depth, streams the pack into a file and indexes it.
 *
 * isomorphic-git's own fetch speaks protocol v1 only and indexes packs in a
 * way that takes seconds for a few thousand objects, so v2 servers are
 * served by this module; v1 servers still go through isomorphic-git.
 *
 * @module
 */

import type { HttpClient } from "isomorphic-git";
import { join, randomBytes } from "../../core/deps.ts";
import { indexPack } from "./_git_pack_write.ts";

/** A fetch request: the wanted objects and the history depth. */
export interface PackRequest {
  wants: string[];
  /** How many commits of history to send from each want. */
  depth: number;
}

/** The parts of the server's response besides the pack. */
export interface PackResponse {
  /** Commits whose parents were not sent. */
  shallow: string[];
}

/** The server refused the request, e.g. "not our ref" for a commit it does not hand out. */
export class FetchRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FetchRefusedError";
  }
}

const FLUSH = "0000";
const DELIMITER = "0001";

/**
 * Sends a protocol v2 fetch to `url` and writes the pack into
 * `gitdir/objects/pack` as `pack-<checksum>.pack` with its index.
 */
export async function fetchPackV2(
  http: HttpClient,
  url: string,
  gitdir: string,
  request: PackRequest,
): Promise<PackResponse> {
  const body = new TextEncoder().encode(requestBody(request));
  const response = await http.request({
    url: `${url}/git-upload-pack`,
    method: "POST",
    headers: {
      "content-type": "application/x-git-upload-pack-request",
      accept: "application/x-git-upload-pack-result",
      "git-protocol": "version=2",
    },
    body: (async function* () {
      yield body;
    })(),
  });
  const packDir = join(gitdir, "objects/pack");
  const temporary = join(packDir, `incoming-${randomBytes(6).toString("hex")}.pack`);
  try {
    const shallow = await readResponse(response.body, temporary);
    const { checksum } = await indexPack(temporary);
    await Deno.rename(temporary, join(packDir, `pack-${checksum}.pack`));
    await Deno.rename(temporary.replace(/\.pack$/, ".idx"), join(packDir, `pack-${checksum}.idx`));
    return { shallow };
  } finally {
    await Deno.remove(temporary).catch(() => {});
    await Deno.remove(temporary.replace(/\.pack$/, ".idx")).catch(() => {});
  }
}

function requestBody(request: PackRequest): string {
  const lines = [
    packetLine("command=fetch\n"),
    packetLine("agent=tsbuild\n"),
    DELIMITER,
    packetLine("ofs-delta\n"),
    packetLine("no-progress\n"),
    packetLine(`deepen ${request.depth}\n`),
    ...request.wants.map((oid) => packetLine(`want ${oid}\n`)),
    packetLine("done\n"),
    FLUSH,
  ];
  return lines.join("");
}

function packetLine(text: string): string {
  return `${(new TextEncoder().encode(text).length + 4).toString(16).padStart(4, "0")}${text}`;
}

// Reads the response's sections: "shallow-info" lines are collected and the
// "packfile" section's band 1 is written to `packPath`.
async function readResponse(
  body: AsyncIterableIterator<Uint8Array> | undefined,
  packPath: string,
): Promise<string[]> {
  if (!body) throw new RangeError("the server sent an empty response");
  const reader = new PacketReader(body);
  const shallow: string[] = [];
  const file = await Deno.open(packPath, { write: true, createNew: true });
  try {
    let section = "";
    let sawPack = false;
    for (;;) {
      const packet = await reader.next();
      if (packet === undefined) break;
      if (packet === "flush") {
        if (section === "packfile") break;
        continue;
      }
      if (packet === "delimiter") {
        section = "";
        continue;
      }
      if (section === "packfile") {
        await writeBand(packet, file);
        sawPack = true;
        continue;
      }
      const text = new TextDecoder().decode(packet).replace(/\n$/, "");
      if (text.startsWith("ERR ")) throw new FetchRefusedError(text.slice(4));
      if (section === "") section = text;
      else if (section === "shallow-info" && text.startsWith("shallow ")) {
        shallow.push(text.slice(8));
      }
    }
    if (!sawPack) throw new RangeError("the server's response has no pack");
  } finally {
    file.close();
  }
  return shallow;
}

async function writeBand(packet: Uint8Array, file: Deno.FsFile): Promise<void> {
  const band = packet[0];
  if (band === 1) {
    let written = 0;
    const data = packet.subarray(1);
    while (written < data.length) written += await file.write(data.subarray(written));
  } else if (band === 3) {
    throw new FetchRefusedError(new TextDecoder().decode(packet.subarray(1)).trim());
  } else if (band !== 2) {
    throw new RangeError(`the server's pack stream has unknown band ${band}`);
  }
}

/** Splits a byte stream into pkt-lines: payloads, "flush" and "delimiter". */
class PacketReader {
  readonly #chunks: AsyncIterator<Uint8Array>;
  #buffer = new Uint8Array(0);

  constructor(chunks: AsyncIterable<Uint8Array>) {
    this.#chunks = chunks[Symbol.asyncIterator]();
  }

  /** Returns the next packet, or undefined at the end of the stream. */
  async next(): Promise<Uint8Array | "flush" | "delimiter" | undefined> {
    if (!(await this.#fill(4))) {
      if (this.#buffer.length === 0) return undefined;
      throw new RangeError("the server's response ends inside a pkt-line");
    }
    const length = parseInt(new TextDecoder().decode(this.#buffer.subarray(0, 4)), 16);
    if (!Number.isInteger(length) || (length > 0 && length < 4)) {
      if (length === 1) return this.#take(4) && "delimiter";
      if (length === 2) return this.#take(4) && "flush";
      throw new RangeError("the server's response is not in pkt-line format");
    }
    if (length === 0) return this.#take(4) && "flush";
    if (!(await this.#fill(length))) {
      throw new RangeError("the server's response ends inside a pkt-line");
    }
    return this.#take(length).subarray(4);
  }

  async #fill(size: number): Promise<boolean> {
    while (this.#buffer.length < size) {
      const { value, done } = await this.#chunks.next();
      if (done) return false;
      const joined = new Uint8Array(this.#buffer.length + value.length);
      joined.set(this.#buffer);
      joined.set(value, this.#buffer.length);
      this.#buffer = joined;
    }
    return true;
  }

  #take(size: number): Uint8Array {
    const taken = this.#buffer.subarray(0, size);
    this.#buffer = this.#buffer.subarray(size);
    return taken;
  }
}
