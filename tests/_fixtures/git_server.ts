/**
 * Test fixture: real git repositories served over smart HTTP on loopback by
 * `git http-backend`, behind a Deno server that records each request and can
 * demand credentials or corrupt the pack data it sends.
 *
 * @module
 */

import { join } from "../../core/deps.ts";
import { type LoopbackServer, startLoopbackServer } from "./loopback_server.ts";

const HTTP_BACKEND = "/usr/lib/git-core/git-http-backend";
const GIT = "/usr/bin/git";

/** What one request to the server asked for. */
export type GitRequestKind = "advertise" | "ls-refs" | "fetch" | "other";

/** One request the server received. */
export interface GitRequest {
  kind: GitRequestKind;
  method: string;
  /** Path below the server root, e.g. "/repo.git/info/refs". */
  path: string;
  /** The Git-Protocol header, e.g. "version=2", or "" when absent. */
  protocol: string;
  status: number;
}

/** Credentials the server demands on every request. */
export type GitServerAuth = { username: string; password: string } | { bearer: string };

/** Settings of {@link startGitServer}. */
export interface GitServerOptions {
  /** Directory of the bare repositories; when omitted, a temporary one is made and removed on stop. */
  root?: string;
  auth?: GitServerAuth;
  /**
   * Reject wants of objects that no ref points at with "not our ref", as
   * git's upload-pack does over a stateful connection without
   * `uploadpack.allowReachableSHA1InWant`. Over HTTP, git itself allows any
   * reachable commit, so this mimics a stricter server.
   */
  refuseUnadvertisedWants?: boolean;
  /** Ignore the Git-Protocol header, so the server speaks protocol v1 only. */
  protocolV1Only?: boolean;
}

/** A running server; `url(name)` is the clone URL of `<root>/<name>.git`. */
export interface GitServer extends LoopbackServer {
  root: string;
  requests: GitRequest[];
  /** Returns the clone URL of repository `name`, e.g. "http://127.0.0.1:PORT/repo.git". */
  url(name: string): string;
  /** Counts the recorded requests of each kind. */
  counts(): Record<GitRequestKind, number>;
  /** How many of the next fetch responses get one byte of their pack data flipped. */
  corruptFetches: number;
}

/** Starts `git http-backend` behind a recording server on 127.0.0.1. */
export async function startGitServer(options: GitServerOptions = {}): Promise<GitServer> {
  const ownRoot = options.root === undefined;
  const root = options.root ?? await Deno.makeTempDir({ prefix: "tsbuild-git-server-" });
  const requests: GitRequest[] = [];
  const state = { corruptFetches: 0 };

  const server = startLoopbackServer(async (request) => {
    const url = new URL(request.url);
    const body = new Uint8Array(await request.arrayBuffer());
    const record: GitRequest = {
      kind: requestKind(request.method, url, body),
      method: request.method,
      path: url.pathname,
      protocol: request.headers.get("git-protocol") ?? "",
      status: 0,
    };
    requests.push(record);
    const refused = options.refuseUnadvertisedWants && record.kind === "fetch"
      ? await unadvertisedWant(root, url, body)
      : undefined;
    let response: Response;
    if (!authorized(request, options.auth)) response = challenge();
    else if (refused) response = notOurRef(refused);
    else {
      const protocol = options.protocolV1Only ? undefined : request.headers.get("git-protocol");
      response = await runBackend(root, request, url, body, protocol, () => {
        if (record.kind !== "fetch" || state.corruptFetches === 0) return false;
        state.corruptFetches--;
        return true;
      });
    }
    record.status = response.status;
    return response;
  });

  // A root this function made is removed on stop; a root the caller gave is the caller's.
  const stop = async () => {
    await server.stop();
    if (ownRoot) await Deno.remove(root, { recursive: true }).catch(() => {});
  };
  return {
    ...server,
    stop,
    [Symbol.asyncDispose]: stop,
    root,
    requests,
    url: (name) => `http://${server.host}/${name}.git`,
    counts() {
      const counts = { advertise: 0, "ls-refs": 0, fetch: 0, other: 0 };
      for (const request of requests) counts[request.kind]++;
      return counts;
    },
    get corruptFetches() {
      return state.corruptFetches;
    },
    set corruptFetches(value: number) {
      state.corruptFetches = value;
    },
  };
}

