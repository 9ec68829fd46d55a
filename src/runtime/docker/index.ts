/**
 * The Docker runtime: every execution runs in its own hardened container, taken from a warm pool
 * and removed afterwards (never reused), optionally under gVisor. The far side is
 * `runtimes/docker/agent.js`, baked into the image (`npm run sandbox:build`); the lifecycle is the
 * shared supervisor's. dockerode is imported lazily, on the first connection, so loading this
 * module (or the package root) loads no dockerode.
 *
 * One runtime may spread executions over several engines (`engines`: local sockets, or TCP with
 * mutual TLS). Each engine has its own warm pool, a plain `Supervisor` around that engine's driver
 * (`engine.ts`), so everything the supervisor knows about a job's life holds per engine unchanged;
 * this file only places each job on an engine and, when the job never reached a guest, places it
 * again on another one. A pool per engine rather than one pool whose shapes name engines: the
 * supervisor keeps spares of one current shape and stops idle sandboxes of any other, which
 * would empty every engine's pool but the last one used, and its `maxWorkers` is one number,
 * where each host has its own capacity.
 */
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import type Dockerode from 'dockerode';
import { Supervisor, type SupervisorOptions } from '../supervisor.js';
import { loadPrelude } from '../guest.js';
import { checkRuntimeOptions, poolOptionsOf } from '../options.js';
import type { EnforcedLimits, PoolOptions, Runtime, RuntimeFailure, RuntimeJob, RuntimeOutcome, RuntimeSession, SandboxWorker } from '../types.js';
import { AGENT_HASH, DockerEngine, DockerRuntimeError, type EngineSettings, type EngineState } from './engine.js';
import { resolveEngines, type DockerEngineOptions, type OciRuntime, type ResolvedEngine } from './engines.js';
import type { DockerWorker } from './worker.js';

export { SANDBOX_LABEL, RUNTIME_ID_LABEL, OWNER_PID_LABEL, OWNER_HOST_LABEL, EXPIRES_LABEL, NODE_OVERHEAD_MB, containerOptions } from './container.js';
export type { SandboxSpec } from './container.js';
export { AGENT_HASH, AGENT_LABEL, BACKOFF_BASE_MS, BACKOFF_MAX_MS, DockerRuntimeError, SWEEP_INTERVAL_MS, type DockerRuntimePhase, type EngineState } from './engine.js';
export { DOCKER_TLS_PORT, ENGINE_KEYS, engineProblems, resolveEngines, type DockerEngineOptions, type DockerEngineTls, type OciRuntime, type ResolvedEngine } from './engines.js';

const packageVersion = (createRequire(import.meta.url)('../../../package.json') as { version: string }).version;

/** The image `npm run sandbox:build` produces for this package version and agent. */
export const DEFAULT_IMAGE = `toolexec-sandbox:${packageVersion}-${AGENT_HASH}`;
/** Guest heap for warm containers until a job asks for another size (the executor's default memoryMb). */
export const DEFAULT_MEMORY_MB = 64;
/** CPU quota per container, in cores. */
export const DEFAULT_CPUS = 1;
/** Node itself needs about a dozen threads; 64 leaves room and stops a fork bomb early. */
export const DEFAULT_PIDS_LIMIT = 64;
/** Size of the writable `/tmp` tmpfs. */
export const DEFAULT_TMPFS_MB = 16;
/** Largest file the guest may write (ulimit fsize); node ignores SIGXFSZ, so a larger write fails with EFBIG. */
export const DEFAULT_FSIZE_MB = 8;
/** Open-file limit (ulimit nofile). */
export const DEFAULT_NOFILE = 256;
/** How long a warm container may wait for a job before it ends itself (it is replaced before then). */
export const DEFAULT_IDLE_TTL_MS = 15 * 60_000;
/** The longest job a container may run; bounds its lifetime label and its CPU-time limit. */
export const DEFAULT_MAX_TIMEOUT_MS = 10 * 60_000;
/** How long a pool refill waits for the execution that emptied a slot (see `refillDelayMs`). */
export const REFILL_DELAY_MS = 250;
/** How long a connection attempt or a health ping may wait for the engine to answer. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
/** How often an engine in rotation is pinged (an idle engine's death is otherwise seen only at the next call). */
export const DEFAULT_HEALTH_INTERVAL_MS = 2_000;

