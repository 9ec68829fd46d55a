/**
 * The supervisor: one pool and session state machine for every runtime. A runtime folder supplies
 * a `RuntimeDriver` whose workers only start, send and stop (see `types.ts`); everything about a
 * job's life is decided here, the same way for QuickJS, isolated-vm and Docker:
 *
 * - **pool**: sandboxes are started ahead (`minIdle`, once the pool is in use: after `warm()` or
 *   from the second job on, so a one-shot CLI run starts no spare), up to `maxWorkers` alive;
 *   jobs queue beyond that, FIFO, bounded by `queueTimeoutMs`;
 * - **attach**: a job takes the oldest idle sandbox of its shape that is prepared; the script's
 *   clock starts here, never while it waits;
 * - **deadline and cancellation**: at `timeoutMs`, an abort, or `terminate()`, the far side is
 *   asked to stop; after `graceMs` the sandbox is killed (a native builtin, a wedged engine);
 * - **classification**: the host's own reason wins over anything the far side says; a far side
 *   the guest can reach is not believed about limits; a death nobody asked for is the worker's
 *   classification (`MEMORY_LIMIT` when the engine ran out of heap) or `SANDBOX_CRASHED`;
 * - **retirement and refill**: after `maxJobsPerWorker` jobs, when the far side asks, or after
 *   any kill, a sandbox is replaced in the background;
 * - **dispose**: every job ends `CANCELLED`, every sandbox is stopped and waited for.
 *
 * A job that ended with a kill resolves `done` only once its sandbox is gone, so nothing the
 * script started outlives the failure the caller sees.
 */
import { capText } from '../model/text.js';
import type {
  EnforcedLimits,
  PoolOptions,
  Runtime,
  RuntimeDriver,
  RuntimeFailure,
  RuntimeJob,
  RuntimeOutcome,
  RuntimeSession,
  SandboxOutcome,
  SandboxToHost,
  SandboxWorker,
} from './types.js';

/** Defaults of {@link PoolOptions}, shared by every runtime unless its folder says otherwise. */
export const POOL_DEFAULTS: Readonly<Required<PoolOptions>> = Object.freeze({
  minIdle: 1,
  maxWorkers: 4,
  maxJobsPerWorker: 10_000,
  graceMs: 100,
  startTimeoutMs: 15_000,
});

/** The names of {@link PoolOptions}, for option checks. */
export const POOL_OPTION_NAMES: readonly (keyof PoolOptions)[] = ['minIdle', 'maxWorkers', 'maxJobsPerWorker', 'graceMs', 'startTimeoutMs'];

export interface SupervisorOptions extends PoolOptions {
  /**
   * Delay before a sandbox taken by a job is replaced in the background, unless a job ends
   * sooner. Starting a container costs the engine a few hundred milliseconds of CPU; on a small
   * machine that would slow the job that just took the warm one. Default 0.
   */
  refillDelayMs?: number;
  /** Longest `done` waits for a killed sandbox to be gone before resolving anyway. Default 5 s. */
  stopWaitMs?: number;
  /**
   * Problems no job sees: a spare sandbox that failed to start, one that died while idle. Default:
   * ignored (the next job that needs a sandbox gets the error itself).
   */
  onWarning?: (error: Error) => void;
}

/** Longest a far side's failure message and stack may be when they reach the host. */
const MAX_FAILURE_MESSAGE = 8 * 1024;
const MAX_FAILURE_STACK = 16 * 1024;
/**
 * Codes a far side that the guest can reach may report: what the guest can only say about itself
 * (and a crash, the catch-all). Limits (TIMEOUT, MEMORY_LIMIT, OUTPUT_LIMIT...) are the host's to say.
 */
const UNTRUSTED_CODES = new Set(['SYNTAX_ERROR', 'RUNTIME_ERROR', 'SANDBOX_CRASHED']);


type SlotState = 'starting' | 'idle' | 'busy' | 'stopping';

