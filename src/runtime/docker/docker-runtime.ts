/**
 * The Docker runtime: every execution runs in its own hardened container, taken from a warm pool
 * and destroyed afterwards (never reused). The guest agent inside (`runtimes/docker/agent.js`)
 * evaluates the job and carries bridge messages as JSON lines over the container's stdio.
 *
 * dockerode is imported lazily here, so loading the package root never loads it.
 */
import os from 'node:os';
import { createRequire } from 'node:module';
import type Dockerode from 'dockerode';
import type {
  Runtime,
  RuntimeErrorCode,
  RuntimeFailure,
  RuntimeJob,
  RuntimeOutcome,
  RuntimeSession,
} from '../types.js';
import { randomUUID } from 'node:crypto';
import { OWNER_HOST_LABEL, OWNER_PID_LABEL, RUNTIME_ID_LABEL, SANDBOX_LABEL, Sandbox, type SandboxEvent, type SandboxSpec } from './sandbox.js';

const packageVersion = (createRequire(import.meta.url)('../../../package.json') as { version: string }).version;

/** The image `npm run sandbox:build` produces for this package version. */
export const DEFAULT_IMAGE = `toolexec-sandbox:${packageVersion}`;
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
/** Warm containers kept ready by default. */
export const DEFAULT_POOL_SIZE = 2;
/** How long a pool refill waits for the execution that emptied a slot (see `refillSoon`). */
export const REFILL_DELAY_MS = 250;
/** How long `warm()` waits for started containers' agents to report ready. */
export const WARM_READY_TIMEOUT_MS = 60_000;
/** How long start-up may wait for the engine to answer a ping. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;

/** Where a reported runtime error happened. */
export type DockerRuntimePhase = 'startup' | 'cleanup' | 'refill' | 'execution' | 'shutdown';

/** An error of the Docker runtime itself (engine, pool, clean-up), with a stable code. */
export class DockerRuntimeError extends Error {
  override readonly name = 'DockerRuntimeError';
  constructor(
    readonly code: RuntimeErrorCode,
    readonly phase: DockerRuntimePhase,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The warm pool's sizes. */
export interface DockerPoolOptions {
  /** Warm containers kept started and waiting for a job (0 disables the pool). */
  size: number;
  /**
   * Most containers alive at once (warm, starting and busy); `start` waits for a free slot
   * beyond it. Default: `max(size * 2, size + 4)`.
   */
  maxSize?: number;
}

/** Options of {@link DockerRuntime}; all optional. */
export interface DockerRuntimeOptions {
  /** Image to run; default {@link DEFAULT_IMAGE} (build it with `npm run sandbox:build`). */
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
  /** OCI runtime: `runc` (default) or gVisor's `runsc` (must be registered with the engine). */
  runtime?: 'runc' | 'runsc';
  /** Size of the writable `/tmp` tmpfs (default {@link DEFAULT_TMPFS_MB}). */
  tmpfsMb?: number;
  /** Largest file the guest may write (ulimit fsize; default {@link DEFAULT_FSIZE_MB}). */
  fsizeMb?: number;
  /** Open-file limit (ulimit nofile; default {@link DEFAULT_NOFILE}). */
  nofile?: number;
  /**
   * Warm pool; default `{ size: 2 }`. `{ size: 0 }` starts a cold container per execution. The
   * pool fills on `warm()` or from the second execution on, so a single run starts no extra
   * containers.
   */
  pool?: DockerPoolOptions;
  /** How to reach the engine (dockerode options); default: DOCKER_HOST or the local socket. */
  docker?: Dockerode.DockerOptions;
  /** Receives start-up, clean-up, refill and shutdown errors; default: `process.emitWarning`. */
  onError?: (error: DockerRuntimeError) => void;
}

/** The options with every default applied. */
export interface ResolvedDockerRuntimeOptions {
  image: string;
  memoryMb: number;
  cpus: number;
  pidsLimit: number;
  runtime: 'runc' | 'runsc';
  tmpfsMb: number;
  fsizeMb: number;
  nofile: number;
  pool: { size: number; maxSize: number };
  docker?: Dockerode.DockerOptions;
}

function positive(name: string, value: number | undefined, fallback: number, integer = true): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    throw new TypeError(`DockerRuntime: ${name} must be a positive ${integer ? 'integer' : 'number'}, got ${String(value)}`);
  }
  return value;
}

