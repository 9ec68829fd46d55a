/**
 * One Docker engine as the runtime sees it: the supervisor's driver for that engine's warm pool
 * (connect, image and runtime checks, containers), its clean-up of what dead owners left, and its
 * health, a small circuit breaker:
 *
 * - **up**: in rotation. Every call to the engine is watched (dockerode's one `dial` function):
 *   a transport failure (refused, reset, TLS, unreachable) or a 5xx answer ejects it at once, and
 *   so does a failed health ping (every `healthIntervalMs`, bounded by `connectTimeoutMs`).
 *   Failing fast is exactly what makes a dead engine look idle to a "least busy" picker, so
 *   nothing about placement may depend on an engine's failures being slow.
 * - **down**: out of rotation; nothing new is sent to it (container starts are refused here, before
 *   any request). It is pinged again after a backoff that doubles with every failed try
 *   (0.5 s, 1 s, 2 s ... 30 s); after a successful ping and the start-up checks, what this
 *   runtime left there is removed and it is back in rotation.
 *
 * 4xx answers are the request's fault (a CPU quota the host cannot give), not the engine's.
 */
import os from 'node:os';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type Dockerode from 'dockerode';
import { guestPath } from '../guest.js';
import type { RuntimeDriver, RuntimeErrorCode, RuntimeJob, WorkerEvents } from '../types.js';
import { EXPIRES_LABEL, OWNER_HOST_LABEL, OWNER_PID_LABEL, RUNTIME_ID_LABEL, SANDBOX_LABEL, type SandboxSpec } from './container.js';
import type { OciRuntime, ResolvedEngine } from './engines.js';
import { DockerWorker, type DockerWorkerContext } from './worker.js';

/** The agent's content hash; an image carries it as a label, so a stale image is caught at start-up. */
export const AGENT_HASH = createHash('sha256').update(readFileSync(guestPath('docker/agent.js'))).digest('hex').slice(0, 12);
/** Label on the image holding {@link AGENT_HASH} of the agent it was built with. */
export const AGENT_LABEL = 'toolexec.agent';
/** How often a connected runtime removes expired containers, whoever left them. */
export const SWEEP_INTERVAL_MS = 60_000;
/** First wait before an ejected engine is pinged again; it doubles with every failed try. */
export const BACKOFF_BASE_MS = 500;
/** Longest wait between two tries of an ejected engine. */
export const BACKOFF_MAX_MS = 30_000;
/** An engine in rotation this long without a failure starts its next backoff from the base again. */
const STABLE_MS = 60_000;

/** Where a reported runtime error happened. */
export type DockerRuntimePhase = 'startup' | 'cleanup' | 'refill' | 'execution' | 'shutdown' | 'health';

/** An error of the Docker runtime itself (engine, pool, clean-up), with a stable code. */
export class DockerRuntimeError extends Error {
  override readonly name = 'DockerRuntimeError';
  constructor(
    readonly code: RuntimeErrorCode,
    readonly phase: DockerRuntimePhase,
    message: string,
    options?: { cause?: unknown; engine?: string },
  ) {
    super(message, options);
    this.engine = options?.engine;
  }
  /** The engine it concerns, by name, when the runtime has a list of engines. */
  readonly engine: string | undefined;
}

/** The health of one engine. */
export type EngineState = 'new' | 'connecting' | 'up' | 'down';

/** What an engine needs of the runtime's resolved options. */
export interface EngineSettings {
  image: string;
  memoryMb: number;
  cpus: number;
  pidsLimit: number;
  runtime: OciRuntime;
  tmpfsMb: number;
  fsizeMb: number;
  nofile: number;
  idleTtlMs: number;
  maxTimeoutMs: number;
  connectTimeoutMs: number;
  healthIntervalMs: number;
}

