/**
 * A QuickJS sandbox in the host thread (`isolation: 'none'`): the same engine and job rules as the
 * worker thread (`runtimes/quickjs/engine.js`, `runtimes/quickjs/job.js`), waiting on the host's
 * event loop instead of `Atomics.wait`. Each of these workers has its own WebAssembly instance, so
 * memory limits hold per job as in the threads.
 *
 * It keeps every limit the engine enforces itself (interrupt deadline, CPU budget, memory, output
 * cap) but loses what only a thread boundary gives: a native builtin that ignores interrupts (a
 * huge `join`, a catastrophic regex) blocks the host until it returns, and an engine crash is a
 * crash of the host. For trusted code and for measuring what the thread costs; never the default.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { compileFunction } from 'node:vm';
import type { HostToSandbox, SandboxWorker, WorkerEvents } from '../types.js';
import { guestPath } from '../guest.js';
import type { QuickJSEngineOptions } from './worker.js';

interface FarJob {
  start(): void;
  deliver(replies: string[]): void;
  abort(failure: unknown): void;
  remaining(): number;
  readonly over: boolean;
  end(): { retire: boolean; dispose: (() => void) | undefined };
}
interface FarEngine {
  prepare(): void;
  readonly renewing: Promise<void> | undefined;
  readonly renewDue: boolean;
}
type CreateEngine = (options: QuickJSEngineOptions & { prelude: string; wasmModule?: unknown }) => Promise<FarEngine>;
type CreateJob = (engine: FarEngine, id: number, job: unknown, emit: (m: never) => void) => FarJob;

const require = createRequire(import.meta.url);
let farSide: { createQuickJSEngine: CreateEngine; createJob: CreateJob } | undefined;

/**
 * Evaluates one far-side file of `runtimes/` as a CommonJS module. It is read as text, as every
 * file there is: the far side is not part of the host's module graph, it only happens to run in
 * the host thread in this mode.
 */
function evaluateFarSide(relative: string): Record<string, unknown> {
  const filename = guestPath(relative);
  const fn = compileFunction(readFileSync(filename, 'utf8'), ['require', 'module', 'exports'], { filename });
  const module = { exports: {} as Record<string, unknown> };
  // Its own requires are node built-ins and the resolved quickjs-emscripten path.
  fn(require, module, module.exports);
  return module.exports;
}

function loadFarSide(): { createQuickJSEngine: CreateEngine; createJob: CreateJob } {
  farSide ??= {
    createQuickJSEngine: evaluateFarSide('quickjs/engine.js').createQuickJSEngine as CreateEngine,
    createJob: evaluateFarSide('quickjs/job.js').createJob as CreateJob,
  };
  return farSide;
}

export class InProcessWorker implements SandboxWorker {
  private engine: FarEngine | undefined;
  private job: FarJob | undefined;
  private jobId = 0;
  private replies: string[] = [];
  private scheduled = false;
  private timer: NodeJS.Timeout | undefined;
  /** The job `timer` is armed for (its deadline). */
  private timerFor: FarJob | undefined;
  private gone = false;
  prepared = true;
  /** The last job's clean-up and the next context's build, until it has run. */
  private afterJob: (() => void) | undefined;
  private afterJobTimer: NodeJS.Immediate | undefined;
  /** After a job: whether the next context is built on the same engine instance (see SandboxWorker.readySoon). */
  readySoon = false;

  constructor(
    private readonly options: QuickJSEngineOptions & { prelude: string },
    private readonly events: WorkerEvents,
  ) {}

  async start(): Promise<void> {
    this.engine = await loadFarSide().createQuickJSEngine(this.options);
    this.engine.prepare();
  }

  send(message: HostToSandbox): void {
    if (this.gone) return;
    if (message.t === 'job') {
      this.afterJob?.();
      this.jobId = message.id;
      this.replies = [];
      const job = loadFarSide().createJob(this.engine!, message.id, message.job, ((m: never) => this.events.message(m)) as never);
      this.job = job;
      // Never enter the engine from inside the host's own call stack (the supervisor's attach).
      queueMicrotask(() => {
        if (this.job !== job) return;
        job.start();
        this.settle();
      });
    } else if (message.id === this.jobId && this.job) {
      if (message.t === 'reply') {
        this.replies.push(...message.m);
        if (this.scheduled) return;
        this.scheduled = true;
        queueMicrotask(() => {
          this.scheduled = false;
          const job = this.job;
          if (!job || this.replies.length === 0) return;
          const replies = this.replies;
          this.replies = [];
          job.deliver(replies);
          this.settle();
        });
      } else if (message.t === 'abort') {
        this.job.abort(message.failure);
        this.settle();
      }
    }
  }

  /** Ends the job once the engine says it is over, or arms the deadline while it waits. */
  private settle(): void {
    const job = this.job;
    if (!job) return;
    if (!job.over) {
      const left = job.remaining();
      if (!job.over) {
        // Armed once per job, not once per reply: its deadline does not move (a timer pair per
        // tool call was a few per cent of the host's CPU in a 1,000-call script).
        if (this.timerFor !== job) {
          clearTimeout(this.timer);
          this.timerFor = job;
          this.timer = setTimeout(() => {
            this.timerFor = undefined;
            this.settle();
          }, Math.max(1, Math.ceil(left)));
        }
        return;
      }
    }
    clearTimeout(this.timer);
    this.timerFor = undefined;
    this.job = undefined;
    this.prepared = false;
    this.readySoon = this.engine?.renewDue === false;
    const { retire, dispose } = job.end();
    if (retire) {
      void this.stop();
      return;
    }
    // The next context is built once the host is idle, as the threads do after answering; a job
    // that comes first has it built before it starts (`send`), never while it runs.
    this.afterJob = () => {
      this.afterJob = undefined;
      clearImmediate(this.afterJobTimer);
      try {
        dispose?.();
        this.engine?.prepare();
        const renewing = this.engine?.renewing;
        if (renewing) {
          void renewing.then(() => {
            this.engine?.prepare();
            this.prepared = true;
          });
        } else {
          this.prepared = true;
        }
      } catch {
        void this.stop();
      }
    };
    this.afterJobTimer = setImmediate(() => this.afterJob?.());
  }

  async stop(): Promise<void> {
    if (this.gone) return;
    this.gone = true;
    clearTimeout(this.timer);
    this.job = undefined;
    this.engine = undefined;
    this.events.exit({ code: 'SANDBOX_CRASHED', message: 'The in-process QuickJS sandbox was stopped' });
  }
}
