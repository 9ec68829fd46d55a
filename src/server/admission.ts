/**
 * Admission control for `execute_code`: the server's own bounded queue in front of the
 * executor. Nothing a client sends reaches a sandbox before it holds one of a fixed number of
 * running slots; waiting is bounded three ways (per server, per session, and by the
 * execution's own `timeoutMs`, which keeps running while it waits), and every refusal is a
 * value with a stable code, never a throw.
 *
 * The queue is independent of the runtime's pool: the pool bounds sandboxes, this bounds what
 * clients may pile up in front of them, so a flood of requests costs a queue entry each (a
 * timer and a closure), never a sandbox, a worker or a parsed script.
 */

/** Executions that run at once across the server. Two cores: two busy guests per core keep
 * them saturated while others wait on tool calls, and match the QuickJS pool's default size
 * (2 × cores), so an admitted execution does not wait again inside the runtime. */
export const DEFAULT_MAX_CONCURRENT_EXECUTIONS = 4;
/** Executions waiting for a slot across the server; one more is refused with `SERVER_BUSY`. */
export const DEFAULT_MAX_QUEUED_EXECUTIONS = 16;
/**
 * Running plus queued executions of one session. One less than the running slots, so a single
 * session (however hostile) can never hold every slot: another session's request always finds
 * one free unless several sessions are saturating the server at once.
 */
export const DEFAULT_MAX_EXECUTIONS_PER_SESSION = DEFAULT_MAX_CONCURRENT_EXECUTIONS - 1;

export interface AdmissionOptions {
  /** Default {@link DEFAULT_MAX_CONCURRENT_EXECUTIONS}. */
  maxConcurrentExecutions?: number;
  /** Default {@link DEFAULT_MAX_QUEUED_EXECUTIONS}. */
  maxQueuedExecutions?: number;
  /** Default {@link DEFAULT_MAX_EXECUTIONS_PER_SESSION}. */
  maxExecutionsPerSession?: number;
}

/** A held running slot; `release()` it exactly once when the execution ends (extra calls are no-ops). */
export interface AdmissionTicket {
  readonly ok: true;
  /** Milliseconds spent in the queue before the slot was granted. */
  readonly waitedMs: number;
  release(): void;
}

/** Why no slot was granted. */
export interface AdmissionRefusal {
  readonly ok: false;
  /** `SERVER_BUSY`: a cap is full (retry later); `TIMEOUT`: the budget ran out while queued; `CANCELLED`: the caller gave up. */
  readonly code: 'SERVER_BUSY' | 'TIMEOUT' | 'CANCELLED';
  /** Which cap refused it, for `SERVER_BUSY`. */
  readonly limit?: 'maxQueuedExecutions' | 'maxExecutionsPerSession';
  readonly message: string;
  readonly waitedMs: number;
}

interface Waiter {
  key: string;
  enqueuedAt: number;
  settle: (outcome: AdmissionTicket | AdmissionRefusal) => void;
}

interface SessionLoad {
  running: number;
  queued: number;
}

function positiveInt(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1) throw new TypeError(`${name} must be a positive integer, got ${JSON.stringify(value)}`);
  return value;
}

/** The running slots and the queue in front of them, shared by every session of a server. */
export class AdmissionQueue {
  readonly maxConcurrent: number;
  readonly maxQueued: number;
  readonly maxPerSession: number;
  #running = 0;
  readonly #queue: Waiter[] = [];
  readonly #load = new Map<string, SessionLoad>();

  constructor(options: AdmissionOptions = {}) {
    this.maxConcurrent = positiveInt('maxConcurrentExecutions', options.maxConcurrentExecutions, DEFAULT_MAX_CONCURRENT_EXECUTIONS);
    this.maxQueued = positiveInt('maxQueuedExecutions', options.maxQueuedExecutions, DEFAULT_MAX_QUEUED_EXECUTIONS);
    this.maxPerSession = positiveInt(
      'maxExecutionsPerSession',
      options.maxExecutionsPerSession,
      // Keep the "one session never holds every slot" property when only the slots are configured.
      Math.max(1, Math.min(DEFAULT_MAX_EXECUTIONS_PER_SESSION, this.maxConcurrent - 1)),
    );
  }

  /** Executions holding a slot now. */
  get running(): number {
    return this.#running;
  }

  /** Executions waiting for a slot now. */
  get queued(): number {
    return this.#queue.length;
  }