/** One sandbox as the pool sees it. */
class Slot {
  state: SlotState = 'starting';
  jobs = 0;
  /** When its last job ended (performance.now()). */
  releasedAt = 0;
  session: Session | undefined;
  /** Why the sandbox is being stopped by the host, if it is. */
  stopping: Promise<void> | undefined;
  /** Settles when the worker reported `exit`. */
  readonly gone: Promise<void>;
  markGone!: () => void;
  worker!: SandboxWorker;
  constructor(readonly shape: string) {
    this.gone = new Promise((resolve) => (this.markGone = resolve));
  }
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** The pool of one runtime; it is the `Runtime` the executor talks to. */
export class Supervisor implements Runtime {
  readonly name: string;
  private readonly config: Required<SupervisorOptions>;
  private readonly slots = new Set<Slot>();
  private readonly queue: Session[] = [];
  private readonly sessions = new Set<Session>();
  private jobSeq = 0;
  private started = 0;
  private active = false;
  private disposed = false;
  private currentShape: string | undefined;
  private connecting: Promise<void> | undefined;
  private connected = false;
  /** Set after a start failure: background refills wait for the next job, so a broken engine does not spin. */
  private refillBlocked = false;
  /** Set when a worker said no worker will ever start here. */
  private unavailable: Error | undefined;
  private refillTimer: NodeJS.Timeout | undefined;
  private readonly readyWaiters: Array<() => void> = [];
  private lastStartError: Error | undefined;

  constructor(
    private readonly driver: RuntimeDriver,
    options: SupervisorOptions = {},
  ) {
    this.name = driver.name;
    const defined = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as SupervisorOptions;
    this.config = { ...POOL_DEFAULTS, refillDelayMs: 0, stopWaitMs: 5_000, onWarning: () => {}, ...defined };
    const o = this.config;
    for (const key of ['maxWorkers', 'maxJobsPerWorker', 'startTimeoutMs'] as const) {
      if (!Number.isInteger(o[key]) || o[key] < 1) throw new TypeError(`${driver.name} runtime: ${key} must be an integer >= 1, got ${String(o[key])}`);
    }
    for (const key of ['minIdle', 'graceMs', 'refillDelayMs', 'stopWaitMs'] as const) {
      if (typeof o[key] !== 'number' || !Number.isFinite(o[key]) || o[key] < 0) throw new TypeError(`${driver.name} runtime: ${key} must be a number >= 0, got ${String(o[key])}`);
    }
    if (!Number.isInteger(o.minIdle)) throw new TypeError(`${driver.name} runtime: minIdle must be an integer, got ${o.minIdle}`);
    if (o.minIdle > o.maxWorkers) throw new TypeError(`${driver.name} runtime: minIdle (${o.minIdle}) is larger than maxWorkers (${o.maxWorkers})`);
  }

  /** The options in force, defaults applied. */
  get poolOptions(): Readonly<Required<SupervisorOptions>> {
    return this.config;
  }

  /** Whether `dispose()` was called. */
  get isDisposed(): boolean {
    return this.disposed;
  }

  /** Counts for diagnostics and tests. */
  stats(): { starting: number; idle: number; busy: number; stopping: number; queued: number; alive: number } {
    const s = { starting: 0, idle: 0, busy: 0, stopping: 0, queued: this.queue.length, alive: this.slots.size };
    for (const slot of this.slots) s[slot.state]++;
    return s;
  }

  /** The workers of the sandboxes alive now (for runtime-specific diagnostics: pids, container ids). */
  workers(): SandboxWorker[] {
    return [...this.slots].map((s) => s.worker);
  }

  start(job: RuntimeJob, onMessage: (message: string) => void): RuntimeSession {
    if (this.disposed) throw new Error(`The ${this.name} runtime has been disposed`);
    // One job alone (a CLI run) gains nothing from spares, which would only have to be stopped
    // again; a second job says more will follow.
    if (++this.started >= 2) this.active = true;
    this.refillBlocked = false;
    const session = new Session(this, ++this.jobSeq, job, onMessage, this.driver.shapeOf?.(job) ?? '');
    return session;
  }

  /**
   * Connects the driver and starts `minIdle` sandboxes of the default shape; resolves when they
   * are ready. Rejects with why they could not start.
   */
  async warm(): Promise<void> {
    if (this.disposed) throw new Error(`The ${this.name} runtime has been disposed`);
    this.active = true;
    this.refillBlocked = false;
    this.lastStartError = undefined;
    await this.ensureConnected();
    this.currentShape ??= '';
    const shape = this.currentShape;
    for (;;) {
      if (this.disposed) throw new Error(`The ${this.name} runtime was disposed while warming`);
      if (this.unavailable) throw this.unavailable;
      this.topUp();
      const ready = [...this.slots].filter((s) => s.shape === shape && s.state === 'idle').length;
      if (ready >= Math.min(this.config.minIdle, this.config.maxWorkers) || this.config.minIdle === 0) return;
      if (this.lastStartError && this.refillBlocked) throw this.lastStartError;
      await new Promise<void>((resolve) => this.readyWaiters.push(resolve));
    }
  }

