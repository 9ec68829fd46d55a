/**
 * The isolated-vm runtime: V8 isolates, one fresh context per execution, inside warm
 * sandbox processes that the host kills and replaces when anything goes wrong.
 *
 * Why child processes, not isolates in the host process or in worker threads (measured on
 * this 2-core machine, Node 20.20, isolated-vm 5.0.4):
 * - isolated-vm's `memoryLimit` is a guideline, and an allocation that overshoots it can take
 *   the whole process down (upstream issue 527, reproduced here with a 512 MB limit: V8 prints
 *   its fatal OOM report and aborts, or inside an async function even hangs after printing
 *   it). An abort in a worker thread kills the host with it.
 * - Some native builtins ignore the `timeout`: `"a".repeat(5e7).replace(/a/g, "bb")` ran for
 *   more than a minute past a 200 ms timeout, `"ab,".repeat(3e7).split(",")` for 3 s. Nothing
 *   inside the same process can stop them; a separate process can be SIGKILLed and replaced.
 * - WebAssembly memories are not counted against `memoryLimit` (1.2 GB resident from a 64 MB
 *   isolate), so the guest gets no `WebAssembly`, and the host watches each running process's
 *   resident size (`maxProcessRssMb`) as a backstop for anything else uncounted.
 * So busy loops, catastrophic regexes and loops inside promise jobs end through isolated-vm's
 * own `timeout` (the child keeps its process); everything else ends by killing the process.
 *
 * What it costs: one host ↔ child round trip per sequential tool call. Over a pipe that is
 * ~45–60 µs here with the child blocking in `readSync` (~15 µs less than waking through
 * libuv; Node's IPC channel measured ~66 µs, a worker thread's postMessage ~45 µs); the sync
 * `ivm.Callback` that carries a guest message out of the isolate costs ~1–5 µs. Messages
 * queued in the same tick share one write in both directions, so `Promise.all` fan-out pays
 * one round trip, not one per call. Figures in benchmarks/executor-isolated-vm.bench.mjs.
 *
 * Start-up stays off the critical path: processes are spawned ahead (`warm()`; two by
 * default, served oldest-first so that one prepares while the other runs), and while idle
 * each process primes its next context: creates it (~0.8 ms), installs the send primitive,
 * evaluates the prelude, captures `__toolexec_receive` and deletes both globals, so an
 * execution pays only for its own code. An isolate (~3.5 ms to create) serves several
 * executions, each in a fresh context, but only after clean finishes and while its heap stays
 * under half its limit; any failure, or any entry that ended in an exception (which could leave
 * promise jobs queued), disposes it. Memory limits are capped at `maxMemoryMb` (default 128 MB,
 * where issue 527's allocation ended cleanly with "disposed due to memory limit").
 *
 * isolated-vm is an optional dependency: the host only resolves its path (on the first
 * execution); the native module is loaded inside the sandbox processes, which always run with
 * `--no-node-snapshot` (Node 20 needs it), so the host process needs neither.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type {
  Runtime,
  RuntimeFailure,
  RuntimeJob,
  RuntimeName,
  RuntimeOutcome,
  RuntimeSession,
} from '../types.js';
import { SandboxProcess, V8_OOM_REPORT, type ChildMessage } from './sandbox-process.js';

/** Options of the isolated-vm runtime; every one has a default. */
export interface IsolatedVmRuntimeOptions {
  /** Sandbox processes that may run at once (each runs one execution at a time). Default 2. */
  maxProcesses?: number;
  /**
   * Processes kept started once the runtime is in use (`warm()` or a first execution). Default
   * `min(2, maxProcesses)`: with two, back-to-back executions alternate, and each process
   * prepares its next context (~0.8 ms) and evaluates the prelude while the other one runs.
   */
  warmProcesses?: number;
  /**
   * Upper bound on any job's `memoryMb`, in MB. Default 128: above that, isolated-vm's limit
   * can be overshot by a single allocation badly enough to abort the sandbox process (the host
   * survives and reports MEMORY_LIMIT, but the process has to be replaced).
   */
  maxMemoryMb?: number;
  /** How long a terminated or timed-out execution may take to stop before SIGKILL. Default 250 ms. */
  terminateGraceMs?: number;
  /** Executions after which a sandbox process is retired and replaced. Default 1000. */
  maxExecutionsPerProcess?: number;
  /** Clean executions an isolate may serve (each in a fresh context) before it is replaced. Default 50. */
  maxExecutionsPerIsolate?: number;
  /** Heap of the sandbox process's own Node isolate (bridge messages in transit), in MB. Default 256. */
  processHeapMb?: number;
  /**
   * Resident memory a sandbox process may reach while it runs a job, in MB, checked every
   * 50 ms from `/proc` (Linux). Backstop for native allocations isolated-vm does not count
   * against `memoryLimit`. Default, per job: `192 + 4 × memoryMb` (isolated-vm documents that
   * a determined script can use 2–3× its limit; a sandbox process idles at ~60 MB).
   */
  maxProcessRssMb?: number;
  /** Node binary for the sandbox processes. Default: the host's `process.execPath`. */
  nodePath?: string;
  /** Where to load isolated-vm from (a path or package name). Default: resolved from toolexec. */
  isolatedVmPath?: string;
}