/** How an engine talks back to its runtime. */
export interface EngineHooks {
  /** A problem no execution sees (onError, or a process warning). */
  emit(error: DockerRuntimeError): void;
  /** The engine's state changed. */
  changed(engine: DockerEngine): void;
  /** Ids of the containers this runtime's workers hold on the engine now. */
  liveIds(): Set<string>;
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

const TLS_FAILURE = /certificate|ssl|tls|eproto|self.signed|unable to verify|handshake|alert/i;

/** The driver of one engine's pool, and that engine's health. */
export class DockerEngine implements RuntimeDriver, DockerWorkerContext {
  readonly name = 'docker';
  readonly enforces = { memoryMb: true, cpuMs: false };
  readonly trustsFarSide = false;
  readonly labels: Record<string, string>;
  private stateValue: EngineState = 'new';
  private sinceValue = Date.now();
  private lastErrorValue: DockerRuntimeError | undefined;
  /** Failed tries in a row (ejections and failed probes), for the backoff. */
  private failures = 0;
  private upSince = 0;
  private everUp = false;
  private nextCheck = 0;
  private misconfiguredValue = false;
  private ejectionCount = 0;
  private clientPromise: Promise<Dockerode> | undefined;
  private client: Dockerode | undefined;
  private attempt: Promise<void> | undefined;
  private probeTimer: NodeJS.Timeout | undefined;
  private healthTimer: NodeJS.Timeout | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private pinging = false;
  private closed = false;

  constructor(
    readonly spec: ResolvedEngine,
    private readonly settings: EngineSettings,
    private readonly runtimeId: string,
    readonly prelude: string,
    private readonly hooks: EngineHooks,
  ) {
    this.labels = { [RUNTIME_ID_LABEL]: runtimeId };
  }

  /** In rotation, connecting, out of rotation, or never tried. */
  get state(): EngineState {
    return this.stateValue;
  }

  /** When the state last changed (epoch ms). */
  get since(): number {
    return this.sinceValue;
  }

  /** Why the engine is out of rotation (the last failure). */
  get lastError(): DockerRuntimeError | undefined {
    return this.lastErrorValue;
  }

  /** When an ejected engine is tried next (epoch ms). */
  get nextCheckAt(): number | undefined {
    return this.stateValue === 'down' && !this.closed ? this.nextCheck : undefined;
  }

  /** Whether the engine answered but failed the checks (image, agent, runtime): a deployment mistake. */
  get misconfigured(): boolean {
    return this.stateValue === 'down' && this.misconfiguredValue;
  }

  /** How often it was taken out of rotation. */
  get ejections(): number {
    return this.ejectionCount;
  }

  /** The OCI runtime its sandboxes run with. */
  get ociRuntime(): OciRuntime {
    return this.spec.runtime ?? this.settings.runtime;
  }

  /** `Docker engine "b" (tcp://10.0.0.2:2376)`, or `Docker at /var/run/docker.sock` for the implicit one. */
  get title(): string {
    return this.spec.implicit ? `Docker at ${this.spec.where}` : `Docker engine ${JSON.stringify(this.spec.name)} (${this.spec.where})`;
  }

  // ---- RuntimeDriver ----

  shapeOf(job: RuntimeJob): string {
    const heap = job.limits.memoryMb;
    return String(typeof heap === 'number' && Number.isFinite(heap) && heap > 0 ? Math.ceil(heap) : this.settings.memoryMb);
  }

  createWorker(shape: string, events: WorkerEvents): DockerWorker {
    const o = this.settings;
    const spec: SandboxSpec = {
      image: o.image,
      heapMb: Number(shape) || o.memoryMb,
      cpus: o.cpus,
      pidsLimit: o.pidsLimit,
      runtime: this.ociRuntime,
      tmpfsMb: o.tmpfsMb,
      fsizeMb: o.fsizeMb,
      nofile: o.nofile,
      idleTtlMs: o.idleTtlMs,
      maxTimeoutMs: o.maxTimeoutMs,
    };
    return new DockerWorker(this, spec, events);
  }