/** Options of {@link DockerRuntime}; all optional. */
export interface DockerRuntimeOptions extends PoolOptions {
  /** Image to run; default {@link DEFAULT_IMAGE} (build it with `npm run sandbox:build`, on every engine). */
  image?: string;
  /**
   * Guest heap in MB for warm containers (default {@link DEFAULT_MEMORY_MB}). A job's own
   * `limits.memoryMb` wins; the pool then switches to that size. The container gets
   * {@link NODE_OVERHEAD_MB} more for node itself, with swap equal to memory.
   */
  memoryMb?: number;
  /** CPU quota in cores (default {@link DEFAULT_CPUS}). */
  cpus?: number;
  /** Maximum processes and threads in the container (default {@link DEFAULT_PIDS_LIMIT}). */
  pidsLimit?: number;
  /** OCI runtime: `runc` (default) or gVisor's `runsc` (must be registered with the engine). An engine's own `runtime` wins. */
  runtime?: OciRuntime;
  /** Size of the writable `/tmp` tmpfs (default {@link DEFAULT_TMPFS_MB}). */
  tmpfsMb?: number;
  /** Largest file the guest may write (ulimit fsize; default {@link DEFAULT_FSIZE_MB}). */
  fsizeMb?: number;
  /** Open-file limit (ulimit nofile; default {@link DEFAULT_NOFILE}). */
  nofile?: number;
  /** How long a warm container may wait for a job (default {@link DEFAULT_IDLE_TTL_MS}). */
  idleTtlMs?: number;
  /** The longest job a container may run (default {@link DEFAULT_MAX_TIMEOUT_MS}); a job asking for more gets this. */
  maxTimeoutMs?: number;
  /**
   * The engines to spread executions over, each with its own warm pool (`minIdle` and
   * `maxWorkers` are per engine). Default: one engine, from `docker`, else `DOCKER_HOST` /
   * `DOCKER_TLS_VERIFY` / `DOCKER_CERT_PATH`, else the local socket. See {@link DockerEngineOptions}.
   */
  engines?: DockerEngineOptions[];
  /** How to reach the one engine (dockerode options); default: DOCKER_HOST or the local socket. Not with `engines`. */
  docker?: Dockerode.DockerOptions;
  /** How long connecting to an engine, and each health ping, may take (default {@link DEFAULT_CONNECT_TIMEOUT_MS}). */
  connectTimeoutMs?: number;
  /** How often each engine in rotation is pinged (default {@link DEFAULT_HEALTH_INTERVAL_MS}). */
  healthIntervalMs?: number;
  /** Receives clean-up, refill, health and shutdown errors no execution sees; default: `process.emitWarning`. */
  onError?: (error: DockerRuntimeError) => void;
  /** The guest prelude (default: toolexec's own, `runtimes/prelude.js`). */
  prelude?: string;
}

/** The options with every default applied. */
export interface ResolvedDockerRuntimeOptions extends EngineSettings {
  /** The engines, resolved (certificates read). */
  engines: ResolvedEngine[];
  docker?: Dockerode.DockerOptions;
}

/** One engine as {@link DockerRuntime.engines} reports it. */
export interface DockerEngineStatus {
  name: string;
  where: string;
  /** `up`: in rotation; `down`: ejected; `connecting`: being tried; `new`: not tried yet. */
  state: EngineState;
  /** When the state last changed (epoch ms). */
  since: number;
  /** Why it is out of rotation. */
  error?: string;
  /** When an ejected engine is tried next (epoch ms). */
  nextCheckAt?: number;
  /** Times it was taken out of rotation. */
  ejections: number;
  weight: number;
  runtime: OciRuntime;
  /** Executions placed on it so far (retries included). */
  placed: number;
  /** Executions on it now (queued in its pool or running). */
  inFlight: number;
  /** Its pool's counts. */
  pool: ReturnType<Supervisor['stats']>;
}

