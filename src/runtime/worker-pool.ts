/**
 * Lifecycle of sandbox worker threads, apart from any engine: a warm pool, one supervised
 * session per job, hard kills for what the engine cannot stop, classification of how a job
 * ended, and background replacement. Any worker-based runtime uses it with its own worker
 * source (`buildWorkerSource`); the worker speaks `worker-protocol.ts`.
 *
 * Why workers at all: an engine's own limits do not cover everything (QuickJS does not check
 * interrupts inside native builtins such as a huge `Array.prototype.join`, nor reliably in
 * promise jobs; V8 out-of-memory inside an engine can abort). `worker.terminate()` stops any
 * JavaScript or WebAssembly running in the thread, and `resourceLimits` caps its V8 heap, so the
 * host always survives and gets its answer within the deadline plus `graceMs`.
 */
import { availableParallelism } from 'node:os';
import { MessageChannel, Worker, type MessagePort, type ResourceLimits } from 'node:worker_threads';
import { CTRL_ABORT, CTRL_BYTES, CTRL_SEQ, type HostToWorker, type WorkerToHost } from './worker-protocol.js';
import type { RuntimeFailure, RuntimeJob, RuntimeOutcome, RuntimeSession } from './types.js';

/** Default extra time a job gets after its deadline before its worker is killed. */
export const DEFAULT_GRACE_MS = 100;
/** Default time a new worker may take to load its engine. */
export const DEFAULT_WORKER_START_TIMEOUT_MS = 15_000;
/** Default number of jobs after which a worker is replaced (bounds heap growth and fragmentation). */
export const DEFAULT_MAX_JOBS_PER_WORKER = 10_000;

export interface WorkerPoolOptions {
  /** Thread name prefix, shown in diagnostics. */
  name: string;
  /** The worker's JavaScript source (see `buildWorkerSource`). */
  source: string;
  /** V8 heap caps for each worker; WebAssembly memory is bounded by the engine itself. */
  resourceLimits?: ResourceLimits;
  /** Workers kept started and idle, ready for the next job (default 1). */
  minIdle?: number;
  /** Most workers alive at once; further jobs queue (default: 2 × available CPUs, at least 2). */
  maxWorkers?: number;
  /** Time a worker may take to report ready (default `DEFAULT_WORKER_START_TIMEOUT_MS`). */
  startTimeoutMs?: number;
  /** Jobs after which a worker is retired (default `DEFAULT_MAX_JOBS_PER_WORKER`). */
  maxJobsPerWorker?: number;
  /** Time between a deadline (or a terminate request) and the hard kill (default `DEFAULT_GRACE_MS`). */
  graceMs?: number;
}

/** `preparing`: finished a job, freeing it and building the next sandbox; usable, but not at once. */
type WorkerState = 'starting' | 'idle' | 'preparing' | 'busy' | 'dead';

/** One worker thread and its side channel. */
class PooledWorker {
  readonly worker: Worker;
  readonly ctrl: Int32Array;
  readonly port: MessagePort;
  state: WorkerState = 'starting';
  jobs = 0;
  lastPrelude: string | undefined;
  session: WorkerJobSession | undefined;
  readonly ready: Promise<void>;
  /** Set when the host killed the worker on purpose, with the reason to report. */
  killedFor: RuntimeFailure | undefined;