  /** For the supervisor: resolves once the engine is in rotation; rejects at once while it is out. */
  async connect(): Promise<void> {
    if (this.stateValue === 'up') return;
    if (this.stateValue === 'down') throw this.unavailable();
    await this.tryNow();
  }

  // ---- DockerWorkerContext ----

  /** The client, only while the engine is in rotation: nothing new is sent to an ejected engine. */
  docker(): Promise<Dockerode> {
    if (this.stateValue === 'up' && this.client) return Promise.resolve(this.client);
    return Promise.reject(this.unavailable());
  }

  startError(message: string, cause: unknown): Error {
    return new DockerRuntimeError('RUNTIME_UNAVAILABLE', 'refill', this.spec.implicit ? message : `${this.title}: ${message}`, { cause, ...this.tag() });
  }

  report(phase: DockerRuntimePhase, message: string, cause?: unknown): void {
    this.hooks.emit(new DockerRuntimeError(phase === 'cleanup' ? 'SANDBOX_CRASHED' : 'RUNTIME_UNAVAILABLE', phase, this.spec.implicit ? message : `${this.title}: ${message}`, { cause, ...this.tag() }));
  }

  // ---- health ----

  /**
   * Tries the engine now (a first connection, or an ejected engine before its backoff is over):
   * ping, checks, clean-up. Resolves once it is in rotation; rejects with why not.
   */
  tryNow(): Promise<void> {
    if (this.closed) return Promise.reject(new DockerRuntimeError('RUNTIME_UNAVAILABLE', 'shutdown', 'The docker runtime has been disposed'));
    if (this.stateValue === 'up') return Promise.resolve();
    if (this.attempt) return this.attempt;
    clearTimeout(this.probeTimer);
    const readmission = this.everUp;
    const first = this.stateValue === 'new';
    this.setState('connecting');
    const attempt = this.connectOnce(readmission).then(
      () => {
        if (this.attempt === attempt) this.attempt = undefined;
        if (this.closed) return;
        this.everUp = true;
        this.upSince = Date.now();
        this.misconfiguredValue = false;
        this.lastErrorValue = undefined;
        this.setState('up');
        this.startTimers();
      },
      (err: unknown) => {
        if (this.attempt === attempt) this.attempt = undefined;
        const error = err instanceof DockerRuntimeError ? err : new DockerRuntimeError('RUNTIME_UNAVAILABLE', 'startup', `${this.title}: ${describe(err)}`, { cause: err, ...this.tag() });
        // A failed first try is reported (it is news), and so is an engine that answers again
        // but cannot run sandboxes (the image went missing); plain failed probes are not.
        const misconfigured = (error as { misconfigured?: boolean }).misconfigured === true;
        this.eject(error, first || (misconfigured && error.message !== this.lastErrorValue?.message));
        throw error;
      },
    );
    this.attempt = attempt;
    return attempt;
  }

  /** Stops the timers; nothing is tried any more. */
  close(): void {
    this.closed = true;
    clearTimeout(this.probeTimer);
    clearInterval(this.healthTimer);
    clearInterval(this.sweepTimer);
  }

  /**
   * After dispose: an engine that was out of rotation may hold containers of this runtime that no
   * worker could remove (they died with the engine). If it answers now, they are removed;
   * bounded by `connectTimeoutMs`, never rejects.
   */
  async finalSweep(): Promise<void> {
    const docker = this.client;
    if (!docker || this.stateValue === 'up' || !this.everUp) return;
    try {
      await withTimeout(docker.ping(), this.settings.connectTimeoutMs, 'no answer');
    } catch {
      return;
    }
    await withTimeout(this.removeStale(docker, true), this.settings.connectTimeoutMs, 'clean-up timed out').catch(() => undefined);
  }