const OWN_OPTIONS = ['image', 'memoryMb', 'cpus', 'pidsLimit', 'runtime', 'tmpfsMb', 'fsizeMb', 'nofile', 'idleTtlMs', 'maxTimeoutMs', 'engines', 'docker', 'connectTimeoutMs', 'healthIntervalMs', 'onError', 'prelude'] as const;

function positive(name: string, value: number | undefined, fallback: number, integer = true): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    throw new TypeError(`docker runtime: ${name} must be a positive ${integer ? 'integer' : 'number'}, got ${String(value)}`);
  }
  return value;
}

function resolveOptions(options: DockerRuntimeOptions): ResolvedDockerRuntimeOptions {
  checkRuntimeOptions('docker', options as Record<string, unknown>, OWN_OPTIONS);
  const runtime = options.runtime ?? 'runc';
  if (runtime !== 'runc' && runtime !== 'runsc') {
    throw new TypeError(`docker runtime: runtime must be 'runc' or 'runsc', got ${JSON.stringify(runtime)}`);
  }
  if (options.image !== undefined && (typeof options.image !== 'string' || !options.image)) {
    throw new TypeError('docker runtime: image must be a non-empty string');
  }
  return {
    image: options.image ?? DEFAULT_IMAGE,
    memoryMb: positive('memoryMb', options.memoryMb, DEFAULT_MEMORY_MB),
    cpus: positive('cpus', options.cpus, DEFAULT_CPUS, false),
    pidsLimit: positive('pidsLimit', options.pidsLimit, DEFAULT_PIDS_LIMIT),
    runtime,
    tmpfsMb: positive('tmpfsMb', options.tmpfsMb, DEFAULT_TMPFS_MB),
    fsizeMb: positive('fsizeMb', options.fsizeMb, DEFAULT_FSIZE_MB),
    nofile: positive('nofile', options.nofile, DEFAULT_NOFILE),
    idleTtlMs: positive('idleTtlMs', options.idleTtlMs, DEFAULT_IDLE_TTL_MS),
    maxTimeoutMs: positive('maxTimeoutMs', options.maxTimeoutMs, DEFAULT_MAX_TIMEOUT_MS),
    connectTimeoutMs: positive('connectTimeoutMs', options.connectTimeoutMs, DEFAULT_CONNECT_TIMEOUT_MS),
    healthIntervalMs: positive('healthIntervalMs', options.healthIntervalMs, DEFAULT_HEALTH_INTERVAL_MS),
    engines: resolveEngines(options),
    ...(options.docker ? { docker: options.docker } : {}),
  };
}

/** One engine's pool and the runtime's counts for it. */
interface EnginePool {
  readonly engine: DockerEngine;
  readonly supervisor: Supervisor;
  inFlight: number;
  placed: number;
}

const ENFORCED: EnforcedLimits = { timeoutMs: true, memoryMb: true, cpuMs: false };

/**
 * Runs each job in a fresh, hardened, single-use container, on one engine or spread over several.
 * See {@link DockerRuntimeOptions}.
 *
 * ```ts
 * await using runtime = new DockerRuntime({ minIdle: 2 });
 * await runtime.warm();
 * ```
 */
export class DockerRuntime implements Runtime {
  readonly name = 'docker';
  readonly options: ResolvedDockerRuntimeOptions;
  /** Identifies this instance's containers (label {@link RUNTIME_ID_LABEL}), on every engine. */
  readonly id: string;
  private readonly pools: EnginePool[];
  private readonly onError: ((error: DockerRuntimeError) => void) | undefined;
  private readonly sessions = new Set<FleetSession>();
  private readonly settleWaiters: Array<() => void> = [];
  private disposed = false;
  /** Set once `warm()` succeeded: an engine back in rotation gets its warm pool again. */
  private warmed = false;

