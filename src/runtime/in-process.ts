/**
 * Runs an in-worker engine (`worker-protocol.ts` `Engine`) directly in the host thread, with
 * no worker in between. It keeps every limit the engine can enforce itself (interrupt
 * deadline, CPU budget, memory limit, output cap) but loses what only a thread boundary
 * gives: a native builtin that ignores interrupts (a huge `join`, a catastrophic regex)
 * blocks the host until it returns, and an engine crash is a crash of the host.
 *
 * For trusted code and for measuring what the worker isolation costs; never the default.
 */
import type { RuntimeFailure, RuntimeJob, RuntimeOutcome, RuntimeSession } from './types.js';
import type { Engine, EngineIO, EngineJob } from './worker-protocol.js';

type State = 'waiting' | 'running' | 'done';

/** One job in the host thread; the same stop rules as `worker-main.ts`. */
export class InProcessSession implements RuntimeSession {
  readonly done: Promise<RuntimeOutcome>;
  private resolveDone!: (o: RuntimeOutcome) => void;
  private state: State = 'waiting';
  private ej: EngineJob | undefined;
  private engine: Engine | undefined;
  private readonly started = performance.now();
  private deadline = Infinity;
  private cpuUsed = 0;
  private sliceStart = 0;
  private inSlice = false;
  private outBytes = 0;
  private guestDone = false;
  private stop: RuntimeFailure | undefined;
  private batch: string[] = [];
  private replies: string[] = [];
  private scheduled = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly onAbort: () => void;
  private readonly io: EngineIO;

  constructor(
    engine: Promise<Engine>,
    private readonly job: RuntimeJob,
    private readonly onMessage: (message: string) => void,
    private readonly afterJob: (engine: Engine) => void,
  ) {
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    this.onAbort = () => this.terminate({ code: 'CANCELLED', message: 'The execution was cancelled' });
    const limits = job.limits;
    const cpuBudget = limits.cpuMs && limits.cpuMs > 0 ? limits.cpuMs : 0;
    this.io = {
      post: (text: string) => {
        if (this.guestDone || this.stop || typeof text !== 'string') return;
        const isDone = text.startsWith('{"op":"done"');
        if (isDone || text.startsWith('{"op":"log"')) {
          this.outBytes += text.length;
          if (this.outBytes > limits.maxOutputBytes) {
            this.stop = { code: 'OUTPUT_LIMIT', message: `The script's output (logs and result) exceeded maxOutputBytes (${limits.maxOutputBytes} bytes)` };
            return;
          }
        }
        this.batch.push(text);
        if (isDone) this.guestDone = true;
      },
      fail: (failure: RuntimeFailure) => {
        if (!this.stop && !this.guestDone) this.stop = failure;
      },
      shouldInterrupt: () => {
        if (this.guestDone || this.stop) return true;
        const t = performance.now();
        if (t > this.deadline) {
          this.stop = { code: 'TIMEOUT', message: `The script exceeded its time limit of ${limits.timeoutMs} ms` };
          return true;
        }
        if (cpuBudget && this.inSlice && this.cpuUsed + (t - this.sliceStart) > cpuBudget) {
          this.stop = { code: 'TIMEOUT', message: `The script exceeded its CPU budget of ${cpuBudget} ms` };
          return true;
        }
        return false;
      },
    };
    if (job.signal?.aborted) {
      this.end({ code: 'CANCELLED', message: 'The execution was cancelled before it started' });
      return;
    }
    job.signal?.addEventListener('abort', this.onAbort, { once: true });
    engine.then(
      (e) => this.begin(e),
      (err: Error) => this.end({ code: 'SANDBOX_CRASHED', message: `The engine failed to load: ${err.message}` }),
    );
  }

  private begin(engine: Engine): void {
    if (this.state !== 'waiting') return;
    this.engine = engine;
    this.state = 'running';
    this.deadline = performance.now() + this.job.limits.timeoutMs;
    this.timer = setTimeout(() => {
      this.stop ??= { code: 'TIMEOUT', message: `The script exceeded its time limit of ${this.job.limits.timeoutMs} ms` };
      this.settle();
    }, this.job.limits.timeoutMs);
    this.slice(() => {
      this.ej = engine.start({ prelude: this.job.prelude, code: this.job.code, filename: this.job.filename, lineOffset: this.job.lineOffset, limits: this.job.limits }, this.io);
    });
  }

  private slice(fn: () => void): void {
    this.inSlice = true;
    this.sliceStart = performance.now();
    try {
      fn();
    } catch (err) {
      this.stop ??= { code: 'SANDBOX_CRASHED', message: `The engine failed: ${(err as Error)?.message ?? err}` };
    } finally {
      this.cpuUsed += performance.now() - this.sliceStart;
      this.inSlice = false;
    }
    this.flush();
    this.settle();
  }

  private flush(): void {
    const batch = this.batch;
    if (batch.length === 0) return;
    this.batch = [];
    for (const text of batch) {
      if (this.state === 'done') return;
      try {
        this.onMessage(text);
      } catch {
        // The executor's handler must not throw; the job goes on regardless.
      }
    }
  }

  /** Ends the job when the guest finished, a limit hit, or the engine failed. */
  private settle(): void {
    if (this.state !== 'running') return;
    if (this.guestDone) this.end(undefined);
    else if (this.stop) this.end(this.stop);
    else if (this.ej?.failure) this.end(this.ej.failure);
  }

  send(message: string): void {
    if (this.state !== 'running') return;
    this.replies.push(message);
    if (this.scheduled) return;
    this.scheduled = true;
    // Never re-enter the engine from inside one of its own host calls.
    queueMicrotask(() => {
      this.scheduled = false;
      if (this.state !== 'running' || !this.ej || this.replies.length === 0) return;
      const replies = this.replies;
      this.replies = [];
      this.slice(() => this.ej!.deliver(replies));
    });
  }

  terminate(failure: RuntimeFailure): void {
    if (this.state === 'done') return;
    if (this.state === 'waiting') {
      this.end(failure);
      return;
    }
    this.stop ??= failure;
    this.settle();
  }

  private end(failure: RuntimeFailure | undefined): void {
    if (this.state === 'done') return;
    const wasRunning = this.state === 'running';
    this.state = 'done';
    clearTimeout(this.timer);
    this.job.signal?.removeEventListener('abort', this.onAbort);
    if (wasRunning && this.ej) {
      try {
        this.ej.finish();
        this.ej.dispose?.();
      } catch {
        // An engine that cannot free a context cannot be trusted with the next one either;
        // there is no worker to replace here, so the failure is reported and left at that.
        failure ??= { code: 'SANDBOX_CRASHED', message: 'The engine failed to free the sandbox' };
      }
    }
    if (this.engine) this.afterJob(this.engine);
    this.resolveDone({
      failure,
      stats: { durationMs: performance.now() - this.started, cpuMs: this.cpuUsed },
      enforced: { timeoutMs: true, memoryMb: this.engine?.enforced.memoryMb ?? false, cpuMs: !!(this.job.limits.cpuMs && this.job.limits.cpuMs > 0) },
    });
  }
}