  /** Resolves once every sandbox being stopped is gone. */
  async drain(): Promise<void> {
    for (;;) {
      const stopping = [...this.slots].filter((s) => s.state === 'stopping');
      if (stopping.length === 0) return;
      await Promise.all(stopping.map((s) => s.gone));
    }
  }

  /** Ends every job (`CANCELLED`), stops every sandbox and waits until all are gone. */
  async dispose(): Promise<void> {
    if (!this.disposed) {
      this.disposed = true;
      clearTimeout(this.refillTimer);
      const failure: RuntimeFailure = { code: 'CANCELLED', message: `The ${this.name} runtime was disposed during the execution` };
      for (const session of [...this.sessions]) session.end(failure);
      for (const slot of [...this.slots]) this.stopSlot(slot);
      this.wakeReadyWaiters();
    }
    await Promise.all([...this.slots].map((s) => s.gone));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }

  // ---- internals used by Session ----

  /** @internal */
  enforced(job: RuntimeJob): EnforcedLimits {
    return { timeoutMs: true, memoryMb: this.driver.enforces.memoryMb, cpuMs: this.driver.enforces.cpuMs && job.limits.cpuMs !== undefined };
  }

  /** @internal */
  get graceMs(): number {
    return this.config.graceMs;
  }

  /** @internal */
  get stopWaitMs(): number {
    return this.config.stopWaitMs;
  }

  /** @internal A session starts waiting for a sandbox. */
  enqueue(session: Session): void {
    this.sessions.add(session);
    if (this.unavailable) {
      session.end({ code: 'RUNTIME_UNAVAILABLE', message: this.unavailable.message });
      return;
    }
    this.queue.push(session);
    if (!this.connected) {
      this.ensureConnected().then(
        () => this.dispatch(),
        (err: unknown) => {
          // Nothing can start: every waiting job learns why (the engine may come up later, so
          // the next job tries again).
          for (const s of this.queue.splice(0)) s.end({ code: 'RUNTIME_UNAVAILABLE', message: errorMessage(err) });
        },
      );
      return;
    }
    this.dispatch();
  }

  /** @internal A job whose sandbox died before the job reached it goes back to the head of the queue. */
  requeue(session: Session): void {
    this.queue.unshift(session);
    this.dispatch();
  }

  /** @internal A session left the queue (it ended while waiting). */
  dequeue(session: Session): void {
    const at = this.queue.indexOf(session);
    if (at !== -1) this.queue.splice(at, 1);
  }

  /** @internal A session is over. */
  forget(session: Session): void {
    this.sessions.delete(session);
    this.dequeue(session);
  }

  /** @internal A job ended and the far side is done with it: reuse, retire or replace the sandbox. */
  release(slot: Slot, retire: boolean): void {
    slot.session = undefined;
    if (slot.state !== 'busy') return;
    if (this.disposed || retire || slot.jobs >= this.config.maxJobsPerWorker) {
      this.stopSlot(slot);
    } else {
      slot.state = 'idle';
      slot.releasedAt = performance.now();
      slot.worker.unref?.();
    }
    this.jobEnded();
  }

  /** @internal The session's sandbox must die now (deadline past grace, a fault, dispose). */
  kill(slot: Slot): Promise<void> {
    slot.session = undefined;
    this.stopSlot(slot);
    this.jobEnded();
    return slot.gone;
  }

  private jobEnded(): void {
    if (this.refillTimer) {
      clearTimeout(this.refillTimer);
      this.refillTimer = undefined;
    }
    this.dispatch();
  }

  private ensureConnected(): Promise<void> {
    if (this.connected) return Promise.resolve();
    if (!this.connecting) {
      const attempt = (async () => {
        await this.driver.connect?.();
        this.connected = true;
      })();
      this.connecting = attempt;
      // A failed attempt is not kept: the engine may come up later.
      attempt.catch(() => {
        if (this.connecting === attempt) this.connecting = undefined;
      });
    }
    return this.connecting;
  }