  constructor(options: DockerRuntimeOptions = {}) {
    const resolved = resolveOptions(options);
    const pool = poolOptionsOf(options);
    if (pool.maxJobsPerWorker !== undefined && pool.maxJobsPerWorker !== 1) {
      throw new TypeError('docker runtime: containers are single use; maxJobsPerWorker can only be 1');
    }
    const minIdle = pool.minIdle ?? 2;
    const supervisorOptions: SupervisorOptions = {
      minIdle,
      maxWorkers: Math.max(minIdle * 2, minIdle + 4),
      graceMs: 100,
      // Creating and starting a container on a busy engine takes seconds, not milliseconds.
      startTimeoutMs: 60_000,
      refillDelayMs: REFILL_DELAY_MS,
      ...pool,
      maxJobsPerWorker: 1,
    };
    this.options = resolved;
    this.id = randomUUID();
    this.onError = options.onError;
    const prelude = options.prelude ?? loadPrelude();
    this.pools = resolved.engines.map((spec) => {
      const entry = { inFlight: 0, placed: 0 } as EnginePool & { engine: DockerEngine; supervisor: Supervisor };
      const engine = new DockerEngine(spec, resolved, this.id, prelude, {
        emit: (error) => this.emit(error),
        changed: (e) => {
          this.wakeSettleWaiters();
          // Back in rotation after an outage: its pool stopped refilling when its starts failed.
          if (e.state === 'up' && this.warmed && !this.disposed) void entry.supervisor.warm().catch(() => undefined);
        },
        liveIds: () => new Set(entry.supervisor.workers().map((w) => (w as DockerWorker).id).filter((id): id is string => typeof id === 'string')),
      });
      const supervisor = new Supervisor(engine, {
        ...supervisorOptions,
        // After dispose, a sandbox that was still starting fails its start: that is no news.
        onWarning: (error) => !this.disposed && this.emit(error instanceof DockerRuntimeError ? error : new DockerRuntimeError('SANDBOX_CRASHED', 'refill', engine.spec.implicit ? error.message : `${engine.title}: ${error.message}`, { cause: error })),
      });
      Object.assign(entry, { engine, supervisor });
      return entry;
    });
    for (const spec of resolved.engines) {
      if (spec.insecure) {
        process.emitWarning(
          `docker runtime: ${spec.implicit ? 'DOCKER_HOST' : `engine ${JSON.stringify(spec.name)}`} is plain TCP without TLS (${spec.where}): anyone who can reach it is root on that host. Use mutual TLS outside an isolated test network.`,
          { type: 'DockerRuntimeWarning', code: 'TOOLEXEC_DOCKER_INSECURE' },
        );
      }
    }
  }

  /** The pool options in force on each engine, defaults applied. */
  get poolOptions(): Supervisor['poolOptions'] {
    return this.pools[0]!.supervisor.poolOptions;
  }

  /** Whether `dispose()` was called. */
  get isDisposed(): boolean {
    return this.disposed;
  }

  /** Counts over every engine's pool, for diagnostics and tests. */
  stats(): ReturnType<Supervisor['stats']> {
    const total = { starting: 0, idle: 0, busy: 0, stopping: 0, queued: 0, alive: 0 };
    for (const p of this.pools) {
      const s = p.supervisor.stats();
      for (const key of Object.keys(total) as (keyof typeof total)[]) total[key] += s[key];
    }
    return total;
  }

  /** The workers of the sandboxes alive now, on every engine (container ids for diagnostics). */
  workers(): SandboxWorker[] {
    return this.pools.flatMap((p) => p.supervisor.workers());
  }

  /** Each engine: its health, its counts, why it is out of rotation. */
  engines(): DockerEngineStatus[] {
    return this.pools.map((p) => {
      const e = p.engine;
      const next = e.nextCheckAt;
      return {
        name: e.spec.name,
        where: e.spec.where,
        state: e.state,
        since: e.since,
        ...(e.state === 'down' && e.lastError ? { error: e.lastError.message } : {}),
        ...(next !== undefined ? { nextCheckAt: next } : {}),
        ejections: e.ejections,
        weight: e.spec.weight,
        runtime: e.ociRuntime,
        placed: p.placed,
        inFlight: p.inFlight,
        pool: p.supervisor.stats(),
      };
    });
  }

  start(job: RuntimeJob, onMessage: (message: string) => void): RuntimeSession {
    if (this.disposed) throw new Error('The docker runtime has been disposed');
    return new FleetSession(this, job, onMessage);
  }

