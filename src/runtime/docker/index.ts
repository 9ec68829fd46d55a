/**
 * The Docker runtime: every execution runs in its own hardened container, taken from a warm pool
 * and removed afterwards (never reused), optionally under gVisor. The far side is
 * `runtimes/docker/agent.js`, baked into the image (`npm run sandbox:build`); the lifecycle is the
 * shared supervisor's. dockerode is imported lazily, on the first connection, so loading this
 * module (or the package root) loads no dockerode.
 */
import os from 'node:os';
import { createHash, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type Dockerode from 'dockerode';
import { Supervisor } from '../supervisor.js';
import { guestPath, loadPrelude } from '../guest.js';
import { checkRuntimeOptions, poolOptionsOf } from '../options.js';
import type { PoolOptions, RuntimeDriver, RuntimeErrorCode, RuntimeJob } from '../types.js';
import { EXPIRES_LABEL, OWNER_HOST_LABEL, OWNER_PID_LABEL, RUNTIME_ID_LABEL, SANDBOX_LABEL, type SandboxSpec } from './container.js';
import { DockerWorker, type DockerWorkerContext } from './worker.js';

export { SANDBOX_LABEL, RUNTIME_ID_LABEL, OWNER_PID_LABEL, OWNER_HOST_LABEL, EXPIRES_LABEL, NODE_OVERHEAD_MB, containerOptions } from './container.js';
export type { SandboxSpec } from './container.js';

const packageVersion = (createRequire(import.meta.url)('../../../package.json') as { version: string }).version;

/** The agent's content hash; an image carries it as a label, so a stale image is caught at start-up. */
export const AGENT_HASH = createHash('sha256').update(readFileSync(guestPath('docker/agent.js'))).digest('hex').slice(0, 12);
/** Label on the image holding {@link AGENT_HASH} of the agent it was built with. */
export const AGENT_LABEL = 'toolexec.agent';
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
/** How long start-up may wait for the engine to answer a ping. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
/** How often a connected runtime removes expired containers, whoever left them. */
export const SWEEP_INTERVAL_MS = 60_000;

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

/** Options of {@link DockerRuntime}; all optional. */
export interface DockerRuntimeOptions extends PoolOptions {
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
  /** How long a warm container may wait for a job (default {@link DEFAULT_IDLE_TTL_MS}). */
  idleTtlMs?: number;
  /** The longest job a container may run (default {@link DEFAULT_MAX_TIMEOUT_MS}); a job asking for more gets this. */
  maxTimeoutMs?: number;
  /** How to reach the engine (dockerode options); default: DOCKER_HOST or the local socket. */
  docker?: Dockerode.DockerOptions;
  /** Receives clean-up, refill and shutdown errors no execution sees; default: `process.emitWarning`. */
  onError?: (error: DockerRuntimeError) => void;
  /** The guest prelude (default: toolexec's own, `runtimes/prelude.js`). */
  prelude?: string;
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
  idleTtlMs: number;
  maxTimeoutMs: number;
  docker?: Dockerode.DockerOptions;
}

const OWN_OPTIONS = ['image', 'memoryMb', 'cpus', 'pidsLimit', 'runtime', 'tmpfsMb', 'fsizeMb', 'nofile', 'idleTtlMs', 'maxTimeoutMs', 'docker', 'onError', 'prelude'] as const;

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

/**
 * Runs each job in a fresh, hardened, single-use container. See {@link DockerRuntimeOptions}.
 *
 * ```ts
 * await using runtime = new DockerRuntime({ minIdle: 2 });
 * await runtime.warm();
 * ```
 */
export class DockerRuntime extends Supervisor {
  readonly options: ResolvedDockerRuntimeOptions;
  /** Identifies this instance's containers (label {@link RUNTIME_ID_LABEL}). */
  readonly id: string;
  private readonly engine: DockerEngine;

  constructor(options: DockerRuntimeOptions = {}) {
    const resolved = resolveOptions(options);
    const id = randomUUID();
    const engine = new DockerEngine(resolved, id, options.prelude ?? loadPrelude(), options.onError);
    const pool = poolOptionsOf(options);
    if (pool.maxJobsPerWorker !== undefined && pool.maxJobsPerWorker !== 1) {
      throw new TypeError('docker runtime: containers are single use; maxJobsPerWorker can only be 1');
    }
    const minIdle = pool.minIdle ?? 2;
    super(engine, {
      onWarning: (error) =>
        engine.emit(error instanceof DockerRuntimeError ? error : new DockerRuntimeError('SANDBOX_CRASHED', 'refill', error.message, { cause: error })),
      minIdle,
      maxWorkers: Math.max(minIdle * 2, minIdle + 4),
      graceMs: 100,
      // Creating and starting a container on a busy engine takes seconds, not milliseconds.
      startTimeoutMs: 60_000,
      refillDelayMs: REFILL_DELAY_MS,
      ...pool,
      maxJobsPerWorker: 1,
    });
    this.options = resolved;
    this.id = id;
    this.engine = engine;
  }

  /** The dockerode client, connected and checked (engine, image, runtime), stale containers gone. */
  connect(): Promise<Dockerode> {
    return this.engine.client();
  }

  override async dispose(): Promise<void> {
    this.engine.close();
    await super.dispose();
  }
}

/** The driver: one Docker engine, its checks, its clean-up. */
class DockerEngine implements RuntimeDriver, DockerWorkerContext {
  readonly name = 'docker';
  readonly enforces = { memoryMb: true, cpuMs: false };
  readonly trustsFarSide = false;
  readonly labels: Record<string, string>;
  private connecting: Promise<Dockerode> | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly options: ResolvedDockerRuntimeOptions,
    id: string,
    readonly prelude: string,
    private readonly onError: ((error: DockerRuntimeError) => void) | undefined,
  ) {
    this.labels = { [RUNTIME_ID_LABEL]: id };
  }

  shapeOf(job: RuntimeJob): string {
    const heap = job.limits.memoryMb;
    return String(typeof heap === 'number' && Number.isFinite(heap) && heap > 0 ? Math.ceil(heap) : this.options.memoryMb);
  }

  createWorker(shape: string, events: Parameters<RuntimeDriver['createWorker']>[1]): DockerWorker {
    const o = this.options;
    const spec: SandboxSpec = {
      image: o.image,
      heapMb: Number(shape) || o.memoryMb,
      cpus: o.cpus,
      pidsLimit: o.pidsLimit,
      runtime: o.runtime,
      tmpfsMb: o.tmpfsMb,
      fsizeMb: o.fsizeMb,
      nofile: o.nofile,
      idleTtlMs: o.idleTtlMs,
      maxTimeoutMs: o.maxTimeoutMs,
    };
    return new DockerWorker(this, spec, events);
  }

  async connect(): Promise<void> {
    await this.client();
  }

  docker(): Promise<Dockerode> {
    return this.client();
  }

  client(): Promise<Dockerode> {
    if (!this.connecting) {
      const attempt = this.connectOnce();
      this.connecting = attempt;
      // A failed attempt is not kept: the engine may come up later.
      attempt.catch(() => {
        if (this.connecting === attempt) this.connecting = undefined;
      });
    }
    return this.connecting;
  }

  close(): void {
    this.closed = true;
    clearInterval(this.sweepTimer);
  }

  startError(message: string, cause: unknown): Error {
    return new DockerRuntimeError('RUNTIME_UNAVAILABLE', 'refill', message, { cause });
  }

  report(phase: DockerRuntimePhase, message: string, cause?: unknown): void {
    this.emit(new DockerRuntimeError(phase === 'cleanup' ? 'SANDBOX_CRASHED' : 'RUNTIME_UNAVAILABLE', phase, message, { cause }));
  }

  /** Hands an error no execution sees to `onError` (default: a process warning). */
  emit(error: DockerRuntimeError): void {
    try {
      if (this.onError) this.onError(error);
      else process.emitWarning(error.message, { type: 'DockerRuntimeWarning', code: error.code });
    } catch {
      // The handler's own failure has nowhere better to go.
    }
  }

  private where(): string {
    return this.options.docker?.host ?? this.options.docker?.socketPath ?? process.env.DOCKER_HOST ?? '/var/run/docker.sock';
  }

  private async connectOnce(): Promise<Dockerode> {
    let DockerCtor: typeof Dockerode;
    try {
      DockerCtor = (await import('dockerode')).default;
    } catch (err) {
      throw new DockerRuntimeError('RUNTIME_UNAVAILABLE', 'startup', `the Docker runtime needs the 'dockerode' package: npm install dockerode (${describe(err)})`, { cause: err });
    }
    const docker = new DockerCtor(this.options.docker);
    try {
      await withTimeout(docker.ping(), DEFAULT_CONNECT_TIMEOUT_MS, `no answer within ${DEFAULT_CONNECT_TIMEOUT_MS} ms`);
    } catch (err) {
      throw new DockerRuntimeError(
        'RUNTIME_UNAVAILABLE',
        'startup',
        `Docker is not reachable at ${this.where()} (${describe(err)}). Start the engine (\`sudo systemctl start docker\`, or \`sudo dockerd &\`, or \`sudo bash .ci/docker-setup.sh\` in a toolexec checkout), or point DOCKER_HOST at a running one.`,
        { cause: err },
      );
    }
    let image: { Config?: { Labels?: Record<string, string> | null } };
    try {
      image = (await docker.getImage(this.options.image).inspect()) as typeof image;
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
    const built = image.Config?.Labels?.[AGENT_LABEL];
    if (built !== undefined && built !== AGENT_HASH) {
      throw new DockerRuntimeError(
        'RUNTIME_UNAVAILABLE',
        'startup',
        `the sandbox image ${this.options.image} holds another version of the guest agent (${built}, this toolexec has ${AGENT_HASH}); rebuild it with \`npm run sandbox:build\`.`,
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
    if (!this.closed && !this.sweepTimer) {
      this.sweepTimer = setInterval(() => void this.removeStale(docker), SWEEP_INTERVAL_MS);
      this.sweepTimer.unref();
    }
    return docker;
  }

  /**
   * Removes what dead owners left: containers past their expiry label, whoever made them (a host
   * that died anywhere), and containers of this host whose owning process is gone.
   */
  private async removeStale(docker: Dockerode): Promise<void> {
    let list: Dockerode.ContainerInfo[];
    try {
      list = await docker.listContainers({ all: true, filters: { label: [`${SANDBOX_LABEL}=1`] } });
    } catch (err) {
      this.report('cleanup', `could not list stale sandbox containers: ${describe(err)}`, err);
      return;
    }
    const host = os.hostname();
    const now = Date.now();
    const stale = list.filter((c) => {
      const labels = c.Labels ?? {};
      const expires = Number(labels[EXPIRES_LABEL]);
      if (Number.isFinite(expires) && expires < now) return true;
      if (labels[OWNER_HOST_LABEL] !== host) return false;
      const pid = Number(labels[OWNER_PID_LABEL]);
      return !Number.isInteger(pid) || pid <= 0 || !pidAlive(pid);
    });
    await Promise.all(
      stale.map((c) =>
        docker
          .getContainer(c.Id)
          .remove({ force: true })
          .catch((err: Error & { statusCode?: number }) => {
            if (err.statusCode === 404 || err.statusCode === 409) return;
            this.report('cleanup', `could not remove stale container ${c.Id.slice(0, 12)}: ${describe(err)}`, err);
          }),
      ),
    );
  }
}

/** Creates the Docker runtime (the loader in `src/runtime/load.ts` calls this by name). */
export function createRuntime(options: DockerRuntimeOptions = {}): DockerRuntime {
  return new DockerRuntime(options);
}

/** The same as {@link createRuntime}, by its older name. */
export const createDockerRuntime = createRuntime;