  /** Hands idle sandboxes to waiting jobs, starts what is missing, and refills the pool. */
  private dispatch(): void {
    if (this.disposed || !this.connected) return;
    for (let i = 0; i < this.queue.length; ) {
      const session = this.queue[i]!;
      const slot = this.takeIdle(session.shape);
      if (!slot) {
        i++;
        continue;
      }
      this.queue.splice(i, 1);
      this.currentShape = session.shape;
      this.attach(slot, session);
    }
    // Sandboxes of a shape nobody asks for any more only hold capacity.
    const wanted = new Set(this.queue.map((s) => s.shape));
    if (this.currentShape !== undefined) wanted.add(this.currentShape);
    for (const slot of this.slots) if (slot.state === 'idle' && !wanted.has(slot.shape)) this.stopSlot(slot);
    this.topUp();
  }

  /**
   * The sandbox that ran the last job, when it says it is ready or about to be: it is awake and
   * its caches and JIT are warm, while one that has idled since its own last job sleeps, and
   * waking it costs more than the few tens of microseconds the other needs to finish preparing
   * (QuickJS, 3-call scripts back to back with a spare in the pool, 6 rounds of 30: medians
   * 316–608 µs taking the last one, 472–2,172 µs taking the oldest). Otherwise the oldest
   * prepared one, so a sandbox that does not report readiness gets time to prepare.
   */
  private takeIdle(shape: string): Slot | undefined {
    let fallback: Slot | undefined;
    let oldestPrepared: Slot | undefined;
    let last: Slot | undefined;
    for (const slot of this.slots) {
      if (slot.state !== 'idle' || slot.shape !== shape) continue;
      if (last === undefined || slot.releasedAt > last.releasedAt) last = slot;
      if (slot.worker.prepared !== false) oldestPrepared ??= slot;
      fallback ??= slot;
    }
    if (last !== undefined) {
      const w = last.worker;
      if (w.prepared === true || (w.prepared === false && w.readySoon === true)) return last;
    }
    return oldestPrepared ?? fallback;
  }

  private attach(slot: Slot, session: Session): void {
    slot.state = 'busy';
    slot.jobs++;
    slot.session = session;
    slot.worker.ref?.();
    session.attach(slot);
    // The taken sandbox is replaced later, when the job ends or after the refill delay, so its
    // start does not compete with the job for the CPU.
    if (this.config.refillDelayMs > 0 && !this.refillTimer) {
      this.refillTimer = setTimeout(() => {
        this.refillTimer = undefined;
        this.topUp();
      }, this.config.refillDelayMs);
      this.refillTimer.unref();
    }
  }

  /** Starts sandboxes for waiting jobs, and `minIdle` spares of the current shape. */
  private topUp(): void {
    if (this.disposed || !this.connected || this.unavailable) return;
    const need = new Map<string, number>();
    for (const s of this.queue) need.set(s.shape, (need.get(s.shape) ?? 0) + 1);
    const spares = this.active && !this.refillBlocked && !this.refillTimer && this.currentShape !== undefined;
    if (spares) need.set(this.currentShape!, (need.get(this.currentShape!) ?? 0) + this.config.minIdle);
    for (const [shape, wanted] of need) {
      let have = 0;
      for (const slot of this.slots) if (slot.shape === shape && (slot.state === 'idle' || slot.state === 'starting')) have++;
      while (have < wanted) {
        if (this.slots.size >= this.config.maxWorkers) {
          // Full: an idle sandbox of another shape may give way to a job that waits.
          const spare = [...this.slots].find((s) => s.state === 'idle' && s.shape !== shape);
          if (!spare || !this.queue.some((s) => s.shape === shape)) break;
          this.stopSlot(spare);
          break;
        }
        this.spawn(shape);
        have++;
      }
    }
  }