  /**
   * Connects every engine (checks, clean-up) and starts `minIdle` sandboxes on each one in
   * rotation. Rejects when an engine answered but cannot run sandboxes (the image is missing, the
   * agent is stale, runsc is not registered: a deployment mistake, named with its fix), or when no
   * engine could be warmed; an engine that is merely unreachable is reported to `onError` and
   * left to the health checks.
   */
  async warm(): Promise<void> {
    if (this.disposed) throw new Error('The docker runtime has been disposed');
    await Promise.allSettled(this.pools.map((p) => p.engine.tryNow()));
    const misconfigured = this.pools.filter((p) => p.engine.misconfigured);
    if (misconfigured.length > 0) throw this.combined(misconfigured, 'cannot run sandboxes');
    const up = this.pools.filter((p) => p.engine.state === 'up');
    if (up.length === 0) throw this.combined(this.pools, 'is reachable');
    const warmed = await Promise.allSettled(up.map((p) => p.supervisor.warm()));
    const failed = warmed.flatMap((r, i) => (r.status === 'rejected' ? [[up[i]!, r.reason] as const] : []));
    if (failed.length === up.length) {
      if (failed.length === 1) throw failed[0]![1];
      throw new DockerRuntimeError('RUNTIME_UNAVAILABLE', 'refill', `no Docker engine could start a sandbox: ${failed.map(([, e]) => (e as Error).message).join('; ')}`);
    }
    for (const [, err] of failed) this.emit(err instanceof DockerRuntimeError ? err : new DockerRuntimeError('RUNTIME_UNAVAILABLE', 'refill', String((err as Error)?.message ?? err), { cause: err }));
    this.warmed = true;
  }

  /**
   * The client of the first engine in rotation, every engine connected and checked and its stale
   * containers gone. Rejects when no engine is in rotation.
   */
  async connect(): Promise<Dockerode> {
    await Promise.allSettled(this.pools.map((p) => p.engine.tryNow()));
    const up = this.pools.find((p) => p.engine.state === 'up');
    if (!up) throw this.combined(this.pools, 'is reachable');
    return up.engine.docker();
  }

  /** Resolves once every sandbox being stopped is gone, on every engine. */
  async drain(): Promise<void> {
    await Promise.all(this.pools.map((p) => p.supervisor.drain()));
  }

  /**
   * Ends every job (`CANCELLED`), stops every sandbox on every engine and waits until all are gone;
   * an engine that was out of rotation is pinged once (bounded by `connectTimeoutMs`) and, if it
   * answers, what this runtime left there is removed.
   */
  async dispose(): Promise<void> {
    if (!this.disposed) {
      this.disposed = true;
      for (const p of this.pools) p.engine.close();
      const failure: RuntimeFailure = { code: 'CANCELLED', message: 'The docker runtime was disposed during the execution' };
      for (const s of [...this.sessions]) s.cancel(failure);
      this.wakeSettleWaiters();
    }
    await Promise.all(this.pools.map((p) => p.supervisor.dispose()));
    // What died with an engine that was out of rotation is still there: removed if it answers now.
    await Promise.all(this.pools.map((p) => p.engine.finalSweep()));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }

  // ---- internals used by FleetSession ----

  /** @internal */
  track(session: FleetSession, on: boolean): void {
    if (on) this.sessions.add(session);
    else this.sessions.delete(session);
  }

  /**
   * @internal The engine for the next attempt of a job: in rotation, not tried by it yet, with
   * room (fewer executions than its `maxWorkers`), the least loaded for its weight; among equals
   * the one with the fewest placements for its weight, so sequential jobs alternate.
   */
  pick(tried: ReadonlySet<EnginePool>): EnginePool | undefined {
    let best: EnginePool | undefined;
    let bestKey: [number, number, number] | undefined;
    const max = this.poolOptions.maxWorkers;
    for (const p of this.pools) {
      if (p.engine.state !== 'up' || tried.has(p)) continue;
      const w = p.engine.spec.weight;
      const key: [number, number, number] = [p.inFlight >= max ? 1 : 0, (p.inFlight + 1) / w, p.placed / w];
      if (!bestKey || key[0] < bestKey[0] || (key[0] === bestKey[0] && (key[1] < bestKey[1] || (key[1] === bestKey[1] && key[2] < bestKey[2])))) {
        best = p;
        bestKey = key;
      }
    }
    return best;
  }

