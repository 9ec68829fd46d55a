/**
 * The typed messages between the host and a sandbox worker thread, and the contract an
 * in-worker engine implements. Shared by every worker-based runtime (QuickJS here; any
 * engine that runs synchronously inside a worker can reuse it).
 *
 * Transport, chosen for per-call cost:
 * - host → worker job start: `parentPort` (the worker is idle in its event loop then);
 * - worker → host guest messages: `parentPort`, batched per engine turn;
 * - host → worker replies and aborts during a job: a dedicated `MessagePort` that the worker
 *   drains synchronously with `receiveMessageOnPort`, woken by `Atomics.notify` on a shared
 *   control word. A busy worker never returns to its event loop mid-job, so it needs no
 *   event-loop wake-up per reply, and the wait doubles as the wall-clock deadline.
 */
import type { RuntimeFailure, RuntimeLimits, RuntimeOutcome } from './types.js';

/** Index in the shared control `Int32Array`: bumped by the host after each post on the job port. */
export const CTRL_SEQ = 0;
/** Index in the shared control `Int32Array`: non-zero while the host asks the current job to stop. */
export const CTRL_ABORT = 1;
/** Length in bytes of the shared control buffer. */
export const CTRL_BYTES = 8;

/** What the worker needs to run one job. */
export interface WorkerJob {
  /** The prelude text, or `null` when it is the same text as the worker's previous job. */
  prelude: string | null;
  code: string;
  filename: string;
  lineOffset: number;
  limits: RuntimeLimits;
}

/** Messages from the host to a worker (jobs and, during a job, replies and aborts). */
export type HostToWorker =
  | { t: 'job'; id: number; job: WorkerJob; remainingMs: number }
  | { t: 'reply'; id: number; m: string[] }
  | { t: 'abort'; id: number; failure: RuntimeFailure };

/** Messages from a worker to the host. */
export type WorkerToHost =
  | { t: 'ready' }
  | { t: 'fatal'; message: string }
  | { t: 'out'; id: number; m: string[] }
  | { t: 'end'; id: number; outcome: RuntimeOutcome; poisoned: boolean }
  /** After `end`: the worker has freed the job and built its next sandbox. */
  | { t: 'prepared' };

/** Given to an engine for one job. */
export interface EngineIO {
  /** A guest → host message (the engine's `__toolexec_send`). */
  post(text: string): void;
  /** The engine's interrupt handler: true when the guest must stop (deadline, CPU, abort, done). */
  shouldInterrupt(): boolean;
  /** Ends the job with this failure (first reason wins); later guest messages are dropped. */
  fail(failure: RuntimeFailure): void;
}

/** One job inside an engine. Everything is synchronous. */
export interface EngineJob {
  /** Hands host replies to the guest (`__toolexec_receive`) and runs it until idle. */
  deliver(messages: string[]): void;
  /** A failure the engine saw itself (syntax error, uncatchable exception, out of memory). */
  readonly failure: RuntimeFailure | undefined;
  /**
   * Ends the job and returns what the engine could measure; `retire` asks for the worker to be
   * replaced. Frees the context too, unless the engine has `dispose` (then freeing waits until
   * the host has its answer). Throws when the engine is broken.
   */
  finish(): { memoryBytes?: number; retire?: boolean };
  /** Optional: frees the job's context after `finish`, off the critical path. */
  dispose?(): void;
}

/** An engine loaded once per worker and reused for every job (a fresh context each time). */
export interface Engine {
  /** Evaluates prelude and code in a fresh context and runs the guest until idle. */
  start(job: WorkerJob & { prelude: string }, io: EngineIO): EngineJob;
  /**
   * Optional: builds the next job's sandbox (fresh context, prelude evaluated) while the worker
   * is idle, so `start` only evaluates the user's code.
   */
  prepare?(prelude: string): void;
  readonly enforced: { memoryMb: boolean };
}

/**
 * Creates the engine inside the worker. It must be self-contained (it is sent as source text):
 * no closures over module scope, no imports; load dependencies with the given `require`.
 */
export type EngineFactory = (require: NodeJS.Require, options: any) => Engine | Promise<Engine>;