  private spawn(shape: string): void {
    const slot = new Slot(shape);
    this.slots.add(slot);
    const worker = this.driver.createWorker(shape, {
      message: (m: SandboxToHost) => slot.session?.onMessage(m),
      fault: (failure: RuntimeFailure) => slot.session?.onFault(failure),
      exit: (failure: RuntimeFailure) => this.onExit(slot, failure),
    });
    slot.worker = worker;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`a ${this.name} sandbox did not become ready within ${this.config.startTimeoutMs} ms`)), this.config.startTimeoutMs);
      timer.unref();
    });
    let started: Promise<void>;
    try {
      started = Promise.race([worker.start(), timeout]);
    } catch (e) {
      started = Promise.reject(e);
    }
    started.then(
      () => {
        clearTimeout(timer);
        if (slot.state !== 'starting') return;
        slot.state = 'idle';
        worker.unref?.();
        this.lastStartError = undefined;
        this.dispatch();
        this.wakeReadyWaiters();
      },
      (err: unknown) => {
        clearTimeout(timer);
        const error = err instanceof Error ? err : new Error(String(err));
        // A start the host cut short itself (dispose, a shape nobody wants any more: stopSlot) is no
        // failure; a sandbox that died by itself while starting is (its exit came first).
        if (this.disposed || slot.stopping) return;
        this.lastStartError = error;
        this.refillBlocked = true;
        if ((error as { permanent?: boolean }).permanent) this.unavailable = error;
        // Every waiting job of this shape that no other starting sandbox can serve learns why,
        // before the failed sandbox leaves (its exit would otherwise start another for them).
        const starting = [...this.slots].filter((s) => s !== slot && s.shape === shape && s.state === 'starting').length;
        const waiting = this.queue.filter((s) => s.shape === shape);
        if (waiting.length <= starting) this.warn(error);
        for (const s of waiting.slice(starting)) s.end({ code: 'RUNTIME_UNAVAILABLE', message: error.message });
        if (this.unavailable) for (const s of [...this.queue]) s.end({ code: 'RUNTIME_UNAVAILABLE', message: error.message });
        this.stopSlot(slot);
        this.wakeReadyWaiters();
      },
    );
  }

  private stopSlot(slot: Slot): void {
    if (slot.stopping) return;
    slot.state = 'stopping';
    slot.worker.ref?.();
    slot.stopping = slot.worker.stop().catch(() => undefined);
    // A worker that cannot report its exit still leaves the pool.
    void slot.stopping.then(() => this.onExit(slot, { code: 'SANDBOX_CRASHED', message: 'The sandbox was stopped' }));
  }

  private onExit(slot: Slot, failure: RuntimeFailure): void {
    if (!this.slots.has(slot)) return;
    const wasStarting = slot.state === 'starting';
    this.slots.delete(slot);
    slot.markGone();
    // A sandbox that dies while starting fails its start; that failure does the bookkeeping
    // (starting another one here would spin on an engine that cannot start).
    if (wasStarting) return;
    const session = slot.session;
    slot.session = undefined;
    if (session) session.onExit(failure);
    else if (slot.state === 'idle' && !this.disposed) this.warn(new Error(`An idle ${this.name} sandbox died and is replaced: ${failure.message}`));
    // A sandbox that died while idle (killed from outside, an engine crash) is replaced.
    if (!this.disposed) this.dispatch();
  }

  private warn(error: Error): void {
    try {
      this.config.onWarning(error);
    } catch {
      // A listener's failure must not break the pool.
    }
  }

  private wakeReadyWaiters(): void {
    for (const wake of this.readyWaiters.splice(0)) wake();
  }

  /** @internal Sanitizes a far side's report: lengths capped, and limits only from trusted far sides. */
  farSideFailure(failure: unknown): RuntimeFailure | undefined {
    if (failure === undefined || failure === null) return undefined;
    const f = (typeof failure === 'object' ? failure : {}) as Record<string, unknown>;
    let code = typeof f.code === 'string' ? f.code : 'SANDBOX_CRASHED';
    let message = typeof f.message === 'string' ? f.message : 'The sandbox reported a failure without a message';
    const known = ['SYNTAX_ERROR', 'RUNTIME_ERROR', 'TIMEOUT', 'MEMORY_LIMIT', 'OUTPUT_LIMIT', 'NOT_SERIALIZABLE', 'CANCELLED', 'SANDBOX_CRASHED', 'RUNTIME_UNAVAILABLE'];
    if (!known.includes(code) || (!this.driver.trustsFarSide && !UNTRUSTED_CODES.has(code))) {
      message = `The sandbox reported ${JSON.stringify(code.slice(0, 40))}: ${message}`;
      code = 'SANDBOX_CRASHED';
    }
    const out: RuntimeFailure = { code: code as RuntimeFailure['code'], message: capText(message, MAX_FAILURE_MESSAGE) };
    if (Number.isSafeInteger(f.line) && (f.line as number) > 0) out.line = f.line as number;
    if (Number.isSafeInteger(f.column) && (f.column as number) > 0) out.column = f.column as number;
    if (typeof f.stack === 'string') out.stack = capText(f.stack, MAX_FAILURE_STACK);
    return out;
  }
}