/** Defaults of {@link IsolatedVmRuntimeOptions}. */
export const ISOLATED_VM_DEFAULTS = {
  maxProcesses: 2,
  maxMemoryMb: 128,
  terminateGraceMs: 250,
  maxExecutionsPerProcess: 1000,
  maxExecutionsPerIsolate: 50,
  processHeapMb: 256,
} as const;

const INSTALL_HINT =
  'Install it with `npm install isolated-vm@5` (a native module: it builds from source when no prebuilt binary ' +
  'is available, which needs python3, make and a C++ compiler). On Node 20 isolated-vm only works with ' +
  '`node --no-node-snapshot` (or NODE_OPTIONS=--no-node-snapshot); toolexec passes that flag to the sandbox ' +
  'processes it starts, so the host process itself does not need it.';

/** Thrown inside the pool when isolated-vm cannot be used at all; turned into a RUNTIME_UNAVAILABLE outcome. */
class UnavailableError extends Error {}

function unavailableMessage(reason: string): string {
  return `the isolated-vm runtime is unavailable: ${reason}. ${INSTALL_HINT}`;
}

let nextJobId = 1;

/** How often a running job's process is checked against `maxProcessRssMb`. */
const RSS_CHECK_MS = 50;
/** `/proc/<pid>/statm` counts pages; 4 KiB on the Linux targets this runs on. */
const PAGE_SIZE = 4096;

/** Time a sandbox process may take to load isolated-vm (it is ~50 ms unloaded; CI machines are slow). */
const START_TIMEOUT_MS = 20_000;

/**
 * Runs guest programs in V8 isolates inside supervised sandbox processes. See the header
 * comment of this file for the isolation design and what it costs.
 */
export class IsolatedVmRuntime implements Runtime {
  readonly name: RuntimeName = 'isolated-vm';
  private readonly options: Required<Omit<IsolatedVmRuntimeOptions, 'isolatedVmPath'>> & { isolatedVmPath?: string };
  private readonly warmCount: number;
  private readonly all = new Set<SandboxProcess>();
  private idle: SandboxProcess[] = [];
  private waiters: Array<() => void> = [];
  private spawning = 0;
  private unavailable: string | undefined;
  private ivmPath: string | undefined;
  private disposed = false;
  private keepWarm = false;