  /** The error a job placed on this engine while it is out of rotation gets. */
  unavailable(): DockerRuntimeError {
    const last = this.lastErrorValue;
    const at = new Date(this.sinceValue).toISOString().slice(11, 19);
    const next = this.nextCheckAt;
    const when = next === undefined ? '' : `; tried again in ${Math.max(0, Math.round((next - Date.now()) / 100) / 10)} s`;
    const message = last
      ? `${last.message} (out of rotation since ${at} UTC${when})`
      : `${this.title} is not in rotation (${this.stateValue})`;
    return new DockerRuntimeError('RUNTIME_UNAVAILABLE', last?.phase ?? 'execution', message, { cause: last, ...this.tag() });
  }

  private tag(): { engine?: string } {
    return this.spec.implicit ? {} : { engine: this.spec.name };
  }

  private setState(state: EngineState): void {
    if (this.stateValue === state) return;
    this.stateValue = state;
    this.sinceValue = Date.now();
    try {
      this.hooks.changed(this);
    } catch {
      // The runtime's listener must not break the engine's bookkeeping.
    }
  }

  /** Out of rotation now; the next try after the backoff. */
  private eject(error: DockerRuntimeError, report: boolean): void {
    if (this.closed) return;
    const wasUp = this.stateValue === 'up';
    if (wasUp) this.ejectionCount++;
    this.lastErrorValue = error;
    this.misconfiguredValue = (error as { misconfigured?: boolean }).misconfigured === true;
    if (wasUp && Date.now() - this.upSince > STABLE_MS) this.failures = 0;
    this.failures++;
    clearInterval(this.healthTimer);
    clearInterval(this.sweepTimer);
    this.healthTimer = undefined;
    this.sweepTimer = undefined;
    const backoff = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (this.failures - 1));
    this.nextCheck = Date.now() + backoff;
    this.setState('down');
    clearTimeout(this.probeTimer);
    this.probeTimer = setTimeout(() => void this.tryNow().catch(() => undefined), backoff);
    this.probeTimer.unref();
    if (wasUp) {
      this.hooks.emit(
        new DockerRuntimeError('RUNTIME_UNAVAILABLE', 'health', `${this.title} is out of rotation: ${error.message}; tried again in ${backoff} ms`, { cause: error, ...this.tag() }),
      );
    } else if (report) {
      this.hooks.emit(error);
    }
  }

  /**
   * A call to the engine failed: eject it if it was in rotation. A 5xx about one container
   * (removing, killing, waiting for, inspecting it: gVisor's teardown can answer 500 while its
   * file system is busy) says nothing about the engine's ability to run the next sandbox.
   */
  private observe(err: unknown, request: unknown): void {
    if (this.closed || this.stateValue !== 'up') return;
    const status = (err as { statusCode?: unknown })?.statusCode;
    if (typeof status === 'number') {
      if (status < 500) return;
      const r = (request ?? {}) as { method?: unknown; path?: unknown };
      const path = typeof r.path === 'string' ? r.path : '';
      if (r.method === 'DELETE' || /\/containers\/[^/]+\/(kill|wait|json)/.test(path)) return;
    }
    this.eject(this.callError(err), false);
  }

  private callError(err: unknown): DockerRuntimeError {
    const status = (err as { statusCode?: unknown })?.statusCode;
    const what = typeof status === 'number' ? `answered ${status}: ${describe(err)}` : `failed: ${describe(err)}${(err as { code?: string })?.code ? ` (${(err as { code?: string }).code})` : ''}`;
    return new DockerRuntimeError('RUNTIME_UNAVAILABLE', 'health', `a call to ${this.title} ${what}`, { cause: err, ...this.tag() });
  }

  private startTimers(): void {
    clearInterval(this.healthTimer);
    this.healthTimer = setInterval(() => void this.healthPing(), this.settings.healthIntervalMs);
    this.healthTimer.unref();
    clearInterval(this.sweepTimer);
    this.sweepTimer = setInterval(() => {
      if (this.stateValue === 'up' && this.client) void this.removeStale(this.client, false);
    }, SWEEP_INTERVAL_MS);
    this.sweepTimer.unref();
  }