  constructor(pool: WorkerPool, options: Required<Pick<WorkerPoolOptions, 'source' | 'name' | 'startTimeoutMs'>> & WorkerPoolOptions, seq: number) {
    const control = new SharedArrayBuffer(CTRL_BYTES);
    this.ctrl = new Int32Array(control);
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    this.worker = new Worker(options.source, {
      eval: true,
      name: `${options.name}-${seq}`,
      workerData: { control, port: port2 },
      transferList: [port2],
      resourceLimits: options.resourceLimits,
      stdout: false,
      stderr: false,
    });
    this.ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`${options.name} worker did not start within ${options.startTimeoutMs} ms`));
        void this.worker.terminate();
      }, options.startTimeoutMs);
      const onMessage = (m: WorkerToHost) => {
        if (m.t === 'ready') {
          clearTimeout(timer);
          this.worker.off('message', onMessage);
          resolve();
        } else if (m.t === 'fatal') {
          clearTimeout(timer);
          reject(new Error(`${options.name} worker failed to start: ${m.message}`));
          void this.worker.terminate();
        }
      };
      this.worker.on('message', onMessage);
      this.worker.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${options.name} worker exited during start-up (exit code ${code})`));
      });
    });
    // Nothing rejects unobserved: start-up failures surface through `acquire`.
    this.ready.catch(() => {});
    this.worker.on('message', (m: WorkerToHost) => {
      if (m.t === 'prepared') pool.onPrepared(this);
      else this.session?.onWorkerMessage(m);
    });
    this.worker.on('error', (err) => {
      this.lastError = err;
    });
    this.worker.on('exit', () => {
      const was = this.state;
      this.state = 'dead';
      pool.onWorkerExit(this, was);
      this.session?.onWorkerExit(this.lastError);
    });
  }

  lastError: (Error & { code?: string }) | undefined;

  post(message: HostToWorker): void {
    this.worker.postMessage(message);
  }

  /** Posts on the job port and wakes the worker if it waits. */
  postToJob(message: HostToWorker): void {
    this.port.postMessage(message);
    Atomics.add(this.ctrl, CTRL_SEQ, 1);
    Atomics.notify(this.ctrl, CTRL_SEQ);
  }

  kill(reason?: RuntimeFailure): void {
    if (this.state === 'dead') return;
    this.killedFor ??= reason;
    void this.worker.terminate();
  }
}

/**
 * A warm pool of worker threads for one engine. `start()` gives each job a supervised
 * session; a worker that misbehaves is killed and replaced in the background.
 */
export class WorkerPool implements AsyncDisposable {
  private readonly options: Required<Pick<WorkerPoolOptions, 'source' | 'name' | 'startTimeoutMs' | 'minIdle' | 'maxWorkers' | 'maxJobsPerWorker' | 'graceMs'>> & WorkerPoolOptions;
  private readonly workers = new Set<PooledWorker>();
  private readonly waiters: { resolve: (w: PooledWorker) => void; reject: (e: Error) => void }[] = [];
  private seq = 0;
  private jobSeq = 0;
  private disposed = false;
  /** The last start-up failure; background top-ups stop after one so a broken engine does not spin. */
  private startFailure: Error | undefined;

  constructor(options: WorkerPoolOptions) {
    this.options = {
      minIdle: 1,
      maxWorkers: Math.max(2, availableParallelism() * 2),
      startTimeoutMs: DEFAULT_WORKER_START_TIMEOUT_MS,
      maxJobsPerWorker: DEFAULT_MAX_JOBS_PER_WORKER,
      graceMs: DEFAULT_GRACE_MS,
      // Explicit `undefined`s must not erase the defaults.
      ...(Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as WorkerPoolOptions),
    };
  }

  get graceMs(): number {
    return this.options.graceMs;
  }

  get alive(): boolean {
    return !this.disposed;
  }

  /** Counts by state, for diagnostics and tests. */
  stats(): { starting: number; idle: number; busy: number; queued: number } {
    const s = { starting: 0, idle: 0, busy: 0, queued: this.waiters.length };
    for (const w of this.workers) {
      if (w.state === 'preparing') s.idle++;
      else if (w.state !== 'dead') s[w.state]++;
    }
    return s;
  }

  /** Starts workers until `minIdle` are ready. */
  async warm(): Promise<void> {
    this.assertAlive();
    this.startFailure = undefined;
    this.topUp();
    await Promise.all([...this.workers].map((w) => w.ready.catch(() => {})));
    if (this.startFailure) throw this.startFailure;
  }

  /** Runs one job in a worker. The session owns the worker until the job ends. */
  start(job: RuntimeJob, onMessage: (message: string) => void): RuntimeSession {
    this.assertAlive();
    return new WorkerJobSession(this, ++this.jobSeq, job, onMessage);
  }

  /** @internal Takes an idle worker, starting one when allowed, or queues. */
  acquire(): Promise<PooledWorker> {
    this.assertAlive();
    // A prepared worker first; else one still preparing (it starts the job right after).
    for (const wanted of ['idle', 'preparing'] as const) {
      for (const w of this.workers) {
        if (w.state === wanted) {
          w.state = 'busy';
          w.worker.ref();
          this.topUp();
          return Promise.resolve(w);
        }
      }
    }
    return new Promise<PooledWorker>((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      this.startFailure = undefined;
      this.topUp(true);
    });
  }

  /** @internal Returns a worker after a job; retires it when it is poisoned or old. */
  release(w: PooledWorker, poisoned: boolean): void {
    w.session = undefined;
    if (w.state === 'dead') return;
    if (this.disposed || poisoned || w.jobs >= this.options.maxJobsPerWorker) {
      w.kill();
      return;
    }
    const next = this.waiters.shift();
    if (next) {
      next.resolve(w);
      return;
    }
    w.state = 'preparing';
    w.worker.unref();
  }

  /** @internal The worker built its next sandbox. */
  onPrepared(w: PooledWorker): void {
    if (w.state === 'preparing') w.state = 'idle';
  }

  /** @internal */
  onWorkerExit(w: PooledWorker, was: WorkerState): void {
    this.workers.delete(w);
    if (!this.disposed && was !== 'starting') this.topUp();
  }

  private spawn(): PooledWorker {
    const w = new PooledWorker(this, this.options, ++this.seq);
    this.workers.add(w);
    // Referenced while starting (someone may be awaiting `warm()`); idle workers are unreferenced
    // so that a forgotten executor never keeps the process alive.
    w.port.unref();
    w.ready.then(
      () => {
        if (w.state !== 'starting') return;
        const next = this.waiters.shift();
        if (next) {
          w.state = 'busy';
          w.worker.ref();
          next.resolve(w);
        } else {
          w.state = 'idle';
          w.worker.unref();
        }
      },
      (err: Error) => {
        this.startFailure = err;
        this.workers.delete(w);
        // Every waiter that no other starting worker can serve learns why.
        const starting = [...this.workers].filter((x) => x.state === 'starting').length;
        while (this.waiters.length > starting) this.waiters.pop()!.reject(err);
      },
    );
    return w;
  }

  /** Keeps `minIdle` workers idle or starting, and enough starting for queued jobs. */
  private topUp(forWaiters = false): void {
    if (this.disposed || (this.startFailure && !forWaiters)) return;
    let idle = 0;
    let starting = 0;
    for (const w of this.workers) {
      if (w.state === 'idle' || w.state === 'preparing') idle++;
      else if (w.state === 'starting') starting++;
    }
    const live = () => [...this.workers].filter((w) => w.state !== 'dead').length;
    while (idle + starting < this.options.minIdle + this.waiters.length && live() < this.options.maxWorkers) {
      this.spawn();
      starting++;
    }
  }

  private assertAlive(): void {
    if (this.disposed) throw new Error(`${this.options.name} pool has been disposed`);
  }

  /** Kills every worker; running sessions end with SANDBOX_CRASHED. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    const err = new Error(`${this.options.name} pool has been disposed`);
    for (const w of this.waiters.splice(0)) w.reject(err);
    const all = [...this.workers];
    for (const w of all) w.session?.terminate({ code: 'SANDBOX_CRASHED', message: 'The runtime was disposed during the execution' });
    await Promise.all(all.map((w) => w.worker.terminate().catch(() => 0)));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }
}

type SessionState = 'waiting' | 'running' | 'ending' | 'done';

/**
 * The host end of one job in a worker: carries messages, enforces the wall-clock deadline
 * from outside, turns `terminate()` into an abort followed by a kill after `graceMs`, and
 * classifies a worker's death.
 */
export class WorkerJobSession implements RuntimeSession {
  readonly done: Promise<RuntimeOutcome>;
  private resolveDone!: (o: RuntimeOutcome) => void;
  private state: SessionState = 'waiting';
  private worker: PooledWorker | undefined;
  private readonly started = performance.now();
  private deadlineTimer: NodeJS.Timeout | undefined;
  private killTimer: NodeJS.Timeout | undefined;
  private pendingReplies: string[] = [];
  private flushScheduled = false;
  private requested: RuntimeFailure | undefined;
  private readonly onAbort: () => void;

  constructor(
    private readonly pool: WorkerPool,
    private readonly id: number,
    private readonly job: RuntimeJob,
    private readonly onMessage: (message: string) => void,
  ) {
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    this.onAbort = () => this.terminate({ code: 'CANCELLED', message: 'The execution was cancelled' });
    if (job.signal?.aborted) {
      this.finish({ code: 'CANCELLED', message: 'The execution was cancelled before it started' });
      return;
    }
    job.signal?.addEventListener('abort', this.onAbort, { once: true });
    pool.acquire().then(
      (w) => this.attach(w),
      (err: Error) => this.finish({ code: 'SANDBOX_CRASHED', message: `No sandbox worker available: ${err.message}` }),
    );
  }

  private attach(w: PooledWorker): void {
    if (this.state !== 'waiting') {
      this.pool.release(w, false);
      return;
    }
    this.worker = w;
    this.state = 'running';
    // The deadline runs from here: waiting for a worker (a cold start, a full pool) is not the
    // script's time. The worker enforces the deadline itself; this timer only catches a worker
    // stuck where it cannot check (inside a native builtin, or wedged).
    this.deadlineTimer = setTimeout(() => {
      this.kill({ code: 'TIMEOUT', message: `The script exceeded its time limit of ${this.job.limits.timeoutMs} ms` });
    }, this.job.limits.timeoutMs + this.pool.graceMs);
    w.session = this;
    w.jobs++;
    Atomics.store(w.ctrl, CTRL_ABORT, 0);
    const prelude = w.lastPrelude === this.job.prelude ? null : this.job.prelude;
    w.lastPrelude = this.job.prelude;
    const remainingMs = this.job.limits.timeoutMs;
    // On the job port: a worker that lingers after its previous job picks it up at once.
    w.postToJob({
      t: 'job',
      id: this.id,
      remainingMs,
      job: { prelude, code: this.job.code, filename: this.job.filename, lineOffset: this.job.lineOffset, limits: this.job.limits },
    });
  }

  send(message: string): void {
    if (this.state !== 'running') return;
    this.pendingReplies.push(message);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // Replies produced in the same tick (a Promise.all of fast tools) travel together.
    queueMicrotask(() => {
      this.flushScheduled = false;
      if (this.state !== 'running' || !this.worker || this.pendingReplies.length === 0) return;
      const m = this.pendingReplies;
      this.pendingReplies = [];
      this.worker.postToJob({ t: 'reply', id: this.id, m });
    });
  }

  terminate(failure: RuntimeFailure): void {
    if (this.state === 'waiting') {
      this.finish(failure);
      return;
    }
    if (this.state !== 'running' || !this.worker) return;
    this.state = 'ending';
    this.requested = failure;
    const w = this.worker;
    w.postToJob({ t: 'abort', id: this.id, failure });
    Atomics.store(w.ctrl, CTRL_ABORT, 1);
    Atomics.notify(w.ctrl, CTRL_SEQ);
    this.killTimer = setTimeout(() => this.kill(failure), this.pool.graceMs);
  }

  /** @internal */
  onWorkerMessage(m: WorkerToHost): void {
    if (this.state === 'done') return;
    if (m.t === 'out' && m.id === this.id) {
      if (this.state !== 'running') return;
      for (const text of m.m) {
        if (this.state !== 'running') break;
        try {
          this.onMessage(text);
        } catch {
          // The executor's handler must not throw; if it does, the job still ends cleanly.
        }
      }
    } else if (m.t === 'end' && m.id === this.id) {
      const w = this.worker!;
      const outcome = m.outcome;
      if (this.requested && outcome.failure === undefined) {
        // The guest finished while the host was ending it; the host's reason stands.
        outcome.failure = this.requested;
      }
      this.complete(outcome);
      this.pool.release(w, m.poisoned);
    }
  }

  /** @internal The worker thread is gone (killed by us, out of heap, or crashed). */
  onWorkerExit(err: (Error & { code?: string }) | undefined): void {
    if (this.state === 'done') return;
    const w = this.worker;
    let failure: RuntimeFailure;
    if (w?.killedFor) failure = w.killedFor;
    else if (this.requested) failure = this.requested;
    else if (err?.code === 'ERR_WORKER_OUT_OF_MEMORY') {
      failure = { code: 'MEMORY_LIMIT', message: 'The sandbox ran out of memory and was stopped' };
    } else {
      failure = { code: 'SANDBOX_CRASHED', message: `The sandbox worker died${err ? `: ${err.message}` : ''}` };
    }
    this.finish(failure);
  }

  private kill(failure: RuntimeFailure): void {
    if (this.state === 'done') return;
    if (!this.worker) {
      this.finish(failure);
      return;
    }
    this.worker.kill(failure);
    // `exit` will call onWorkerExit; do not wait for it to answer the caller.
    this.finish(failure);
  }

  private finish(failure: RuntimeFailure): void {
    this.complete({
      failure,
      stats: { durationMs: performance.now() - this.started },
      enforced: { timeoutMs: true, memoryMb: true, cpuMs: false },
    });
  }

  private complete(outcome: RuntimeOutcome): void {
    if (this.state === 'done') return;
    this.state = 'done';
    clearTimeout(this.deadlineTimer);
    clearTimeout(this.killTimer);
    this.job.signal?.removeEventListener('abort', this.onAbort);
    outcome.stats.durationMs = performance.now() - this.started;
    this.resolveDone(outcome);
  }
}