  /**
   * @internal Starts a first connection to every engine never tried; true when some engine
   * (untried by this job) is being connected, so that waiting can help.
   */
  connecting(tried: ReadonlySet<EnginePool>): boolean {
    let any = false;
    for (const p of this.pools) {
      if (tried.has(p)) continue;
      if (p.engine.state === 'new') void p.engine.tryNow().catch(() => undefined);
      if (p.engine.state === 'connecting') any = true;
    }
    return any;
  }

  /** @internal Resolves at the next change of any engine's state (or dispose). */
  settled(): Promise<void> {
    return new Promise((resolve) => this.settleWaiters.push(resolve));
  }

  /** @internal The failure of a job no engine can take. */
  unavailable(tried: ReadonlySet<EnginePool>, last: RuntimeFailure | undefined): RuntimeFailure {
    if (last) return last;
    if (this.pools.length === 1) return { code: 'RUNTIME_UNAVAILABLE', message: this.pools[0]!.engine.unavailable().message };
    const why = this.pools.filter((p) => !tried.has(p)).map((p) => `${p.engine.title}: ${p.engine.state === 'up' ? 'in rotation' : (p.engine.lastError?.message ?? p.engine.state)}`);
    return { code: 'RUNTIME_UNAVAILABLE', message: `No Docker engine can take the execution. ${why.join('; ')}` };
  }

  private combined(pools: EnginePool[], what: string): DockerRuntimeError {
    const first = pools[0]!.engine;
    if (pools.length === 1) return first.unavailable();
    const message = `${pools.length === this.pools.length ? `no Docker engine ${what}` : `${pools.length} Docker engines ${what === 'cannot run sandboxes' ? what : `are not ready`}`}: ${pools.map((p) => p.engine.lastError?.message ?? `${p.engine.title}: ${p.engine.state}`).join('; ')}`;
    return new DockerRuntimeError('RUNTIME_UNAVAILABLE', 'startup', message, { cause: first.lastError });
  }

  private wakeSettleWaiters(): void {
    for (const wake of this.settleWaiters.splice(0)) wake();
  }

  /** Hands an error no execution sees to `onError` (default: a process warning). */
  private emit(error: DockerRuntimeError): void {
    try {
      if (this.onError) this.onError(error);
      else process.emitWarning(error.message, { type: 'DockerRuntimeWarning', code: error.code });
    } catch {
      // The handler's own failure has nowhere better to go.
    }
  }
}

/**
 * One job across engines: placed on one, and placed again on another only when it never reached
 * a guest. The guest acts only through messages, so a job none of whose messages came back has
 * done nothing anyone saw; and it is moved only when its engine is to blame (no sandbox could
 * start, or the engine failed under it), never because a guest crashed itself.
 */
class FleetSession implements RuntimeSession {
  readonly done: Promise<RuntimeOutcome>;
  private resolveDone!: (outcome: RuntimeOutcome) => void;
  private inner: RuntimeSession | undefined;
  private heard = false;
  private requested: RuntimeFailure | undefined;
  private finished = false;
  private readonly tried = new Set<EnginePool>();
  private readonly startedAt = performance.now();
  private waitTimer: NodeJS.Timeout | undefined;
  private readonly onAbort = () => {
    // While a job runs, its pool sees the same signal and ends it; here it only stops waiting.
    this.requested ??= { code: 'CANCELLED', message: 'The execution was cancelled before it started' };
    if (!this.inner) this.finish({ failure: this.requested, stats: this.stats(), enforced: ENFORCED });
  };

  constructor(
    private readonly fleet: DockerRuntime,
    private readonly job: RuntimeJob,
    private readonly onGuestMessage: (message: string) => void,
  ) {
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    fleet.track(this, true);
    job.signal?.addEventListener('abort', this.onAbort, { once: true });
    if (job.signal?.aborted) {
      this.onAbort();
      return;
    }
    this.place(undefined);
  }

  send(message: string): void {
    this.inner?.send(message);
  }

  terminate(failure: RuntimeFailure): void {
    this.requested ??= failure;
    if (this.inner) this.inner.terminate(failure);
    else this.finish({ failure, stats: this.stats(), enforced: ENFORCED });
  }