  private async healthPing(): Promise<void> {
    if (this.pinging || this.stateValue !== 'up' || !this.client) return;
    this.pinging = true;
    try {
      await withTimeout(this.client.ping(), this.settings.connectTimeoutMs, `no answer to a ping within ${this.settings.connectTimeoutMs} ms`);
    } catch (err) {
      // A refused or reset ping was already seen by the dial hook; a silent one is seen here.
      if (this.stateValue === 'up') this.eject(this.callError(err), false);
    } finally {
      this.pinging = false;
    }
  }

  private getClient(): Promise<Dockerode> {
    this.clientPromise ??= (async () => {
      let DockerCtor: typeof Dockerode;
      try {
        DockerCtor = (await import('dockerode')).default;
      } catch (err) {
        this.clientPromise = undefined;
        throw new DockerRuntimeError('RUNTIME_UNAVAILABLE', 'startup', `the Docker runtime needs the 'dockerode' package: npm install dockerode (${describe(err)})`, { cause: err });
      }
      const docker = new DockerCtor(this.spec.docker);
      // Every request to the engine goes through the modem's dial: one place to see them fail.
      const modem = (docker as unknown as { modem: { dial: (o: unknown, cb: (err: unknown, data: unknown) => void) => unknown } }).modem;
      const dial = modem.dial.bind(modem);
      modem.dial = (o, cb) =>
        dial(o, (err, data) => {
          if (err) this.observe(err, o);
          cb(err, data);
        });
      this.client = docker;
      return docker;
    })();
    return this.clientPromise;
  }