type SessionState = 'queued' | 'running' | 'ending' | 'done';

/** The host end of one job: queued, then attached to a sandbox, then done. */
class Session implements RuntimeSession {
  readonly done: Promise<RuntimeOutcome>;
  private resolveDone!: (outcome: RuntimeOutcome) => void;
  private state: SessionState = 'queued';
  private slot: Slot | undefined;
  private requested: RuntimeFailure | undefined;
  private readonly queuedAt = performance.now();
  private attachedAt: number | undefined;
  private queueTimer: NodeJS.Timeout | undefined;
  private deadlineTimer: NodeJS.Timeout | undefined;
  private killTimer: NodeJS.Timeout | undefined;
  private replies: string[] = [];
  private flushScheduled = false;
  /** Whether the far side said anything about this job (until then, the guest has done nothing). */
  private heard = false;
  private retried = false;
  private readonly onAbort = () => {
    const reason = this.job.signal?.reason as { name?: string; message?: string } | undefined;
    // The caller's own reason is kept (`controller.abort(new Error('user pressed stop'))`); the
    // default AbortError says nothing more than "cancelled".
    const why = reason && reason.name !== 'AbortError' && typeof reason.message === 'string' && reason.message ? `: ${capText(reason.message, 500)}` : '';
    this.terminate({ code: 'CANCELLED', message: `The execution was cancelled${why}` });
  };

  constructor(
    private readonly pool: Supervisor,
    readonly id: number,
    private readonly job: RuntimeJob,
    private readonly onGuestMessage: (message: string) => void,
    readonly shape: string,
  ) {
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    if (job.signal?.aborted) {
      this.finish({ code: 'CANCELLED', message: 'The execution was cancelled before it started' });
      return;
    }
    job.signal?.addEventListener('abort', this.onAbort, { once: true });
    const queueMs = job.queueTimeoutMs ?? job.limits.timeoutMs;
    this.queueTimer = setTimeout(
      () => this.end({ code: 'TIMEOUT', message: `No ${pool.name} sandbox became free within ${Math.round(queueMs)} ms; the script did not run` }),
      Math.max(0, queueMs),
    );
    pool.enqueue(this);
  }

  /** @internal The pool gave this job a sandbox. */
  attach(slot: Slot): void {
    clearTimeout(this.queueTimer);
    this.slot = slot;
    this.state = 'running';
    this.attachedAt = performance.now();
    const { timeoutMs } = this.job.limits;
    // The far side enforces the deadline itself; this timer asks it to stop in case it cannot
    // (a native builtin, a wedged engine) and kills it `graceMs` later.
    this.deadlineTimer = setTimeout(() => this.terminate({ code: 'TIMEOUT', message: `The script exceeded its time limit of ${timeoutMs} ms` }), timeoutMs);
    const { code, filename, limits } = this.job;
    slot.worker.send({ t: 'job', id: this.id, job: { code, filename, limits } });
  }

  send(message: string): void {
    if (this.state !== 'running') return;
    this.replies.push(message);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // Replies produced in the same tick (a Promise.all of fast tools) travel together.
    queueMicrotask(() => {
      this.flushScheduled = false;
      if (this.state !== 'running' || this.replies.length === 0) return;
      const m = this.replies;
      this.replies = [];
      this.slot?.worker.send({ t: 'reply', id: this.id, m });
    });
  }

  terminate(failure: RuntimeFailure): void {
    if (this.state === 'queued') {
      this.end(failure);
      return;
    }
    if (this.state !== 'running') return;
    this.state = 'ending';
    this.requested = failure;
    this.slot!.worker.send({ t: 'abort', id: this.id, failure });
    this.killTimer = setTimeout(() => this.kill(), this.pool.graceMs);
  }