function resolveOptions(options: DockerRuntimeOptions): ResolvedDockerRuntimeOptions {
  const runtime = options.runtime ?? 'runc';
  if (runtime !== 'runc' && runtime !== 'runsc') {
    throw new TypeError(`DockerRuntime: runtime must be 'runc' or 'runsc', got ${JSON.stringify(runtime)}`);
  }
  const size = options.pool?.size ?? DEFAULT_POOL_SIZE;
  if (!Number.isInteger(size) || size < 0) throw new TypeError(`DockerRuntime: pool.size must be an integer >= 0, got ${String(size)}`);
  const maxSize = positive('pool.maxSize', options.pool?.maxSize, Math.max(size * 2, size + 4));
  if (maxSize < size) throw new TypeError(`DockerRuntime: pool.maxSize (${maxSize}) is smaller than pool.size (${size})`);
  if (options.image !== undefined && (typeof options.image !== 'string' || !options.image)) {
    throw new TypeError('DockerRuntime: image must be a non-empty string');
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
    pool: { size, maxSize },
    ...(options.docker ? { docker: options.docker } : {}),
  };
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(message)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

const FAILURE_CODES = new Set<RuntimeErrorCode>([
  'SYNTAX_ERROR',
  'RUNTIME_ERROR',
  'TIMEOUT',
  'MEMORY_LIMIT',
  'OUTPUT_LIMIT',
  'NOT_SERIALIZABLE',
  'CANCELLED',
  'SANDBOX_CRASHED',
  'RUNTIME_UNAVAILABLE',
]);

/**
 * Runs each job in a fresh, hardened, single-use container. See {@link DockerRuntimeOptions}.
 *
 * ```ts
 * await using runtime = new DockerRuntime({ pool: { size: 2 } });
 * await runtime.warm();
 * const session = runtime.start(job, (message) => …);
 * ```
 */
export class DockerRuntime implements Runtime {
  readonly name = 'docker' as const;
  readonly options: ResolvedDockerRuntimeOptions;
  /** Identifies this instance's containers (label {@link RUNTIME_ID_LABEL}). */
  readonly id = randomUUID();
  private readonly labels: Record<string, string> = { [RUNTIME_ID_LABEL]: this.id };
  private readonly onError: (error: DockerRuntimeError) => void;
  private dockerPromise?: Promise<Dockerode>;
  private idle: Sandbox[] = [];
  private starting = 0;
  private alive = 0;
  private slotWaiters: Array<{ resolve: () => void; reject: (err: Error) => void }> = [];
  private poolHeapMb: number;
  private refilling = false;
  private poolWaiters = 0;
  private coldStarting = 0;
  private started = 0;
  /** The pool fills once `warm()` was called or a second execution started. */
  private poolActive = false;
  private refillTimer?: NodeJS.Timeout;
  private lastPoolError?: DockerRuntimeError;
  private readonly sessions = new Set<DockerSession>();
  private readonly removals = new Set<Promise<void>>();
  private readonly refillWaiters: Array<() => void> = [];
  private disposed = false;

  constructor(options: DockerRuntimeOptions = {}) {
    this.options = resolveOptions(options);
    this.poolHeapMb = this.options.memoryMb;
    this.onError =
      options.onError ??
      ((error) => {
        process.emitWarning(error.message, { type: 'DockerRuntimeWarning', code: error.code });
      });
  }

  /** Whether `dispose()` was called. */
  get isDisposed(): boolean {
    return this.disposed;
  }

  /** Counts for diagnostics and tests: warm, starting and alive containers, running sessions. */
  get poolStats(): { idle: number; starting: number; alive: number; running: number } {
    return { idle: this.idle.length, starting: this.starting, alive: this.alive, running: this.sessions.size };
  }

  /**
   * Starts `job` in a container and returns its session at once; a failure to get a container
   * (engine unreachable, image missing, pool errors) ends the session with a failure.
   */
  start(job: RuntimeJob, onMessage: (message: string) => void): RuntimeSession {
    if (this.disposed) throw new Error('DockerRuntime: start() after dispose()');
    // One execution alone (a CLI run) gains nothing from a pool and would wait for its
    // containers at dispose; a second one says more will follow.
    if (++this.started >= 2) this.poolActive = true;
    const session = new DockerSession(this, job, onMessage);
    this.sessions.add(session);
    void session.done.then(() => this.sessions.delete(session));
    return session;
  }

  /**
   * Connects, removes stale containers and fills the warm pool; resolves when every warm
   * container's agent is up. Rejects with a {@link DockerRuntimeError} when it cannot.
   */
  async warm(): Promise<void> {
    if (this.disposed) throw new Error('DockerRuntime: warm() after dispose()');
    await this.connect();
    this.poolActive = true;
    this.lastPoolError = undefined;
    const target = this.options.pool.size;
    for (;;) {
      this.refill();
      const key = this.specFor(this.poolHeapMb);
      const usable = this.idle.filter((s) => !s.exited && sameSpec(s.spec, key));
      if (usable.length >= target) {
        const ready = await withTimeout(
          Promise.all(usable.slice(0, target).map((s) => s.whenReady())),
          WARM_READY_TIMEOUT_MS,
          'timed out',
        ).catch(() => {
          throw new DockerRuntimeError('RUNTIME_UNAVAILABLE', 'startup', `warm containers started but their agent did not report ready within ${WARM_READY_TIMEOUT_MS} ms; is ${this.options.image} a toolexec sandbox image?`);
        });
        if (ready.every(Boolean)) return;
        continue;
      }
      if (this.lastPoolError) throw this.lastPoolError;
      if (this.disposed) throw new Error('DockerRuntime: disposed while warming');
      await new Promise<void>((resolve) => this.refillWaiters.push(resolve));
    }
  }

  /**
   * Resolves once the containers of finished executions are removed. A session's `done` settles
   * as soon as the guest finished by itself (its agent is exiting); removal continues behind it.
   */
  async drain(): Promise<void> {
    await this.drainRemovals();
  }

  /** Removes every container of this runtime and waits for it; later calls do nothing. */
  async dispose(): Promise<void> {
    if (this.disposed) {
      await this.drainRemovals();
      return;
    }
    this.disposed = true;
    clearTimeout(this.refillTimer);
    for (const waiter of this.slotWaiters.splice(0)) waiter.reject(new Error('the Docker runtime was disposed'));
    for (const session of [...this.sessions]) {
      session.terminate({ code: 'CANCELLED', message: 'the Docker runtime was disposed' });
    }
    for (const sandbox of this.idle.splice(0)) this.discard(sandbox, 'shutdown');
    this.wakeRefillWaiters();
    // Containers still being created are discarded when their creation settles.
    const deadline = Date.now() + 30_000;
    while ((this.starting > 0 || this.coldStarting > 0 || this.removals.size > 0) && Date.now() < deadline) {
      await this.drainRemovals();
      if (this.starting > 0 || this.coldStarting > 0) await new Promise((r) => setTimeout(r, 20));
    }
    if (this.starting > 0 || this.coldStarting > 0 || this.removals.size > 0) {
      this.report(new DockerRuntimeError('SANDBOX_CRASHED', 'shutdown', 'dispose() gave up waiting for containers still being created or removed; the next start-up removes them'));
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }

  /** The dockerode client, connected and checked (engine, image, runtime), stale containers gone. */
  connect(): Promise<Dockerode> {
    if (!this.dockerPromise) {
      const attempt = this.connectOnce();
      this.dockerPromise = attempt;
      // A failed attempt is not cached: the engine may come up later.
      attempt.catch(() => {
        if (this.dockerPromise === attempt) this.dockerPromise = undefined;
      });
    }
    return this.dockerPromise;
  }

  /** Kills and removes a container in the background; `dispose()` waits for it. */
  discard(sandbox: Sandbox, phase: DockerRuntimePhase = 'execution'): Promise<void> {
    const removal = sandbox
      .destroy((err) => this.report(new DockerRuntimeError('SANDBOX_CRASHED', phase, `could not remove container ${sandbox.id.slice(0, 12)}: ${err.message}`, { cause: err })))
      .finally(() => {
        this.removals.delete(removal);
        this.releaseSlot();
      });
    this.removals.add(removal);
    return removal;
  }

  /** The container spec for a job with the given heap. */
  specFor(heapMb: number): SandboxSpec {
    const o = this.options;
    return { image: o.image, heapMb, cpus: o.cpus, pidsLimit: o.pidsLimit, runtime: o.runtime, tmpfsMb: o.tmpfsMb, fsizeMb: o.fsizeMb, nofile: o.nofile };
  }

  /**
   * A started container for `spec`: a warm one when the pool has it, else a new one. The pool
   * follows the last requested heap size, so a steady workload always hits warm containers.
   */
  async acquire(spec: SandboxSpec): Promise<Sandbox> {
    const docker = await this.connect();
    if (spec.heapMb !== this.poolHeapMb) {
      this.poolHeapMb = spec.heapMb;
      for (const s of this.idle.splice(0)) {
        if (sameSpec(s.spec, spec) && !s.exited) this.idle.push(s);
        else this.discard(s, 'refill');
      }
    }
    for (;;) {
      const sandbox = this.idle.shift();
      if (sandbox) {
        if (sandbox.exited) {
          this.discard(sandbox, 'refill');
          continue;
        }
        this.refillSoon();
        return sandbox;
      }
      // A warm container already on its way is sooner than a cold one started now (which would
      // also compete with it for the CPU), unless other jobs already wait for every one of them.
      if (this.disposed || this.starting <= this.poolWaiters || !sameSpec(spec, this.specFor(this.poolHeapMb))) break;
      this.poolWaiters++;
      try {
        await new Promise<void>((resolve) => this.refillWaiters.push(resolve));
      } finally {
        this.poolWaiters--;
      }
    }
    await this.acquireSlot();
    let sandbox: Sandbox;
    this.coldStarting++;
    try {
      sandbox = await Sandbox.create(docker, spec, this.labels);
    } catch (err) {
      this.releaseSlot();
      const pool = this.lastPoolError ? ` (the warm pool also failed: ${this.lastPoolError.message})` : '';
      throw new DockerRuntimeError('RUNTIME_UNAVAILABLE', 'execution', `could not start a sandbox container from ${spec.image}: ${describe(err)}${pool}`, { cause: err });
    } finally {
      this.coldStarting--;
    }
    this.refillSoon();
    return sandbox;
  }

  /**
   * Starting a container costs the engine a few hundred milliseconds of CPU; on a small machine
   * that would slow the execution that just took a warm one. So the refill starts when that
   * execution ends, or after {@link REFILL_DELAY_MS} if it runs longer.
   */
  refillSoon(): void {
    if (this.refillTimer || this.disposed) return;
    this.refillTimer = setTimeout(() => {
      this.refillTimer = undefined;
      this.refill();
    }, REFILL_DELAY_MS);
    this.refillTimer.unref();
  }

  /** Called when an execution ends: a deferred refill can start now. */
  executionEnded(): void {
    if (this.refillTimer) {
      clearTimeout(this.refillTimer);
      this.refillTimer = undefined;
    }
    this.refill();
  }

  /** Reports a runtime error without throwing; a throwing handler must not break the pool. */
  report(error: DockerRuntimeError): void {
    try {
      this.onError(error);
    } catch {
      // The handler's own failure has nowhere better to go.
    }
  }

  private async connectOnce(): Promise<Dockerode> {
    let DockerCtor: typeof Dockerode;
    try {
      DockerCtor = (await import('dockerode')).default;
    } catch (err) {
      throw new DockerRuntimeError('RUNTIME_UNAVAILABLE', 'startup', `the Docker runtime needs the 'dockerode' package: npm install dockerode (${describe(err)})`, { cause: err });
    }
    const docker = new DockerCtor(this.options.docker);
    const where = this.options.docker?.host ?? this.options.docker?.socketPath ?? process.env.DOCKER_HOST ?? '/var/run/docker.sock';
    try {
      await withTimeout(docker.ping(), DEFAULT_CONNECT_TIMEOUT_MS, `no answer within ${DEFAULT_CONNECT_TIMEOUT_MS} ms`);
    } catch (err) {
      throw new DockerRuntimeError(
        'RUNTIME_UNAVAILABLE',
        'startup',
        `Docker is not reachable at ${where} (${describe(err)}). Start the engine (\`sudo systemctl start docker\`, or \`sudo dockerd &\`, or \`sudo bash .ci/docker-setup.sh\` in a toolexec checkout), or point DOCKER_HOST at a running one.`,
        { cause: err },
      );
    }
    try {
      await docker.getImage(this.options.image).inspect();
    } catch (err) {
      const missing = (err as { statusCode?: number }).statusCode === 404;
      throw new DockerRuntimeError(
        'RUNTIME_UNAVAILABLE',
        'startup',
        missing
          ? `the sandbox image ${this.options.image} is not present. Build it offline with \`npm run sandbox:build\` (or \`docker build -f sandbox-image/Dockerfile.node -t ${this.options.image} .\` where a registry is reachable).`
          : `could not inspect the sandbox image ${this.options.image}: ${describe(err)}`,
        { cause: err },
      );
    }
    if (this.options.runtime === 'runsc') {
      const info = (await docker.info()) as { Runtimes?: Record<string, unknown> };
      if (!info.Runtimes || !('runsc' in info.Runtimes)) {
        throw new DockerRuntimeError(
          'RUNTIME_UNAVAILABLE',
          'startup',
          `the gVisor runtime 'runsc' is not registered with Docker (known: ${Object.keys(info.Runtimes ?? {}).join(', ') || 'none'}). Install runsc and register it in /etc/docker/daemon.json with "runtimeArgs": ["--network=none"] (\`.ci/docker-setup.sh\` does both).`,
        );
      }
    }
    await this.removeStale(docker);
    return docker;
  }

  // Containers whose owning process (on this host) is gone were left by a killed host process.
  private async removeStale(docker: Dockerode): Promise<void> {
    let list: Dockerode.ContainerInfo[];
    try {
      list = await docker.listContainers({ all: true, filters: { label: [`${SANDBOX_LABEL}=1`] } });
    } catch (err) {
      this.report(new DockerRuntimeError('SANDBOX_CRASHED', 'cleanup', `could not list stale sandbox containers: ${describe(err)}`, { cause: err }));
      return;
    }
    const host = os.hostname();
    const stale = list.filter((c) => {
      const pid = Number(c.Labels?.[OWNER_PID_LABEL]);
      if (c.Labels?.[OWNER_HOST_LABEL] !== host) return false;
      return !Number.isInteger(pid) || pid <= 0 || !pidAlive(pid);
    });
    await Promise.all(
      stale.map((c) =>
        docker
          .getContainer(c.Id)
          .remove({ force: true })
          .catch((err: Error & { statusCode?: number }) => {
            if (err.statusCode === 404 || err.statusCode === 409) return;
            this.report(new DockerRuntimeError('SANDBOX_CRASHED', 'cleanup', `could not remove stale container ${c.Id.slice(0, 12)}: ${describe(err)}`, { cause: err }));
          }),
      ),
    );
  }

  // Fills the pool one container at a time: on two cores, parallel starts only slow each other
  // and the executions in flight. A failure stops the refill (no hot loop) until the next take.
  private refill(): void {
    if (this.refilling || this.disposed || !this.poolActive) return;
    this.refilling = true;
    // Waiters are woken only when something changed; waking them on a refill that could not
    // even start (pool at maxSize) would spin warm() in a loop of microtasks.
    let progressed = false;
    void (async () => {
      try {
        const docker = await this.connect();
        while (!this.disposed && this.idle.length + this.starting < this.options.pool.size && this.alive < this.options.pool.maxSize && this.slotWaiters.length === 0) {
          const spec = this.specFor(this.poolHeapMb);
          this.starting++;
          this.alive++;
          let sandbox: Sandbox;
          progressed = true;
          try {
            sandbox = await Sandbox.create(docker, spec, this.labels);
          } catch (err) {
            this.alive--;
            this.lastPoolError = new DockerRuntimeError('RUNTIME_UNAVAILABLE', 'refill', `the warm pool could not start a container from ${spec.image}: ${describe(err)}`, { cause: err });
            this.report(this.lastPoolError);
            this.wakeSlotWaiter();
            break;
          } finally {
            this.starting--;
          }
          if (this.disposed || !sameSpec(spec, this.specFor(this.poolHeapMb))) {
            this.discard(sandbox, 'refill');
            continue;
          }
          this.lastPoolError = undefined;
          this.idle.push(sandbox);
          this.watchIdle(sandbox);
          this.wakeRefillWaiters();
        }
      } catch (err) {
        progressed = true;
        this.lastPoolError = err instanceof DockerRuntimeError ? err : new DockerRuntimeError('RUNTIME_UNAVAILABLE', 'refill', describe(err), { cause: err });
        this.report(this.lastPoolError);
      } finally {
        this.refilling = false;
        if (progressed || this.disposed) this.wakeRefillWaiters();
      }
    })();
  }

  // A warm container that dies while waiting (killed from outside, agent crash) is reported and
  // replaced, never handed to a job.
  private watchIdle(sandbox: Sandbox): void {
    sandbox.listen((event: SandboxEvent) => {
      const at = this.idle.indexOf(sandbox);
      if (at === -1) return;
      this.idle.splice(at, 1);
      const what = event.kind === 'exit' ? `exited while idle${sandbox.stderr ? `: ${sandbox.stderr.trim().slice(-300)}` : ''}` : `wrote unexpected output while idle (${event.kind})`;
      this.report(new DockerRuntimeError('SANDBOX_CRASHED', 'refill', `warm container ${sandbox.id.slice(0, 12)} ${what}`));
      this.discard(sandbox, 'refill');
      this.refill();
    });
  }

  private acquireSlot(): Promise<void> {
    if (this.disposed) return Promise.reject(new Error('the Docker runtime was disposed'));
    if (this.alive < this.options.pool.maxSize) {
      this.alive++;
      return Promise.resolve();
    }
    // Over the limit: a warm container may be the one to give way for a job that waits.
    const spare = this.idle.shift();
    if (spare) this.discard(spare, 'refill');
    return new Promise((resolve, reject) => this.slotWaiters.push({ resolve, reject }));
  }

  private releaseSlot(): void {
    this.alive--;
    this.wakeSlotWaiter();
  }

  private wakeSlotWaiter(): void {
    if (this.alive < this.options.pool.maxSize) {
      const waiter = this.slotWaiters.shift();
      if (waiter) {
        this.alive++;
        waiter.resolve();
      } else if (!this.disposed) {
        this.refill();
      }
    }
  }

  private wakeRefillWaiters(): void {
    for (const wake of this.refillWaiters.splice(0)) wake();
  }

  private async drainRemovals(): Promise<void> {
    while (this.removals.size > 0) await Promise.all([...this.removals]);
  }
}

function sameSpec(a: SandboxSpec, b: SandboxSpec): boolean {
  return (
    a.image === b.image &&
    a.heapMb === b.heapMb &&
    a.cpus === b.cpus &&
    a.pidsLimit === b.pidsLimit &&
    a.runtime === b.runtime &&
    a.tmpfsMb === b.tmpfsMb &&
    a.fsizeMb === b.fsizeMb &&
    a.nofile === b.nofile
  );
}

/** The host end of one execution in one container. */
class DockerSession implements RuntimeSession {
  readonly done: Promise<RuntimeOutcome>;
  private resolveDone!: (outcome: RuntimeOutcome) => void;
  private sandbox?: Sandbox;
  private finished = false;
  private queued: string[] = [];
  private timer?: NodeJS.Timeout;
  private readonly startedAt = performance.now();
  private agentStats: { cpuMs?: number; memoryBytes?: number } = {};
  private readonly onAbort = () =>
    this.finish({ code: 'CANCELLED', message: `the execution was cancelled${this.job.signal?.reason ? `: ${describe(this.job.signal.reason)}` : ''}` });

  constructor(
    private readonly runtime: DockerRuntime,
    private readonly job: RuntimeJob,
    private readonly onMessage: (message: string) => void,
  ) {
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    const { timeoutMs } = job.limits;
    if (job.signal?.aborted) {
      this.onAbort();
      return;
    }
    job.signal?.addEventListener('abort', this.onAbort, { once: true });
    if (Number.isFinite(timeoutMs) && timeoutMs > 0) {
      this.timer = setTimeout(() => this.finish({ code: 'TIMEOUT', message: `the execution exceeded its timeout of ${timeoutMs} ms` }), timeoutMs);
    }
    void this.begin();
  }

  send(message: string): void {
    if (this.finished) return;
    const line = JSON.stringify(String(message));
    if (this.sandbox) this.sandbox.writeLine(line);
    else this.queued.push(line);
  }

  terminate(failure: RuntimeFailure): void {
    this.finish(failure);
  }

  private async begin(): Promise<void> {
    const heapMb = positiveOr(this.job.limits.memoryMb, this.runtime.options.memoryMb);
    let sandbox: Sandbox;
    try {
      sandbox = await this.runtime.acquire(this.runtime.specFor(heapMb));
    } catch (err) {
      const code = err instanceof DockerRuntimeError ? err.code : 'RUNTIME_UNAVAILABLE';
      this.finish({ code, message: describe(err) });
      return;
    }
    if (this.finished) {
      this.runtime.discard(sandbox);
      return;
    }
    this.sandbox = sandbox;
    const max = this.job.limits.maxOutputBytes;
    // The executor counts payload bytes exactly; this cap counts whole encoded lines and only
    // guards host memory against a flood that bypasses the agent.
    sandbox.wireCap = Number.isFinite(max) && max > 0 ? Math.max(max * 4, max + 1024 * 1024) : 64 * 1024 * 1024;
    sandbox.listen((event) => this.onEvent(event));
    if (this.finished) return;
    const { prelude, code, filename, lineOffset, limits } = this.job;
    // The leading newline separates the job from anything stray the attach may have left on stdin.
    sandbox.writeLine('\n' + JSON.stringify({ prelude, code, filename, lineOffset, limits }));
    for (const line of this.queued.splice(0)) sandbox.writeLine(line);
  }

  private onEvent(event: SandboxEvent): void {
    if (this.finished) return;
    switch (event.kind) {
      case 'message': {
        const isDone = event.message.includes('"done"') && isDoneMessage(event.message);
        try {
          this.onMessage(event.message);
        } catch (err) {
          this.runtime.report(new DockerRuntimeError('SANDBOX_CRASHED', 'execution', `the bridge message handler threw: ${describe(err)}`, { cause: err }));
        }
        if (isDone) this.finish(undefined);
        return;
      }
      case 'control': {
        const c = event.control;
        if (c.t === 'stats') {
          this.agentStats = {
            ...(typeof c.cpuMs === 'number' ? { cpuMs: c.cpuMs } : {}),
            ...(typeof c.memoryBytes === 'number' ? { memoryBytes: c.memoryBytes } : {}),
          };
        } else if (c.t === 'fail') {
          const code = typeof c.code === 'string' && FAILURE_CODES.has(c.code as RuntimeErrorCode) ? (c.code as RuntimeErrorCode) : 'SANDBOX_CRASHED';
          this.finish({
            code,
            message: typeof c.message === 'string' ? c.message.slice(0, 10_000) : 'the sandbox reported a failure',
            ...(Number.isInteger(c.line) ? { line: c.line as number } : {}),
            ...(Number.isInteger(c.column) ? { column: c.column as number } : {}),
            ...(typeof c.stack === 'string' ? { stack: c.stack.slice(0, 20_000) } : {}),
          });
        }
        return;
      }
      case 'violation':
        this.finish(
          /exceeded/.test(event.reason)
            ? { code: 'OUTPUT_LIMIT', message: `the sandbox ${event.reason} (maxOutputBytes ${this.job.limits.maxOutputBytes})` }
            : { code: 'SANDBOX_CRASHED', message: event.reason },
        );
        return;
      case 'exit':
        void this.classifyExit();
        return;
    }
  }

  private async classifyExit(): Promise<void> {
    const sandbox = this.sandbox!;
    const exit = await sandbox.inspectExit();
    if (this.finished) return;
    const stderr = sandbox.stderr.trim();
    const heapOom = /heap out of memory|Reached heap limit|allocation failed/i.test(stderr);
    if (exit.oomKilled || heapOom || exit.exitCode === 137) {
      this.finish({
        code: 'MEMORY_LIMIT',
        message: `the script exceeded its memory limit of ${sandbox.spec.heapMb} MB (${exit.oomKilled ? 'the container was killed by the OOM killer' : heapOom ? 'the guest heap is exhausted' : 'the container was killed'})`,
      });
      return;
    }
    const tail = stderr ? `: ${stderr.slice(-500)}` : '';
    this.finish({
      code: 'SANDBOX_CRASHED',
      message: `the sandbox exited${exit.exitCode !== undefined ? ` with code ${exit.exitCode}` : ''} before the script finished${exit.error ? ` (${exit.error})` : ''}${tail}`,
    });
  }

  private finish(failure: RuntimeFailure | undefined): void {
    if (this.finished) return;
    this.finished = true;
    clearTimeout(this.timer);
    this.job.signal?.removeEventListener('abort', this.onAbort);
    const outcome: RuntimeOutcome = {
      ...(failure ? { failure } : {}),
      stats: { durationMs: performance.now() - this.startedAt, ...this.agentStats },
      enforced: { timeoutMs: true, memoryMb: true, cpuMs: false },
    };
    const sandbox = this.sandbox;
    if (!sandbox) {
      this.resolveDone(outcome);
      return;
    }
    const removal = this.runtime.discard(sandbox);
    this.runtime.executionEnded();
    // A guest that finished by itself has its agent exiting already; a killed one is waited
    // for, so that nothing it started outlives the failure the caller sees.
    if (failure) void removal.then(() => this.resolveDone(outcome));
    else this.resolveDone(outcome);
  }
}

function isDoneMessage(message: string): boolean {
  try {
    return (JSON.parse(message) as { op?: unknown } | null)?.op === 'done';
  } catch {
    return false;
  }
}

function positiveOr(value: number | undefined, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? Math.ceil(value) : fallback;
}

/** Creates a {@link DockerRuntime}; the executor loads runtimes by name through this factory. */
export function createDockerRuntime(options: DockerRuntimeOptions = {}): DockerRuntime {
  return new DockerRuntime(options);
}