  constructor(options: IsolatedVmRuntimeOptions = {}) {
    const pick = (value: number | undefined, fallback: number, min: number): number => {
      if (value === undefined) return fallback;
      if (!Number.isFinite(value) || value < min) {
        throw new TypeError(`isolated-vm runtime: option values must be finite numbers >= ${min}, got ${value}`);
      }
      return Math.floor(value);
    };
    this.options = {
      maxProcesses: pick(options.maxProcesses, ISOLATED_VM_DEFAULTS.maxProcesses, 1),
      maxMemoryMb: pick(options.maxMemoryMb, ISOLATED_VM_DEFAULTS.maxMemoryMb, 8),
      terminateGraceMs: pick(options.terminateGraceMs, ISOLATED_VM_DEFAULTS.terminateGraceMs, 0),
      maxExecutionsPerProcess: pick(options.maxExecutionsPerProcess, ISOLATED_VM_DEFAULTS.maxExecutionsPerProcess, 1),
      maxExecutionsPerIsolate: pick(options.maxExecutionsPerIsolate, ISOLATED_VM_DEFAULTS.maxExecutionsPerIsolate, 1),
      processHeapMb: pick(options.processHeapMb, ISOLATED_VM_DEFAULTS.processHeapMb, 32),
      nodePath: options.nodePath ?? process.execPath,
      warmProcesses: 0,
      maxProcessRssMb: 0,
      ...(options.isolatedVmPath === undefined ? {} : { isolatedVmPath: options.isolatedVmPath }),
    };
    this.warmCount = Math.min(this.options.maxProcesses, pick(options.warmProcesses, Math.min(2, this.options.maxProcesses), 0));
    this.options.warmProcesses = this.warmCount;
    this.options.maxProcessRssMb = pick(options.maxProcessRssMb, 0, 1);
  }

  /**
   * Starts `warmProcesses` sandbox processes (at least one) ahead of use, so that no execution
   * pays for spawning Node and loading isolated-vm. Resolves even when isolated-vm is
   * unavailable: executions then end with RUNTIME_UNAVAILABLE and say why.
   */
  async warm(): Promise<void> {
    this.keepWarm = true;
    const spawns: Promise<SandboxProcess | undefined>[] = [];
    for (let n = this.all.size + this.spawning; n < Math.max(1, this.warmCount); n++) {
      spawns.push(
        this.spawnReady().catch((e: unknown) => {
          if (e instanceof UnavailableError) return undefined;
          throw e;
        }),
      );
    }
    for (const p of await Promise.all(spawns)) if (p !== undefined) this.release(p);
  }

  start(job: RuntimeJob, onMessage: (message: string) => void): RuntimeSession {
    if (this.disposed) throw new Error('isolated-vm runtime: start() after dispose()');
    this.keepWarm = true;
    return new IsolatedVmSession(this, job, onMessage, this.options.terminateGraceMs);
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
    const exits: Promise<unknown>[] = [];
    for (const p of this.all) {
      exits.push(p.exited);
      p.kill();
    }
    this.all.clear();
    this.idle = [];
    await Promise.all(exits);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }

  /** @internal Takes a ready sandbox process, spawning one if the pool has room, else waits. */
  async acquire(): Promise<SandboxProcess> {
    for (;;) {
      if (this.disposed) throw new UnavailableError('the runtime was disposed');
      if (this.unavailable !== undefined) throw new UnavailableError(this.unavailable);
      // Oldest idle first: the process that just finished gets time to prepare its next context.
      const p = this.idle.shift();
      if (p !== undefined) {
        if (p.alive) return p;
        continue;
      }
      if (this.all.size + this.spawning < this.options.maxProcesses) return this.spawnReady();
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /** @internal Gives a process back after an execution that ended cleanly on the child's side. */
  release(p: SandboxProcess): void {
    if (this.disposed || !p.alive) {
      p.kill();
    } else if (p.jobs >= this.options.maxExecutionsPerProcess) {
      this.all.delete(p);
      p.close();
      this.replenish();
    } else {
      this.idle.push(p);
    }
    this.wake();
  }

  /** @internal Drops a process that was killed or died, and keeps one warm replacement coming. */
  retire(p: SandboxProcess): void {
    p.kill();
    if (!this.all.delete(p)) return;
    this.idle = this.idle.filter((q) => q !== p);
    this.replenish();
    this.wake();
  }

  private wake(): void {
    const w = this.waiters.shift();
    if (w !== undefined) w();
  }

  private replenish(): void {
    if (!this.keepWarm || this.disposed || this.unavailable !== undefined) return;
    if (this.all.size + this.spawning >= Math.max(1, this.warmCount)) return;
    this.spawnReady().then(
      (p) => this.release(p),
      () => {},
    );
  }

  private resolveIsolatedVm(): string {
    if (this.ivmPath !== undefined) return this.ivmPath;
    const wanted = this.options.isolatedVmPath ?? 'isolated-vm';
    try {
      // Resolution only: the native module is loaded inside the sandbox processes.
      this.ivmPath = createRequire(import.meta.url).resolve(wanted);
    } catch (e) {
      this.unavailable = unavailableMessage(`the package "${wanted}" could not be resolved (${(e as Error).message.split('\n')[0]})`);
      throw new UnavailableError(this.unavailable);
    }
    return this.ivmPath;
  }

  private async spawnReady(): Promise<SandboxProcess> {
    const ivmPath = this.resolveIsolatedVm();
    this.spawning++;
    let p: SandboxProcess;
    try {
      p = new SandboxProcess({
        nodePath: this.options.nodePath,
        ivmPath,
        maxMemoryMb: this.options.maxMemoryMb,
        childHeapMb: this.options.processHeapMb,
        isolateUses: this.options.maxExecutionsPerIsolate,
        startTimeoutMs: START_TIMEOUT_MS,
      });
    } catch (e) {
      this.spawning--;
      throw new UnavailableError(unavailableMessage(`a sandbox process could not be started (${(e as Error).message})`));
    }
    try {
      await p.ready;
    } catch (e) {
      this.spawning--;
      p.kill();
      this.wake();
      if (p.fatalMessage !== undefined) {
        // isolated-vm itself failed to load: that will not get better by retrying, so remember it.
        this.unavailable = unavailableMessage(`isolated-vm failed to load in a sandbox process (${p.fatalMessage})`);
        throw new UnavailableError(this.unavailable);
      }
      throw new UnavailableError(unavailableMessage(`a sandbox process failed to start (${(e as Error).message})`));
    }
    this.spawning--;
    if (this.disposed) {
      p.kill();
      throw new UnavailableError('the runtime was disposed');
    }
    this.all.add(p);
    p.exited.then(() => {
      if (this.all.has(p)) this.retire(p);
    });
    return p;
  }

  /** @internal Resident-memory ceiling of a sandbox process running a job with this heap limit, in bytes. */
  rssLimitBytes(memoryMb: number): number {
    const heapMb = Math.min(Math.max(8, memoryMb), this.options.maxMemoryMb);
    const mb = this.options.maxProcessRssMb > 0 ? this.options.maxProcessRssMb : 192 + 4 * heapMb;
    return mb * 1024 * 1024;
  }

  /** Whether `dispose()` has been called. */
  get isDisposed(): boolean {
    return this.disposed;
  }

  /** Number of live sandbox processes (for tests and diagnostics). */
  get processCount(): number {
    return this.all.size;
  }

  /** Process ids of the live sandbox processes (for tests and diagnostics). */
  get processIds(): number[] {
    return [...this.all].map((p) => p.pid).filter((pid): pid is number => pid !== undefined);
  }
}

/** The host end of one execution: attaches to a process, relays messages, enforces the clock. */
class IsolatedVmSession implements RuntimeSession {
  readonly done: Promise<RuntimeOutcome>;
  private resolveDone!: (outcome: RuntimeOutcome) => void;
  private readonly jobId = nextJobId++;
  private readonly startedAt = performance.now();
  private proc: SandboxProcess | undefined;
  private queued: string[] = [];
  private ended = false;
  private hostFailure: RuntimeFailure | undefined;
  private wallTimer: NodeJS.Timeout | undefined;
  private killTimer: NodeJS.Timeout | undefined;
  private rssTimer: NodeJS.Timeout | undefined;
  private readonly onAbort = (): void => {
    this.terminate({ code: 'CANCELLED', message: 'the execution was cancelled' });
  };

  constructor(
    private readonly runtime: IsolatedVmRuntime,
    private readonly job: RuntimeJob,
    private readonly onMessage: (message: string) => void,
    private readonly graceMs: number,
  ) {
    this.done = new Promise((resolve) => {
      this.resolveDone = resolve;
    });
    if (job.signal?.aborted) {
      this.finish({ code: 'CANCELLED', message: 'the execution was cancelled before it started' });
      return;
    }
    job.signal?.addEventListener('abort', this.onAbort, { once: true });
    this.attach();
  }

  private async attach(): Promise<void> {
    let p: SandboxProcess;
    try {
      p = await this.runtime.acquire();
    } catch (e) {
      const message = e instanceof UnavailableError ? e.message : unavailableMessage(String((e as Error)?.message ?? e));
      this.finish(this.hostFailure ?? { code: 'RUNTIME_UNAVAILABLE', message });
      return;
    }
    if (this.ended) {
      this.runtime.release(p);
      return;
    }
    this.proc = p;
    p.jobs++;
    p.onMessage = (m) => this.onChild(m);
    p.onExit = (code, signal) => this.onChildExit(p, code, signal);
    this.watchResidentMemory(p);
    p.onOutOfMemory = () => {
      if (this.ended) return;
      this.hostFailure ??= this.memoryFailure();
      this.runtime.retire(p);
    };
    // The script's clock starts when a process takes it: waiting for a free process (or for a
    // replacement to boot on a loaded machine) is queueing, not the script's running time.
    const timeoutMs = Math.max(1, this.job.limits.timeoutMs);
    this.wallTimer = setTimeout(() => {
      this.terminate({ code: 'TIMEOUT', message: `the script ran longer than timeoutMs (${this.job.limits.timeoutMs} ms)` });
    }, timeoutMs);
    p.post({
      t: 'start',
      j: this.jobId,
      job: {
        prelude: this.job.prelude,
        code: this.job.code,
        filename: this.job.filename,
        lineOffset: this.job.lineOffset,
        limits: { ...this.job.limits, timeoutMs },
      },
    });
    for (const m of this.queued) p.post({ t: 'reply', j: this.jobId, m });
    this.queued = [];
    if (this.hostFailure !== undefined) this.stopChild();
  }

  send(message: string): void {
    if (this.ended || this.hostFailure !== undefined) return;
    if (typeof message !== 'string') throw new TypeError('RuntimeSession.send takes a string');
    if (this.proc === undefined) this.queued.push(message);
    else this.proc.post({ t: 'reply', j: this.jobId, m: message });
  }

  terminate(failure: RuntimeFailure): void {
    if (this.ended || this.hostFailure !== undefined) return;
    this.hostFailure = failure;
    if (this.proc === undefined) {
      // Still waiting for a process: nothing runs yet, so end now; attach() hands it back.
      this.finish(failure);
      return;
    }
    this.stopChild();
  }

  private stopChild(): void {
    const p = this.proc;
    if (p === undefined) return;
    p.post({ t: 'abort', j: this.jobId });
    // The child answers an abort between two guest entries; a guest stuck in a native builtin
    // never yields, so the process is killed after the grace period.
    this.killTimer = setTimeout(() => {
      if (this.ended) return;
      this.runtime.retire(p);
    }, this.graceMs);
  }

  private onChild(m: ChildMessage): void {
    if (this.ended || !('j' in m) || m.j !== this.jobId) return;
    if (m.t === 'msg') {
      if (this.hostFailure !== undefined) return;
      try {
        this.onMessage(m.m);
      } catch {
        // The executor's handler failing is a host bug, not the guest's; it must not wedge the session.
      }
    } else if (m.t === 'end') {
      const p = this.proc!;
      this.detach();
      let failure = this.hostFailure ?? m.failure ?? undefined;
      if (failure === this.hostFailure && failure?.code === 'TIMEOUT' && m.unhandled) {
        failure = { ...failure, message: `${failure.message}; earlier, a promise rejection was never handled: ${m.unhandled}` };
      }
      this.finish(failure, m.stats);
      this.runtime.release(p);
    }
  }

  private onChildExit(p: SandboxProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.ended) return;
    this.detach();
    let failure = this.hostFailure;
    if (failure === undefined && this.runtime.isDisposed) {
      failure = { code: 'CANCELLED', message: 'the isolated-vm runtime was disposed during the execution' };
    }
    if (failure === undefined) {
      failure = p.oomReported || V8_OOM_REPORT.test(p.stderr)
        ? this.memoryFailure()
        : { code: 'SANDBOX_CRASHED', message: `the isolated-vm sandbox process died (${p.describeExit(code, signal)}); it was replaced` };
    }
    this.finish(failure);
    this.runtime.retire(p);
  }

  private memoryFailure(): RuntimeFailure {
    return {
      code: 'MEMORY_LIMIT',
      message: `the script exhausted the sandbox's memory (the isolate overshot its ${this.job.limits.memoryMb} MB limit and V8 gave up on the sandbox process, which was replaced)`,
    };
  }

  private detach(): void {
    const p = this.proc;
    if (p === undefined) return;
    p.onMessage = undefined;
    p.onExit = undefined;
    p.onOutOfMemory = undefined;
  }

  /**
   * isolated-vm counts the V8 heap and ArrayBuffers against `memoryLimit`, but not every native
   * allocation (WebAssembly memories, measured here: 1.2 GB resident in a 64 MB isolate, are
   * removed from the guest for that reason). The process's resident size is the backstop.
   */
  private watchResidentMemory(p: SandboxProcess): void {
    const pid = p.pid;
    if (pid === undefined || process.platform !== 'linux') return;
    const limit = this.runtime.rssLimitBytes(this.job.limits.memoryMb);
    const path = `/proc/${pid}/statm`;
    this.rssTimer = setInterval(() => {
      let rss: number;
      try {
        rss = Number(readFileSync(path, 'utf8').split(' ')[1]) * PAGE_SIZE;
      } catch {
        return;
      }
      if (rss > limit && !this.ended) {
        this.hostFailure ??= {
          code: 'MEMORY_LIMIT',
          message: `the sandbox process grew to ${Math.round(rss / 1048576)} MB resident, over its ${Math.round(limit / 1048576)} MB ceiling (memory the isolate's ${this.job.limits.memoryMb} MB limit does not count); it was replaced`,
        };
        this.runtime.retire(p);
      }
    }, RSS_CHECK_MS);
    this.rssTimer.unref();
  }

  private finish(failure: RuntimeFailure | undefined, stats?: { durationMs: number; cpuMs?: number; memoryBytes?: number }): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.wallTimer);
    clearTimeout(this.killTimer);
    clearInterval(this.rssTimer);
    this.job.signal?.removeEventListener('abort', this.onAbort);
    const outcome: RuntimeOutcome = {
      stats: {
        durationMs: performance.now() - this.startedAt,
        ...(stats?.cpuMs === undefined ? {} : { cpuMs: stats.cpuMs }),
        ...(stats?.memoryBytes === undefined ? {} : { memoryBytes: stats.memoryBytes }),
      },
      enforced: { timeoutMs: true, memoryMb: true, cpuMs: this.job.limits.cpuMs !== undefined },
    };
    if (failure !== undefined) outcome.failure = failure;
    this.resolveDone(outcome);
  }
}

/** Creates the isolated-vm runtime. Nothing native is loaded until the first execution. */
export function createIsolatedVmRuntime(options?: IsolatedVmRuntimeOptions): IsolatedVmRuntime {
  return new IsolatedVmRuntime(options);
}
