/**
 * The runtime contract, in two halves.
 *
 * **Executor-facing** (`Runtime`, `RuntimeSession`): a runtime runs one prepared guest program
 * in a fresh sandbox and carries bridge messages (JSON strings, see `bridge.ts`) between it and
 * the host. It knows nothing of tools, the runner or the ledger: the executor (`src/code/`) owns
 * those, and every limit that can be enforced on the host side is enforced there, because the
 * guest is hostile.
 *
 * **Runtime-facing** (`SandboxWorker`, `RuntimeDriver`): every runtime is the same supervisor
 * (`supervisor.ts`: pool, acquire, attach, deadline, cancellation, grace then kill, retirement,
 * refill, dispose) around a small worker object that a runtime folder supplies: the host end of
 * one sandbox (a worker thread, a process, a container). Its far side is a plain JavaScript
 * file under `runtimes/<name>/`, and the two speak the messages below.
 *
 * How every far side drives a job, in a fresh context:
 *   1. install the global `__toolexec_send(message: string): void` (synchronous, guest → host);
 *   2. evaluate the prelude (given to the worker once, when it is created) as a classic script;
 *      it captures `__toolexec_send` and defines `globalThis.__toolexec_receive(message)`; the far
 *      side takes a handle to that function and deletes both globals, so user code sees neither;
 *   3. evaluate the job's code as a classic script (it starts the user's async work);
 *   4. run pending jobs; each reply is handed to the captured receive function, then pending
 *      jobs run again; the job ends when the guest sends `{"op":"done",...}`, or at a limit or an
 *      abort. Only strings cross into the guest, in both directions.
 */

/** The runtimes toolexec ships (a custom `Runtime` object may carry any name). */
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

/** Every {@link RuntimeErrorCode}, for checks of untrusted input. */
export const RUNTIME_ERROR_CODES: readonly RuntimeErrorCode[] = [
  'SYNTAX_ERROR',
  'RUNTIME_ERROR',
  'TIMEOUT',
  'MEMORY_LIMIT',
  'OUTPUT_LIMIT',
  'NOT_SERIALIZABLE',
  'CANCELLED',
  'SANDBOX_CRASHED',
  'RUNTIME_UNAVAILABLE',
];

export interface RuntimeLimits {
  /** Wall-clock budget of the script, from the moment a sandbox takes the job. */
  timeoutMs: number;
  /** Heap limit for the guest. */
  memoryMb: number;
  /** Guest CPU budget, where the runtime can measure it. */
  cpuMs?: number;
  /** Maximum bytes of guest → host traffic (values and logs); the runtime may cut earlier. */
  maxOutputBytes: number;
}

export interface RuntimeJob {
  /** The prepared user program (types stripped, wrapped by the executor), a classic script. */
  code: string;
  /** Name shown in stack traces (e.g. `script.js`). */
  filename: string;
  limits: RuntimeLimits;
  /**
   * Longest the job may wait for a sandbox (a full pool, a cold start) before it ends as
   * `TIMEOUT` without having run. Default: `limits.timeoutMs`. Waiting is not the script's time:
   * its own deadline starts when a sandbox takes it.
   */
  queueTimeoutMs?: number;
  signal?: AbortSignal;
}

export interface RuntimeFailure {
  code: RuntimeErrorCode;
  message: string;
  /** 1-based line in the program the runtime ran (the executor maps it to the user's script). */
  line?: number;
  /** 1-based column in that line. */
  column?: number;
  stack?: string;
}

/** Which limits a runtime enforced for a job. */
export interface EnforcedLimits {
  timeoutMs: boolean;
  memoryMb: boolean;
  cpuMs: boolean;
}

export interface RuntimeOutcome {
  /** Absent when the guest reported `done` itself; why the job ended otherwise. */
  failure?: RuntimeFailure;
  stats: {
    /** From the moment a sandbox took the job to its end. */
    durationMs: number;
    /** Time spent waiting for a sandbox before that. */
    queuedMs: number;
    cpuMs?: number;
    memoryBytes?: number;
  };
  enforced: EnforcedLimits;
}

/** The host end of one running execution. */
export interface RuntimeSession {
  /** Delivers a host → guest message (a reply). Ignored after the session ended. */
  send(message: string): void;
  /** Ends the execution now with the given failure (a limit breach, a cancellation). */
  terminate(failure: RuntimeFailure): void;
  /** Settles when the sandbox is done with the job; never rejects. */
  readonly done: Promise<RuntimeOutcome>;
}

/**
 * A runtime: a pool of warm sandboxes of one engine. `start` takes a sandbox, runs the job in a
 * fresh context and calls `onMessage` for every guest → host message, in order.
 */