  private unreachable(err: unknown): DockerRuntimeError {
    const s = this.spec;
    const code = (err as { code?: unknown })?.code;
    const text = describe(err);
    let reason = `${text.includes('SSL routines') ? 'TLS alert' : text}${typeof code === 'string' && !text.includes(code) ? ` (${code})` : ''}`;
    let fix: string;
    if (!s.tcp) {
      fix = 'Start the engine (`sudo systemctl start docker`, or `sudo dockerd &`, or `sudo bash .ci/docker-setup.sh` in a toolexec checkout), or point DOCKER_HOST at a running one.';
    } else if (typeof code === 'string' && /^ERR_SSL_.*ALERT/.test(code)) {
      reason = `the engine refused this host's client certificate: ${reason}`;
      fix = 'Give a client certificate (tls.cert, tls.key) signed by the CA the engine trusts (`dockerd --tlscacert`).';
    } else if (typeof code === 'string' && /LEAF_SIGNATURE|SELF_SIGNED|CERT_SIGNATURE|UNABLE_TO_GET_ISSUER|CERT_UNTRUSTED|CERT_HAS_EXPIRED|CERT_NOT_YET_VALID/.test(code)) {
      reason = `this host does not trust the engine's certificate: ${reason}`;
      fix = "tls.ca must be the CA that signed the engine's certificate (`dockerd --tlscert`), and that certificate must be valid now.";
    } else if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
      reason = `the engine's certificate does not name this address: ${reason}`;
      fix = 'Reach the engine by a name or IP address its certificate lists as a subjectAltName, or reissue the certificate with it.';
    } else if (TLS_FAILURE.test(reason)) {
      fix =
        "The TLS handshake failed: the engine must trust the CA that signed this host's client certificate (dockerd --tlscacert), and the CA given here must be the one that signed the engine's certificate, which must name the address used here (an IP address needs an IP subjectAltName).";
    } else {
      fix = `Check that dockerd on that host listens on this address (\`dockerd -H tcp://0.0.0.0:2376 --tlsverify ...\`) and that this host can reach it${s.implicit ? ', or point DOCKER_HOST at a running engine' : ''}.`;
    }
    const who = s.implicit ? 'Docker' : `Docker engine ${JSON.stringify(s.name)}`;
    return new DockerRuntimeError('RUNTIME_UNAVAILABLE', 'startup', `${who} is not reachable at ${s.where} (${reason}). ${fix}`, { cause: err, ...this.tag() });
  }

  private misconfig(message: string, cause?: unknown): DockerRuntimeError {
    const error = new DockerRuntimeError('RUNTIME_UNAVAILABLE', 'startup', message, { cause, ...this.tag() });
    (error as { misconfigured?: boolean }).misconfigured = true;
    return error;
  }

  private async connectOnce(readmission: boolean): Promise<void> {
    const docker = await this.getClient();
    const image = this.settings.image;
    const on = this.spec.implicit ? '' : ` on ${this.title}`;
    try {
      await withTimeout(docker.ping(), this.settings.connectTimeoutMs, `no answer within ${this.settings.connectTimeoutMs} ms`);
    } catch (err) {
      throw this.unreachable(err);
    }
    let info: { Config?: { Labels?: Record<string, string> | null } };
    try {
      info = (await docker.getImage(image).inspect()) as typeof info;
    } catch (err) {
      const missing = (err as { statusCode?: number }).statusCode === 404;
      if (!missing) throw this.unreachable(err);
      const build = this.spec.cliEnv ? `\`${this.spec.cliEnv} npm run sandbox:build\`` : '`npm run sandbox:build`';
      throw this.misconfig(
        this.spec.implicit && !this.spec.tcp
          ? `the sandbox image ${image} is not present. Build it offline with \`npm run sandbox:build\` (or \`docker build -f sandbox-image/Dockerfile.node -t ${image} .\` where a registry is reachable).`
          : `the sandbox image ${image} is not present${on}. Build it there from a toolexec checkout with ${build} (every engine needs the image of this toolexec version).`,
        err,
      );
    }
    const built = info.Config?.Labels?.[AGENT_LABEL];
    if (built !== undefined && built !== AGENT_HASH) {
      throw this.misconfig(
        `the sandbox image ${image}${on} holds another version of the guest agent (${built}, this toolexec has ${AGENT_HASH}); rebuild it with ${this.spec.cliEnv ? `\`${this.spec.cliEnv} npm run sandbox:build\`` : '`npm run sandbox:build`'}.`,
      );
    }
    if (this.ociRuntime === 'runsc') {
      let runtimes: Record<string, unknown> | undefined;
      try {
        runtimes = ((await docker.info()) as { Runtimes?: Record<string, unknown> }).Runtimes;
      } catch (err) {
        throw this.unreachable(err);
      }
      if (!runtimes || !('runsc' in runtimes)) {
        throw this.misconfig(
          `the gVisor runtime 'runsc' is not registered with ${this.spec.implicit ? 'Docker' : this.title} (known: ${Object.keys(runtimes ?? {}).join(', ') || 'none'}). Install runsc${this.spec.implicit ? '' : ' on that host'} and register it in /etc/docker/daemon.json with "runtimeArgs": ["--network=none"] (\`.ci/docker-setup.sh\` does both).`,
        );
      }
    }
    await this.removeStale(docker, readmission);
  }

  /**
   * Removes what dead owners left: containers past their expiry label, whoever made them (a host
   * that died anywhere), and containers of this host whose owning process is gone. When the engine
   * comes back after an outage, also this runtime's own containers that no worker holds any more
   * (their jobs already failed; the engine may have kept them).
   */
  private async removeStale(docker: Dockerode, ownLeftovers: boolean): Promise<void> {
    let list: Dockerode.ContainerInfo[];
    try {
      list = await docker.listContainers({ all: true, filters: { label: [`${SANDBOX_LABEL}=1`] } });
    } catch (err) {
      this.report('cleanup', `could not list stale sandbox containers: ${describe(err)}`, err);
      return;
    }
    const host = os.hostname();
    const now = Date.now();
    const live = ownLeftovers ? this.hooks.liveIds() : new Set<string>();
    const stale = list.filter((c) => {
      const labels = c.Labels ?? {};
      const expires = Number(labels[EXPIRES_LABEL]);
      if (Number.isFinite(expires) && expires < now) return true;
      if (ownLeftovers && labels[RUNTIME_ID_LABEL] === this.runtimeId && !live.has(c.Id)) return true;
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