  /**
   * Asks for a running slot for one execution of session `key`. Resolves at once with a
   * ticket when a slot is free, or with a refusal when a cap is full; otherwise waits until a
   * slot frees, `budgetMs` runs out (`TIMEOUT`) or `signal` aborts (`CANCELLED`). `onQueued`
   * is called (synchronously) when the execution has to wait, with the load it waits behind.
   */
  acquire(key: string, budgetMs: number, signal?: AbortSignal, onQueued?: (running: number, waiting: number) => void): Promise<AdmissionTicket | AdmissionRefusal> {
    const start = performance.now();
    if (signal?.aborted) return Promise.resolve(this.#refuse('CANCELLED', 'The execution was cancelled before it started', start));
    const load = this.#loadOf(key);
    if (load.running + load.queued >= this.maxPerSession) {
      this.#dropIfIdle(key);
      return Promise.resolve(
        this.#refuse(
          'SERVER_BUSY',
          `This session already has ${load.running + load.queued} executions running or waiting (serve.maxExecutionsPerSession is ${this.maxPerSession}); wait for one to finish, then retry`,
          start,
          'maxExecutionsPerSession',
        ),
      );
    }
    if (this.#running < this.maxConcurrent && this.#queue.length === 0) {
      // Granted without waiting: a GC pause or a stolen vCPU between here and `start` is not
      // time spent in the queue, and reporting it as such misleads (`queued 4ms` on an idle server).
      return Promise.resolve(this.#grant(key));
    }
    if (this.#queue.length >= this.maxQueued) {
      this.#dropIfIdle(key);
      return Promise.resolve(
        this.#refuse(
          'SERVER_BUSY',
          `The server is busy: ${this.#running} executions are running and ${this.#queue.length} are waiting (serve.maxQueuedExecutions is ${this.maxQueued}); retry later`,
          start,
          'maxQueuedExecutions',
        ),
      );
    }
    return new Promise((resolve) => {
      load.queued++;
      let timer: NodeJS.Timeout | undefined;
      const leave = () => {
        const i = this.#queue.indexOf(waiter);
        if (i < 0) return false;
        this.#queue.splice(i, 1);
        load.queued--;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        return true;
      };
      const waiter: Waiter = {
        key,
        enqueuedAt: start,
        settle: (outcome) => {
          if (leave()) resolve(outcome);
        },
      };
      const onAbort = () => {
        if (!leave()) return;
        this.#dropIfIdle(key);
        resolve(this.#refuse('CANCELLED', 'The execution was cancelled while it waited for a sandbox', start));
      };
      timer = setTimeout(() => {
        if (!leave()) return;
        this.#dropIfIdle(key);
        const waited = Math.round(performance.now() - start);
        resolve(
          this.#refuse(
            'TIMEOUT',
            `The execution waited ${waited} ms for a sandbox and its timeoutMs (${budgetMs} ms) ran out before it could start: the server is busy (${this.#running} running, ${this.#queue.length} waiting); retry, or ask for a longer timeoutMs`,
            start,
          ),
        );
      }, Math.max(0, budgetMs));
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#queue.push(waiter);
      try {
        onQueued?.(this.#running, this.#queue.length);
      } catch {
        // an observer's failure changes nothing about the queue
      }
    });
  }

  #loadOf(key: string): SessionLoad {
    let load = this.#load.get(key);
    if (!load) {
      load = { running: 0, queued: 0 };
      this.#load.set(key, load);
    }
    return load;
  }

  #dropIfIdle(key: string): void {
    const load = this.#load.get(key);
    if (load && load.running === 0 && load.queued === 0) this.#load.delete(key);
  }

  #refuse(code: AdmissionRefusal['code'], message: string, start: number, limit?: AdmissionRefusal['limit']): AdmissionRefusal {
    return { ok: false, code, message, waitedMs: Math.round(performance.now() - start), ...(limit ? { limit } : {}) };
  }

  #grant(key: string, start?: number): AdmissionTicket {
    this.#running++;
    this.#loadOf(key).running++;
    let released = false;
    return {
      ok: true,
      waitedMs: start === undefined ? 0 : Math.max(0, performance.now() - start),
      release: () => {
        if (released) return;
        released = true;
        this.#running--;
        const load = this.#load.get(key);
        if (load) load.running--;
        this.#dropIfIdle(key);
        this.#next();
      },
    };
  }

  /**
   * Hands free slots to waiters: the oldest waiter of the session that runs the fewest
   * executions goes first, so one session's backlog never starves another session's request.
   */
  #next(): void {
    while (this.#running < this.maxConcurrent && this.#queue.length > 0) {
      let best = 0;
      let bestRunning = Infinity;
      for (let i = 0; i < this.#queue.length; i++) {
        const running = this.#load.get(this.#queue[i]!.key)?.running ?? 0;
        // Strictly fewer: among equals the earlier (older) waiter keeps its place.
        if (running < bestRunning) {
          best = i;
          bestRunning = running;
        }
      }
      const waiter = this.#queue[best]!;
      // Counted as running before `settle` removes it from the queue, so the loop sees the slot taken.
      const ticket = this.#grant(waiter.key, waiter.enqueuedAt);
      waiter.settle(ticket);
    }
  }
}