  /** @internal The runtime is being disposed. */
  cancel(failure: RuntimeFailure): void {
    this.requested ??= failure;
    // A running job is ended by its pool's dispose, with this same code.
    if (!this.inner) this.finish({ failure, stats: this.stats(), enforced: ENFORCED });
  }

  private queueBudgetMs(): number {
    return (this.job.queueTimeoutMs ?? this.job.limits.timeoutMs) - (performance.now() - this.startedAt);
  }

  private stats(): RuntimeOutcome['stats'] {
    return { durationMs: 0, queuedMs: performance.now() - this.startedAt };
  }

  private place(last: RuntimeFailure | undefined): void {
    if (this.finished) return;
    if (this.requested) return this.finish({ failure: this.requested, stats: this.stats(), enforced: ENFORCED });
    const pool = this.fleet.pick(this.tried);
    if (pool) return this.run(pool);
    if (this.fleet.connecting(this.tried)) {
      // Engines being connected (the first job, or warm() trying an ejected one): wait for one,
      // within the job's queue budget.
      clearTimeout(this.waitTimer);
      const budget = this.queueBudgetMs();
      this.waitTimer = setTimeout(
        () => this.finish({ failure: { code: 'TIMEOUT', message: `No docker sandbox became free within ${Math.round(this.job.queueTimeoutMs ?? this.job.limits.timeoutMs)} ms; the script did not run` }, stats: this.stats(), enforced: ENFORCED }),
        Math.max(0, budget),
      );
      void this.fleet.settled().then(() => {
        clearTimeout(this.waitTimer);
        this.place(last);
      });
      return;
    }
    this.finish({ failure: this.fleet.unavailable(this.tried, last), stats: this.stats(), enforced: ENFORCED });
  }

  private run(pool: EnginePool): void {
    this.tried.add(pool);
    pool.inFlight++;
    pool.placed++;
    const attemptAt = performance.now();
    let inner: RuntimeSession;
    try {
      inner = pool.supervisor.start({ ...this.job, queueTimeoutMs: Math.max(0, this.queueBudgetMs()) }, (message) => {
        this.heard = true;
        this.onGuestMessage(message);
      });
    } catch (err) {
      pool.inFlight--;
      this.finish({ failure: { code: 'CANCELLED', message: (err as Error).message }, stats: this.stats(), enforced: ENFORCED });
      return;
    }
    this.inner = inner;
    void inner.done.then((outcome) => {
      pool.inFlight--;
      this.inner = undefined;
      const failure = outcome.failure;
      const engineDown = pool.engine.state !== 'up';
      if (failure && !this.heard && !this.requested && !this.job.signal?.aborted && !this.fleet.isDisposed && (failure.code === 'RUNTIME_UNAVAILABLE' || (failure.code === 'SANDBOX_CRASHED' && engineDown))) {
        this.place(failure);
        return;
      }
      const queuedBefore = attemptAt - this.startedAt;
      const result: RuntimeOutcome = { ...outcome, stats: { ...outcome.stats, queuedMs: outcome.stats.queuedMs + queuedBefore } };
      if (failure?.code === 'SANDBOX_CRASHED' && engineDown && !pool.engine.spec.implicit && !this.requested) {
        // The engine failed under a job that had started: say which one, and why.
        result.failure = { ...failure, message: `${failure.message} (${pool.engine.title} failed during the execution: ${pool.engine.lastError?.message ?? 'out of rotation'})` };
      }
      this.finish(result);
    });
  }

  private finish(outcome: RuntimeOutcome): void {
    if (this.finished) return;
    this.finished = true;
    clearTimeout(this.waitTimer);
    this.job.signal?.removeEventListener('abort', this.onAbort);
    this.fleet.track(this, false);
    this.resolveDone(outcome);
  }
}

/** Creates the Docker runtime (the loader in `src/runtime/load.ts` calls this by name). */
export function createRuntime(options: DockerRuntimeOptions = {}): DockerRuntime {
  return new DockerRuntime(options);
}

/** The same as {@link createRuntime}, by its older name. */
export const createDockerRuntime = createRuntime;