function requestKind(method: string, url: URL, body: Uint8Array): GitRequestKind {
  if (method === "GET" && url.pathname.endsWith("/info/refs")) return "advertise";
  if (method !== "POST" || !url.pathname.endsWith("/git-upload-pack")) return "other";
  // A protocol v2 request opens with "command=NAME"; a v1 request is always a fetch.
  const first = new TextDecoder().decode(body.subarray(4, 40));
  if (first.startsWith("command=ls-refs")) return "ls-refs";
  if (first.startsWith("command=fetch") || first.startsWith("want ")) return "fetch";
  return "other";
}

function authorized(request: Request, auth: GitServerAuth | undefined): boolean {
  if (!auth) return true;
  const expected = "bearer" in auth
    ? `Bearer ${auth.bearer}`
    : `Basic ${btoa(`${auth.username}:${auth.password}`)}`;
  return request.headers.get("authorization") === expected;
}

function challenge(): Response {
  return new Response("authentication required\n", {
    status: 401,
    headers: { "WWW-Authenticate": 'Basic realm="tsbuild-test-git"' },
  });
}

// Returns the first wanted object that no ref of the repository points at.
async function unadvertisedWant(
  root: string,
  url: URL,
  body: Uint8Array,
): Promise<string | undefined> {
  const repository = join(root, decodeURIComponent(url.pathname).replace(/\/git-upload-pack$/, ""));
  const tips = await git(
    ["for-each-ref", "--format=%(objectname) %(*objectname)"],
    { cwd: repository },
  );
  const advertised = new Set(tips.split(/\s+/).filter(Boolean));
  const wants = new TextDecoder().decode(body).matchAll(/want ([0-9a-f]{40})/g);
  for (const [, oid] of wants) {
    if (!advertised.has(oid)) return oid;
  }
  return undefined;
}

function notOurRef(oid: string): Response {
  const line = `ERR upload-pack: not our ref ${oid}\n`;
  const packet = `${(line.length + 4).toString(16).padStart(4, "0")}${line}`;
  return new Response(packet, {
    status: 200,
    headers: { "Content-Type": "application/x-git-upload-pack-result" },
  });
}