export interface Runtime extends AsyncDisposable {
  readonly name: string;
  start(job: RuntimeJob, onMessage: (message: string) => void): RuntimeSession;
  /** Starts warm sandboxes ahead of use (optional; `start` works without it). */
  warm?(): Promise<void>;
  /** Ends every execution (`CANCELLED`) and removes every sandbox; resolves when all are gone. */
  dispose(): Promise<void>;
}

// ---- the far side's protocol ----------------------------------------------------------------

/** What a far side needs to run one job (the prelude was given when the worker was made). */
export interface SandboxJob {
  code: string;
  filename: string;
  limits: RuntimeLimits;
}

/** Host → far side. `id` names the job, so late messages of an earlier job are dropped. */
export type HostToSandbox =
  | { t: 'job'; id: number; job: SandboxJob }
  | { t: 'reply'; id: number; m: string[] }
  | { t: 'abort'; id: number; failure: RuntimeFailure };

/** What a far side measured and reports with `end`. */
export interface SandboxOutcome {
  failure?: RuntimeFailure;
  stats?: { cpuMs?: number; memoryBytes?: number };
  /** A remark added to the failure message, whatever ended the job (the host's deadline included). */
  note?: string;
}

/** Far side → host. */
export type SandboxToHost =
  | { t: 'out'; id: number; m: string[] }
  /** The job is over; `retire` asks for the sandbox not to be given another job. */
  | { t: 'end'; id: number; outcome: SandboxOutcome; retire?: boolean };

/** Callbacks a worker reports through; the supervisor owns them. */
export interface WorkerEvents {
  /** A message from the far side, in order. */
  message(message: SandboxToHost): void;
  /**
   * The host end saw the sandbox break a bound it watches from outside (resident memory, wire
   * bytes, a protocol violation). The supervisor ends the running job with this failure and
   * stops the worker.
   */
  fault(failure: RuntimeFailure): void;
  /**
   * The sandbox is gone. `failure` classifies the death for a job that was running when it was
   * not the host's doing (e.g. `MEMORY_LIMIT` when the engine ran out of heap). Called once.
   */
  exit(failure: RuntimeFailure): void;
}

/**
 * The host end of one sandbox: a worker thread, a process, a container. It transports; the
 * supervisor decides. In the spirit of vitest's `PoolWorker`.
 */
export interface SandboxWorker {
  /**
   * Starts the sandbox; resolves once it can take a job. Rejects with why it cannot; an error
   * with `permanent: true` says no worker of this runtime will ever start here (the engine is
   * not installed), so the pool stops trying.
   */
  start(): Promise<void>;
  /** Sends one message to the far side. Dropped once the sandbox is gone. */
  send(message: HostToSandbox): void;
  /** Kills the sandbox; resolves once it is gone (and `exit` was reported). Idempotent. */
  stop(): Promise<void>;
  /**
   * Whether the sandbox is ready for its next job; a sandbox that reports it (true or false) is
   * preferred for the next job right after its last one (see the supervisor's `takeIdle`).
   */
  readonly prepared?: boolean;
  /**
   * While `prepared` is false right after a job: true when nothing slow is ahead (no new engine
   * instance to build), so a job may wait for it rather than wake another sandbox.
   */
  readonly readySoon?: boolean;
  /** Lets the process exit while this sandbox idles / keeps it alive while it works. */
  ref?(): void;
  unref?(): void;
}

/** What a runtime folder gives the supervisor. */
export interface RuntimeDriver {
  readonly name: string;
  /** Creates the host end of one sandbox for jobs of `shape` (see `shapeOf`). */
  createWorker(shape: string, events: WorkerEvents): SandboxWorker;
  /**
   * Sandboxes are interchangeable only within a shape (Docker fixes a container's memory when it
   * is created, so its shape is the heap size). Default: one shape for every job.
   */
  shapeOf?(job: RuntimeJob): string;
  /** One-time set-up before the first worker starts (engine checks, stale clean-up). */
  connect?(): Promise<void>;
  /** Which limits the runtime enforces (the timeout always is). */
  readonly enforces: { memoryMb: boolean; cpuMs: boolean };
  /**
   * Whether the far side's own classification of a failure can be believed. A far side the guest
   * can reach (the Docker agent runs in the guest's process) may only report `SYNTAX_ERROR` and
   * `RUNTIME_ERROR`; limits are decided from the host's own evidence.
   */
  readonly trustsFarSide: boolean;
}

/** Lifecycle options every runtime accepts, with the same names and meanings. */
export interface PoolOptions {
  /** Sandboxes kept started and idle, ready for the next job, once the pool is in use. */
  minIdle?: number;
  /** Most sandboxes alive at once (idle, starting and busy); further jobs queue. */
  maxWorkers?: number;
  /** Jobs after which a sandbox is retired and replaced (1: single use). */
  maxJobsPerWorker?: number;
  /** Time between a deadline or a terminate request and the hard kill. */
  graceMs?: number;
  /** Time a new sandbox may take to become ready. */
  startTimeoutMs?: number;
}
