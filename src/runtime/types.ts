/**
 * The runtime contract. A runtime runs one prepared guest program in a fresh sandbox and
 * carries bridge messages (JSON strings) between it and the host. It knows nothing of
 * tools, the runner or the ledger: the executor (`src/code/`) owns those, and every limit
 * that can be enforced on the host side is enforced there, because the guest is hostile.
 *
 * Protocol (DESIGN.md "The bridge"), as JSON text in both directions:
 *
 *   guest → host  {"id":1,"op":"run","toolId":"math:add","args":{"a":2,"b":3}}
 *                 {"id":2,"op":"search","query":"issue","limit":5}
 *                 {"id":3,"op":"describe","toolId":"math:add"}
 *                 {"op":"log","level":"info","message":"..."}            (no reply)
 *                 {"op":"done","ok":true,"value":<json>}                  (once, at the end)
 *                 {"op":"done","ok":false,"error":{"code","message","line","column","stack"}}
 *   host  → guest {"id":1,"ok":true,"value":{"sum":5}}
 *                 {"id":1,"ok":false,"error":{"code":"INPUT_VALIDATION","message":"…"}}
 *
 * The guest prelude (`runtimes/prelude.js`) is the same text in every runtime; it builds
 * `run`, `tools`, `searchTools`, `describeTool` and `console` on one host primitive.
 *
 * How every runtime drives a job, in a fresh context:
 *   1. install the global `__toolexec_send(message: string): void` — synchronous, guest → host;
 *   2. evaluate `job.prelude` as a classic script; it captures `__toolexec_send` in a closure and
 *      defines `globalThis.__toolexec_receive(message: string)`; the runtime takes a handle to that
 *      function and then deletes both globals, so user code sees neither;
 *   3. evaluate `job.code` as a classic script (it starts the user's async work);
 *   4. run pending jobs; each `session.send(reply)` calls the captured receive function and runs
 *      pending jobs again; the execution ends when the guest sends `{"op":"done",...}`, or a limit,
 *      `terminate()` or the signal ends it.
 * Only strings cross, in both directions.
 */

export type RuntimeName = 'quickjs' | 'isolated-vm' | 'docker';

/** Codes a runtime itself may end an execution with (a subset of the executor's codes). */
export type RuntimeErrorCode =
  | 'SYNTAX_ERROR'
  | 'RUNTIME_ERROR'
  | 'TIMEOUT'
  | 'MEMORY_LIMIT'
  | 'OUTPUT_LIMIT'
  | 'NOT_SERIALIZABLE'
  | 'CANCELLED'
  | 'SANDBOX_CRASHED'
  | 'RUNTIME_UNAVAILABLE';

export interface RuntimeLimits {
  /** Wall-clock budget for the whole execution, including time spent waiting on tools. */
  timeoutMs: number;
  /** Heap limit for the guest. */
  memoryMb: number;
  /** Guest CPU budget, where the runtime can measure it. */
  cpuMs?: number;
  /** Maximum bytes of guest → host traffic (values and logs); the runtime may cut earlier. */
  maxOutputBytes: number;
}

export interface RuntimeJob {
  /** The guest prelude (`runtimes/prelude.js`), evaluated first (step 2 above). */
  prelude: string;
  /** The prepared user program (types stripped, wrapped by the executor), a classic script. */
  code: string;
  /** Name shown in stack traces (e.g. `script.js`). */
  filename: string;
  /**
   * Number of lines the executor put before the user's first line, so the runtime can
   * report positions in the user's script (the executor maps them as well).
   */
  lineOffset: number;
  limits: RuntimeLimits;
  signal?: AbortSignal;
}

export interface RuntimeFailure {
  code: RuntimeErrorCode;
  message: string;
  line?: number;
  column?: number;
  stack?: string;
}

export interface RuntimeOutcome {
  /** Set when the guest reported `done` itself; a runtime failure otherwise. */
  failure?: RuntimeFailure;
  stats: {
    durationMs: number;
    cpuMs?: number;
    memoryBytes?: number;
  };
  /** Which limits this runtime actually enforced for the job. */
  enforced: { timeoutMs: boolean; memoryMb: boolean; cpuMs: boolean };
}

/** The host end of one running execution. */
export interface RuntimeSession {
  /** Delivers a host → guest message (a reply). Ignored after the session ended. */
  send(message: string): void;
  /** Ends the execution now with the given failure (limit breach, cancellation). */
  terminate(failure: RuntimeFailure): void;
  /** Settles when the sandbox is gone; never rejects. */
  readonly done: Promise<RuntimeOutcome>;
}

/**
 * A runtime: a pool of warm sandboxes of one engine. `start` takes a sandbox, runs the job
 * in a fresh context and calls `onMessage` for every guest → host message, in order.
 */
export interface Runtime extends AsyncDisposable {
  readonly name: RuntimeName;
  start(job: RuntimeJob, onMessage: (message: string) => void): RuntimeSession;
  /** Starts warm sandboxes ahead of use (optional; `start` works without it). */
  warm?(): Promise<void>;
  dispose(): Promise<void>;
}