// Runs one CGI request through git http-backend and turns its output into a Response.
async function runBackend(
  root: string,
  request: Request,
  url: URL,
  body: Uint8Array,
  protocol: string | null | undefined,
  shouldCorrupt: () => boolean,
): Promise<Response> {
  const env: Record<string, string> = {
    GIT_PROJECT_ROOT: root,
    GIT_HTTP_EXPORT_ALL: "1",
    PATH_INFO: decodeURIComponent(url.pathname),
    QUERY_STRING: url.search.slice(1),
    REQUEST_METHOD: request.method,
    CONTENT_TYPE: request.headers.get("content-type") ?? "",
    CONTENT_LENGTH: String(body.byteLength),
    REMOTE_ADDR: "127.0.0.1",
    GIT_CONFIG_NOSYSTEM: "1",
    HOME: root,
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
  };
  if (protocol) env.GIT_PROTOCOL = protocol;
  const encoding = request.headers.get("content-encoding");
  if (encoding) env.HTTP_CONTENT_ENCODING = encoding;

  const child = new Deno.Command(HTTP_BACKEND, {
    env,
    clearEnv: true,
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(body).catch(() => {});
  await writer.close().catch(() => {});
  const { stdout } = await child.output();
  return parseCgiOutput(stdout, shouldCorrupt);
}

function parseCgiOutput(output: Uint8Array, shouldCorrupt: () => boolean): Response {
  const text = new TextDecoder("latin1").decode(output.subarray(0, Math.min(output.length, 4096)));
  const end = text.indexOf("\r\n\r\n");
  if (end < 0) return new Response("git http-backend wrote no headers\n", { status: 500 });
  const headers = new Headers();
  let status = 200;
  for (const line of text.slice(0, end).split("\r\n")) {
    const colon = line.indexOf(":");
    const name = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    if (name.toLowerCase() === "status") status = Number(value.split(" ")[0]);
    else headers.append(name, value);
  }
  let body = output.slice(end + 4);
  if (status === 200 && headers.get("content-type")?.endsWith("-result") && shouldCorrupt()) {
    body = corruptPackData(body);
  }
  return new Response(body, { status, headers });
}

/**
 * Flips one byte in the middle of the pack data of an upload-pack response.
 * Pack data travels in pkt-lines on side band 1, so the byte is taken from
 * the payload of the band-1 packet nearest the middle of the pack.
 */
export function corruptPackData(body: Uint8Array<ArrayBuffer>): Uint8Array<ArrayBuffer> {
  const packets: Array<{ start: number; length: number }> = [];
  for (let offset = 0; offset + 4 <= body.length;) {
    const length = parseInt(new TextDecoder().decode(body.subarray(offset, offset + 4)), 16);
    if (!Number.isFinite(length)) break;
    if (length < 4) {
      offset += 4;
      continue;
    }
    if (body[offset + 4] === 1 && length > 6) {
      packets.push({ start: offset + 5, length: length - 5 });
    }
    offset += length;
  }
  const copy = body.slice();
  const packet = packets[Math.floor(packets.length / 2)];
  if (!packet) return copy;
  copy[packet.start + Math.floor(packet.length / 2)] ^= 0xff;
  return copy;
}

/** Settings for {@link git}: fixed identities and dates so hashes repeat between runs. */
export interface GitCommandOptions {
  cwd: string;
  /** Seconds since the epoch for author and committer dates. @default 1700000000 */
  date?: number;
  env?: Record<string, string>;
}

/** Runs `/usr/bin/git` with `args` and returns its trimmed standard output; throws on failure. */
export async function git(args: string[], options: GitCommandOptions): Promise<string> {
  const date = `${options.date ?? 1_700_000_000} +0000`;
  const output = await new Deno.Command(GIT, {
    args,
    cwd: options.cwd,
    env: {
      GIT_AUTHOR_NAME: "Test Author",
      GIT_AUTHOR_EMAIL: "author@example.test",
      GIT_COMMITTER_NAME: "Test Committer",
      GIT_COMMITTER_EMAIL: "committer@example.test",
      GIT_AUTHOR_DATE: date,
      GIT_COMMITTER_DATE: date,
      GIT_CONFIG_NOSYSTEM: "1",
      GIT_CONFIG_GLOBAL: "/dev/null",
      ...options.env,
    },
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!output.success) {
    throw new Error(
      `git ${args.join(" ")} failed: ${new TextDecoder().decode(output.stderr).trim()}`,
    );
  }
  return new TextDecoder().decode(output.stdout).trim();
}

/** A working repository whose commits are pushed to a bare repository the server serves. */
export interface TestRepository {
  /** The working tree. */
  work: string;
  /** The bare repository under the server root. */
  bare: string;
  /** Writes `files` (path → content) into the working tree, creating parent directories. */
  write(files: Record<string, string>): Promise<void>;
  /** Commits everything in the working tree and returns the commit hash. */
  commit(message: string, date?: number): Promise<string>;
  /** Runs git in the working tree. */
  git(args: string[]): Promise<string>;
  /** Pushes every branch and tag to the bare repository, moving refs that were rewound. */
  push(): Promise<void>;
}

/**
 * Creates `<server root>/<name>.git` and a working repository on branch "main"
 * that pushes to it, in `workParent` (the caller removes it) or else in a new
 * temporary directory the caller removes.
 */
export async function createTestRepository(
  serverRoot: string,
  name: string,
  workParent?: string,
): Promise<TestRepository> {
  const bare = join(serverRoot, `${name}.git`);
  const work = join(workParent ?? await Deno.makeTempDir({ prefix: "tsbuild-git-work-" }), name);
  await Deno.mkdir(work, { recursive: true });
  await git(["init", "--quiet", "--bare", "--initial-branch=main", bare], { cwd: serverRoot });
  await git(["init", "--quiet", "--initial-branch=main"], { cwd: work });
  await git(["remote", "add", "origin", bare], { cwd: work });
  let clock = 1_700_000_000;

  return {
    work,
    bare,
    async write(files) {
      for (const [path, content] of Object.entries(files)) {
        const full = join(work, path);
        await Deno.mkdir(join(full, ".."), { recursive: true });
        await Deno.writeTextFile(full, content);
      }
    },
    async commit(message, date) {
      clock = date ?? clock + 60;
      await git(["add", "--all"], { cwd: work });
      await git(["commit", "--quiet", "--allow-empty", "-m", message], { cwd: work, date: clock });
      return await git(["rev-parse", "HEAD"], { cwd: work });
    },
    git: (args) => git(args, { cwd: work, date: clock }),
    async push() {
      await git(["push", "--quiet", "--force", "origin", "--all"], { cwd: work });
      await git(["push", "--quiet", "--force", "origin", "--tags"], { cwd: work });
    },
  };
}
