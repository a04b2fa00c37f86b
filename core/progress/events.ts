/**
 * Progress events: what the solver and plugins report about a build, as data
 * for the renderers behind the CLI.
 *
 * @module
 */

/** A step of the build, usually one op; `id` is the op digest or a plugin-chosen name. */
export interface VertexRef {
  id: string;
  name: string;
}

/** One thing that happened during a build. Times are milliseconds since the Unix epoch. */
export type ProgressEvent =
  | { type: "vertex.started"; vertex: VertexRef; time: number }
  | { type: "vertex.cached"; vertex: VertexRef; time: number }
  | { type: "vertex.completed"; vertex: VertexRef; time: number; error?: string }
  | {
    type: "vertex.log";
    vertex: VertexRef;
    stream: "stdout" | "stderr";
    data: Uint8Array;
    time: number;
  }
  | {
    type: "vertex.status";
    vertex: VertexRef;
    message: string;
    current?: number;
    total?: number;
    /** The unit of `current` and `total`, e.g. "files". @default "bytes" */
    unit?: string;
    time: number;
  }
  | { type: "warning"; message: string; vertex?: VertexRef; time: number };

/** Receives progress events; renderers and tests implement it. */
export interface ProgressSink {
  emit(event: ProgressEvent): void;
}

/** A sink that keeps every event, for tests and for `--progress=rawjson`. */
export class RecordingSink implements ProgressSink {
  readonly events: ProgressEvent[] = [];
  emit(event: ProgressEvent): void {
    this.events.push(event);
  }
}