  /** Ends the job now, whatever its state (dispose, a queue timeout, a start failure). */
  end(failure: RuntimeFailure): void {
    if (this.state === 'done') return;
    if (this.state === 'queued') {
      this.pool.dequeue(this);
      this.finish(failure);
      return;
    }
    this.requested ??= failure;
    this.kill();
  }

  /** @internal A far-side message for the sandbox this job holds. */
  onMessage(m: SandboxToHost): void {
    if (m.id !== this.id || (this.state !== 'running' && this.state !== 'ending')) return;
    this.heard = true;
    if (m.t === 'out') {
      // Output written before a deadline or an abort still counts: the executor keeps the logs.
      for (const text of m.m) {
        // The handler may end the job (a limit breach): stop delivering then.
        if ((this.state as SessionState) === 'done') return;
        try {
          this.onGuestMessage(text);
        } catch {
          // The executor's handler must not throw; if it does, the job still ends cleanly.
        }
      }
    } else if (m.t === 'end') {
      const slot = this.slot!;
      const outcome: SandboxOutcome = m.outcome ?? {};
      let failure = this.requested ?? this.pool.farSideFailure(outcome.failure);
      // The far side's remark explains an ending whatever its reason (e.g. an unhandled rejection
      // earlier, for a script that then timed out).
      if (failure && typeof outcome.note === 'string' && outcome.note) failure = { ...failure, message: `${failure.message}; ${capText(outcome.note, MAX_FAILURE_MESSAGE)}` };
      this.slot = undefined;
      this.pool.release(slot, m.retire === true);
      this.finish(failure, outcome.stats);
    }
  }

  /** @internal The worker saw the sandbox break a bound from outside. */
  onFault(failure: RuntimeFailure): void {
    if (this.state !== 'running' && this.state !== 'ending') return;
    this.requested ??= failure;
    this.kill();
  }

  /** @internal The sandbox is gone. */
  onExit(failure: RuntimeFailure): void {
    if (this.state === 'done' || this.state === 'queued') return;
    this.slot = undefined;
    if (this.state === 'running' && !this.heard && !this.retried && !this.pool.isDisposed) {
      // The sandbox died before anything of the job came back (it was dying when it took the
      // job): the guest cannot have acted, since it acts only through messages. Once, the job
      // goes to another sandbox, with a fresh clock.
      this.retried = true;
      this.state = 'queued';
      clearTimeout(this.deadlineTimer);
      this.attachedAt = undefined;
      this.pool.requeue(this);
      return;
    }
    this.finish(this.requested ?? failure);
  }

  private kill(): void {
    if (this.state === 'done') return;
    const slot = this.slot;
    const failure = this.requested ?? { code: 'SANDBOX_CRASHED' as const, message: 'The sandbox was stopped' };
    this.state = 'ending';
    clearTimeout(this.killTimer);
    clearTimeout(this.deadlineTimer);
    if (!slot) {
      this.finish(failure);
      return;
    }
    this.slot = undefined;
    const gone = this.pool.kill(slot);
    // Nothing the script started may outlive the failure the caller sees, within reason.
    void Promise.race([gone, sleep(this.pool.stopWaitMs)]).then(() => this.finish(failure));
  }

  private finish(failure: RuntimeFailure | undefined, stats?: SandboxOutcome['stats']): void {
    if (this.state === 'done') return;
    this.state = 'done';
    clearTimeout(this.queueTimer);
    clearTimeout(this.deadlineTimer);
    clearTimeout(this.killTimer);
    this.job.signal?.removeEventListener('abort', this.onAbort);
    this.pool.forget(this);
    const now = performance.now();
    const outcome: RuntimeOutcome = {
      stats: {
        durationMs: this.attachedAt === undefined ? 0 : now - this.attachedAt,
        queuedMs: (this.attachedAt ?? now) - this.queuedAt,
      },
      enforced: this.pool.enforced(this.job),
    };
    if (typeof stats?.cpuMs === 'number' && Number.isFinite(stats.cpuMs) && stats.cpuMs >= 0) outcome.stats.cpuMs = stats.cpuMs;
    if (typeof stats?.memoryBytes === 'number' && Number.isFinite(stats.memoryBytes) && stats.memoryBytes >= 0) outcome.stats.memoryBytes = stats.memoryBytes;
    if (failure) outcome.failure = failure;
    this.resolveDone(outcome);
  }
}
