/**
 * The `http` and `https` sources: a file downloaded from a URL, as Dockerfile
 * `ADD https://...` fetches it, pinned to the digest of its content.
 *
 * Attributes: `filename` (the file's name in the snapshot; default the last
 * segment of the URL's path) and `checksum` ("sha256:..."). With a checksum
 * the pin is known without a request, and the download must match it.
 * Without one every resolve sends a request, a conditional one when an
 * earlier download left an ETag or Last-Modified date.
 *
 * @module
 */

import type {
  Digest,
  Plugin,
  PluginContext,
  SourceLoadArgs,
  SourceLoadResult,
  SourcePlugin,
  SourceResolveArgs,
  SourceResolveResult,
} from "../../mod.ts";
import { createHash } from "../../core/deps.ts";
import { isDigest } from "../../core/digest.ts";
import { DigestMismatchError, InvalidInputError, RemoteError } from "../../core/errors.ts";

/** The record of an earlier download of a URL, for a conditional request. */
interface DownloadRecord {
  digest: Digest;
  etag?: string;
  lastModified?: string;
}

// BuildKit gives a downloaded file mode 0600, and Docker documents it for ADD of a URL.
const FILE_MODE = 0o600;

async function onResolve(
  args: SourceResolveArgs,
  context: PluginContext,
): Promise<SourceResolveResult> {
  const checksum = args.attrs.checksum;
  if (checksum !== undefined) {
    if (!isDigest(checksum) || !/^sha256:[0-9a-f]{64}$/.test(checksum)) {
      throw new InvalidInputError(
        `Invalid checksum "${checksum}" for "${
          redact(args.identifier)
        }": expected "sha256:" and 64 hexadecimal digits`,
      );
    }
    return { pin: checksum };
  }
  const record = await download(args.identifier, context);
  return { pin: record.digest };
}

async function onLoad(args: SourceLoadArgs, context: PluginContext): Promise<SourceLoadResult> {
  const pin = args.pin as Digest;
  const filename = fileName(args);
  let record = await readRecord(args.identifier, context);
  if (record?.digest !== pin || !(await context.content.hasBlob(pin))) {
    record = await download(args.identifier, context, { ignoreRecord: true });
  }
  if (record.digest !== pin) {
    throw new DigestMismatchError(
      `Failed to download "${
        redact(args.identifier)
      }": the content has digest "${record.digest}", expected "${pin}"`,
      { data: { expected: pin, actual: record.digest } },
    );
  }

  const id = `http-${hash(`${pin}\0${filename}`)}`;
  const snapshot = await context.content.createSnapshot({ id, kind: "http" }, async (diffDir) => {
    const path = `${diffDir}/${filename}`;
    const file = await Deno.open(path, { write: true, createNew: true, mode: FILE_MODE });
    await (await context.content.openBlob(pin)).pipeTo(file.writable);
    await Deno.chmod(path, FILE_MODE);
    // As in Docker, the server's Last-Modified date becomes the file's time.
    const time = record.lastModified ? new Date(record.lastModified) : new Date(0);
    const valid = Number.isNaN(time.getTime()) ? new Date(0) : time;
    await Deno.utime(path, valid, valid);
  });
  return { snapshot };
}

/**
 * Downloads `url` into the content store and records it. When the server
 * replies "304 Not Modified" to the recorded ETag or date, the recorded content is kept.
 */
async function download(
  url: string,
  context: PluginContext,
  options: { ignoreRecord?: boolean } = {},
): Promise<DownloadRecord> {
  const previous = options.ignoreRecord ? undefined : await readRecord(url, context);
  const usable = previous && await context.content.hasBlob(previous.digest) ? previous : undefined;
  return await context.progress.step(`downloading ${redact(url)}`, async (progress) => {
    const headers: Record<string, string> = {};
    if (usable?.etag) headers["If-None-Match"] = usable.etag;
    if (usable?.lastModified) headers["If-Modified-Since"] = usable.lastModified;
    let response: Response;
    try {
      response = await fetch(url, { headers, signal: context.signal });
    } catch (error) {
      throw new RemoteError(`Failed to download "${redact(url)}": ${(error as Error).message}`, {
        cause: error,
      });
    }
    if (response.status === 304 && usable) {
      await response.body?.cancel();
      return usable;
    }
    if (!response.ok || !response.body) {
      await response.body?.cancel();
      throw new RemoteError(
        `Failed to download "${
          redact(url)
        }": the server answered ${response.status} ${response.statusText}`,
        { data: { status: response.status } },
      );
    }
    const total = Number(response.headers.get("content-length") ?? "") || undefined;
    let received = 0;
    const counted = response.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          received += chunk.length;
          progress.status("downloading", received, total);
          controller.enqueue(chunk);
        },
      }),
    );
    const blob = await context.content.writeBlob(counted);
    const record: DownloadRecord = {
      digest: blob.digest,
      ...(response.headers.get("etag") ? { etag: response.headers.get("etag")! } : {}),
      ...(response.headers.get("last-modified")
        ? { lastModified: response.headers.get("last-modified")! }
        : {}),
    };
    await writeRecord(url, record, context);
    return record;
  });
}

async function readRecord(
  url: string,
  context: PluginContext,
): Promise<DownloadRecord | undefined> {
  const dir = await context.content.dataDir("http");
  try {
    return JSON.parse(await Deno.readTextFile(`${dir}/${hash(url)}.json`));
  } catch {
    return undefined;
  }
}

// Written beside its final name and renamed, so a concurrent reader sees a whole record.
async function writeRecord(url: string, record: DownloadRecord, context: PluginContext) {
  const dir = await context.content.dataDir("http");
  const path = `${dir}/${hash(url)}.json`;
  const temporary = `${path}.${crypto.randomUUID()}`;
  await Deno.writeTextFile(temporary, JSON.stringify(record));
  await Deno.rename(temporary, path);
}

function fileName(args: SourceResolveArgs): string {
  const name = args.attrs.filename;
  if (name && !name.includes("/") && name !== "." && name !== "..") return name;
  if (name) {
    throw new InvalidInputError(`Invalid filename "${name}" for "${redact(args.identifier)}"`);
  }
  try {
    const last = new URL(args.identifier).pathname.split("/").filter(Boolean).at(-1);
    return last ? decodeURIComponent(last) : "__unnamed__";
  } catch {
    return "__unnamed__";
  }
}

function hash(text: string): string {
  return createHash("sha256").update(text).digest("hex").slice(0, 32);
}

// Credentials in a URL stay out of progress and errors.
function redact(url: string): string {
  return url.replace(/^(https?:\/\/)[^/@]*@/i, "$1***@");
}

/** The `http` and `https` source plugin. */
export const httpSource: SourcePlugin = { schemes: ["http", "https"], onResolve, onLoad };

const plugin: Plugin = { apiVersion: 1, name: "builtin-http-source", sources: [httpSource] };
export default plugin;
