/**
 * The host end of one isolated-vm sandbox process (`runtimes/isolated-vm/process.js`): spawn, the
 * line protocol, two backstops watched from outside (V8's fatal out-of-memory report on stderr,
 * and the process's resident size while a job runs), and the hard kill. It knows nothing of jobs'
 * lifecycles; the supervisor drives it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, readFileSync, readlinkSync } from 'node:fs';
import type { Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import type { HostToSandbox, RuntimeFailure, SandboxToHost, SandboxWorker, WorkerEvents } from '../types.js';
import { guestPath } from '../guest.js';
import { bridgeCounts, mayPoll, trackProcess, untrackProcess } from '../spare-core.js';
import { currentCpu, openStat, statCpu } from '../current-cpu.js';

export interface IsolatedVmWorkerOptions {
  nodePath: string;
  ivmPath: string;
  prelude: string;
  maxMemoryMb: number;
  /** `--max-old-space-size` of the process's own Node heap (messages in transit live there). */
  processHeapMb: number;
  isolateUses: number;
  /** How to install or fix isolated-vm, appended to errors that say it cannot load. */
  installHint: string;
  /** Resident-memory ceiling while a job with this heap limit runs, in bytes. */
  rssLimitBytes(memoryMb: number): number;
}

/** Last bytes of the process's stderr kept to explain a crash (V8 prints its OOM report there). */
const STDERR_TAIL = 8192;
/** V8's fatal heap report (`<--- Last few GCs --->`, `<--- JS stacktrace --->`, "heap out of memory"). */
export const V8_OOM_REPORT = /<--- (Last few GCs|JS stacktrace) --->|heap out of memory|is_heap_oom|Allocation failed/;
/** How often a running job's process is checked against its resident-memory ceiling. */
const RSS_CHECK_MS = 50;
/** `/proc/<pid>/statm` counts pages; 4 KiB on the Linux targets this runs on. */
const PAGE_SIZE = 4096;
/** Longest line the host accepts from the process (a guest message is capped far below by the executor). */
const MAX_LINE_CHARS = 256 * 1024 * 1024;

/**
 * What the host's environment may pass to a sandbox process: what the dynamic loader and the
 * platform need to start Node, and the time zone and locale (which the guest's Date and Intl
 * read). Nothing else: the process runs untrusted code, and the host's environment holds its
 * secrets (API keys, tokens, the gateway's credentials). Node's own variables stay out too:
 * NODE_OPTIONS could change how our program starts (loaders, an inspector), and
 * NODE_EXTRA_CA_CERTS, which this program never needs, costs every spawn the parsing of a CA
 * bundle (55 ms of a 125 ms start measured here).
 */
const PASSED_ENV = /^(PATH|LD_LIBRARY_PATH|DYLD_LIBRARY_PATH|TZ|LANG|LANGUAGE|LC_[A-Z]+|TMPDIR|SYSTEMROOT|WINDIR)$/i;

/** The environment a sandbox process starts with (see PASSED_ENV). */
export function sandboxProcessEnv(hostEnv: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(hostEnv)) if (value !== undefined && PASSED_ENV.test(name)) env[name] = value;
  return env;
}

/** Jobs running in sandbox processes of this host, across runtimes: polling is allowed while a core is free (spare-core.ts). */
let running = 0;
/**
 * How long the host keeps its event loop turning after a reply while a job runs (ms), so that the
 * process's next message (a script's next tool call, typically within tens of microseconds) is
 * read on the next turn instead of after a wake-up from epoll. The process polls its end the same
 * way (POLL_MAX_MS in runtimes/isolated-vm/process.js).
 */
const HOST_POLL_MS = 0.3;
/** How long a reading of where this thread and the process run stays good (ms; see current-cpu.ts). */
const CPU_FRESH_MS = 1;
/**
 * Where this host thread's stat file is, as `<pid>/task/<tid>` (what /proc/thread-self points
 * to), for the process's choice to poll; undefined off Linux. Read once per thread.
 */
const hostThread = (() => {
  if (process.platform !== 'linux') return undefined;
  try {
    const link = readlinkSync('/proc/thread-self');
    return /^\d+\/task\/\d+$/.test(link) ? link : undefined;
  } catch {
    return undefined;
  }
})();

type FromProcess = SandboxToHost | { t: 'ready'; pid: number } | { t: 'prepared' } | { t: 'fatal'; message: string };

/** An error that says no process will ever start here (isolated-vm cannot load). */
class PermanentError extends Error {
  readonly permanent = true;
}

export class IsolatedVmWorker implements SandboxWorker {
  private readonly child: ChildProcess;
  private readonly input: Writable;
  private readonly ready: Promise<void>;
  private readonly exited: Promise<void>;
  private alive = true;
  private stderrTail = '';
  private oomReported = false;
  private fatalMessage: string | undefined;
  private outbox: string[] = [];
  private flushQueued = false;
  private rssTimer: NodeJS.Timeout | undefined;
  /** What the host saw go wrong from outside, for the exit classification. */
  private fault: RuntimeFailure | undefined;
  private running = false;
  /** False from a job's end until the process has its next context ready (its `prepared` message). */
  prepared = true;
  private busy = false;
  /** The event loop is kept turning until then after a reply (HOST_POLL_MS). */
  private pollUntil = 0;
  private turning = false;
  /** The process's stat file, opened once (-2 before, -1 when it cannot be). */
  private childStat = -2;
  private cpuAt = -Infinity;
  private beside = false;
  /** Replies of the running job after which this host kept its event loop turning. */
  private turnedAfter = 0;
  /**
   * The last job's bridge: how many times the process waited for a reply and how many of those
   * waits polled before sleeping, as the process said (only reported), and after how many replies
   * this host kept turning (diagnostics and tests).
   */
  lastBridge: { waits: number; polled: number; hostPolled: number } | undefined;

  constructor(
    private readonly options: IsolatedVmWorkerOptions,
    private readonly events: WorkerEvents,
  ) {
    const env = sandboxProcessEnv(process.env);
    env.TOOLEXEC_IVM_PATH = options.ivmPath;
    env.TOOLEXEC_IVM_MAX_MEMORY_MB = String(options.maxMemoryMb);
    env.TOOLEXEC_IVM_ISOLATE_USES = String(options.isolateUses);
    this.child = spawn(options.nodePath, ['--no-node-snapshot', `--max-old-space-size=${options.processHeapMb}`, guestPath('isolated-vm/process.js')], {
      stdio: ['pipe', 'ignore', 'pipe', 'pipe'],
      env,
      windowsHide: true,
    });
    const pid = this.child.pid;
    if (pid !== undefined) trackProcess(pid);
    this.input = this.child.stdin as Writable;
    // A write to a process that just died raises EPIPE here; the exit handler reports it.
    this.input.on('error', () => {});
    const stderr = this.child.stderr as Readable;
    stderr.setEncoding('utf8');
    stderr.on('data', (chunk: string) => {
      this.stderrTail = (this.stderrTail + chunk).slice(-STDERR_TAIL);
      if (!this.oomReported && V8_OOM_REPORT.test(this.stderrTail)) {
        this.oomReported = true;
        // The process is doomed, and may even hang inside V8's OOM handler instead of exiting.
        if (this.running) this.events.fault(this.memoryFailure());
        else void this.stop();
      }
    });
    let resolveReady!: () => void;
    let rejectReady!: (e: Error) => void;
    this.ready = new Promise<void>((resolve, reject) => {
      resolveReady = resolve;
      rejectReady = reject;
    });
    this.ready.catch(() => {});
    const out = this.child.stdio[3] as Readable;
    out.setEncoding('utf8');
    let buffered = '';
    out.on('data', (chunk: string) => {
      // Only the new chunk is searched, so a long message arriving in many chunks stays linear.
      if (chunk.indexOf('\n') === -1) {
        buffered += chunk;
        if (buffered.length > MAX_LINE_CHARS) this.breach('a line longer than the host accepts');
        return;
      }
      const lines = (buffered + chunk).split('\n');
      buffered = lines.pop() ?? '';
      // Consecutive guest messages of one job go up as one batch.
      let outId = -1;
      let out: string[] = [];
      for (const line of lines) {
        if (line.charCodeAt(0) === 111 /* o */) {
          const sp = line.indexOf(' ');
          const id = sp > 1 ? Number(line.slice(1, sp)) : NaN;
          if (!Number.isSafeInteger(id)) continue;
          if (id !== outId && out.length > 0) {
            this.onOut(outId, out);
            out = [];
          }
          outId = id;
          out.push(line.slice(sp + 1));
          continue;
        }
        if (out.length > 0) {
          this.onOut(outId, out);
          out = [];
        }
        this.onLine(line, resolveReady);
      }
      if (out.length > 0) this.onOut(outId, out);
    });
    this.exited = new Promise((resolve) => {
      let reported = false;
      const gone = (code: number | null, signal: NodeJS.Signals | null, drain: boolean) => {
        this.alive = false;
        if (this.child.pid !== undefined) untrackProcess(this.child.pid);
        if (this.childStat >= 0) {
          try {
            closeSync(this.childStat);
          } catch {
            // already closed
          }
        }
        this.childStat = -1;
        this.idle();
        clearInterval(this.rssTimer);
        rejectReady(this.startError(code, signal));
        const report = () => {
          if (reported) return;
          reported = true;
          this.events.exit(this.exitFailure(code, signal));
          resolve();
        };
        // stdio may still hold the last lines; let them drain before reporting the exit.
        if (drain) setImmediate(report);
        else report();
      };
      this.child.once('exit', (code, signal) => gone(code, signal, true));
      this.child.once('error', (err) => {
        // A process that could not even be spawned never emits `exit`.
        if (this.child.pid !== undefined) return;
        rejectReady(new PermanentError(`a sandbox process could not be started with ${options.nodePath}: ${err.message}. ${options.installHint}`));
        gone(null, null, false);
      });
    });
    this.post({ t: 'init', prelude: options.prelude, ...(hostThread !== undefined ? { cpu: hostThread } : {}) });
  }

  start(): Promise<void> {
    return this.ready;
  }

  send(message: HostToSandbox): void {
    if (message.t === 'job') {
      this.watch(message.job.limits.memoryMb);
      if (!this.busy) {
        this.busy = true;
        running++;
      }
      // The process may poll its pipe for replies (sparing both sides a wake-up) only while a
      // core is free for it (spare-core.ts).
      this.post({ ...message, poll: mayPoll(running) });
      return;
    }
    if (message.t === 'reply') {
      // Replies travel as they are (`r<id> <text>`), not escaped into a second JSON text.
      for (const text of message.m) {
        if (text.indexOf('\n') === -1) this.postLine(`r${message.id} ${text}`);
        else this.post({ t: 'reply', id: message.id, m: [text] });
      }
      this.keepTurning();
      return;
    }
    this.post(message);
  }

  stop(): Promise<void> {
    if (this.alive) {
      // Whoever awaits the exit must see it: keep the event loop alive until then.
      this.child.ref();
      // SIGKILL: the process may be stuck inside a native builtin and cannot be asked.
      this.child.kill('SIGKILL');
    }
    return this.exited;
  }

  ref(): void {
    this.child.ref();
  }

  unref(): void {
    // Idle sandbox processes must not keep the host alive; a running job holds its own timers.
    this.child.unref();
    for (const s of [this.child.stdin, this.child.stderr, this.child.stdio[3]]) (s as Socket | null)?.unref?.();
  }

  /** The process id (diagnostics and leak checks). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /**
   * After a reply, while a job runs and a core is free (spare-core.ts), keeps the event loop
   * turning for HOST_POLL_MS (epoll then returns at once): the process's next message is read
   * without a wake-up, which on a virtual machine costs tens of microseconds. Not while the
   * process last ran on this thread's CPU: there the turning holds the CPU the process needs.
   */
  private keepTurning(): void {
    if (!this.running || !mayPoll(running)) return;
    const now = performance.now();
    if (this.besideProcess(now)) return;
    this.pollUntil = now + HOST_POLL_MS;
    this.turnedAfter++;
    if (this.turning) return;
    this.turning = true;
    const turn = (): void => {
      if (this.running && this.alive && performance.now() < this.pollUntil) setImmediate(turn);
      else this.turning = false;
    };
    setImmediate(turn);
  }

  /** Whether the process last ran on the CPU this thread runs on (read at most once per CPU_FRESH_MS). */
  private besideProcess(now: number): boolean {
    if (now - this.cpuAt <= CPU_FRESH_MS) return this.beside;
    this.cpuAt = now;
    if (this.childStat === -2) this.childStat = this.child.pid !== undefined ? openStat(`/proc/${this.child.pid}/stat`) : -1;
    const own = currentCpu();
    this.beside = own >= 0 && own === this.childCpu();
    return this.beside;
  }

  private childCpu(): number {
    try {
      return statCpu(this.childStat);
    } catch {
      return -1;
    }
  }

  private idle(): void {
    if (!this.busy) return;
    this.busy = false;
    running--;
  }

  private onOut(id: number, m: string[]): void {
    if (this.alive) this.events.message({ t: 'out', id, m });
  }

  private onLine(line: string, resolveReady: () => void): void {
    let m: FromProcess;
    try {
      m = JSON.parse(line) as FromProcess;
    } catch {
      return;
    }
    if (m === null || typeof m !== 'object') return;
    if (m.t === 'ready') resolveReady();
    else if (m.t === 'prepared') this.prepared = true;
    else if (m.t === 'fatal') this.fatalMessage = String(m.message).slice(0, 2000);
    else if (m.t === 'out' || m.t === 'end') {
      if (m.t === 'end') {
        const counts = bridgeCounts((m as { bridge?: unknown }).bridge);
        this.lastBridge = counts && { ...counts, hostPolled: this.turnedAfter };
        delete (m as { bridge?: unknown }).bridge;
        this.prepared = false;
        this.running = false;
        this.idle();
        clearInterval(this.rssTimer);
      }
      this.events.message(m);
    }
  }

  /** Queues one protocol object; everything queued in the same tick goes out in one write. */
  private post(message: object): void {
    this.postLine(JSON.stringify(message));
  }

  private postLine(line: string): void {
    if (!this.alive) return;
    this.outbox.push(line);
    if (!this.flushQueued) {
      this.flushQueued = true;
      queueMicrotask(() => {
        this.flushQueued = false;
        if (this.outbox.length === 0 || !this.alive) return;
        const text = this.outbox.join('\n') + '\n';
        this.outbox = [];
        this.input.write(text);
      });
    }
  }

  /**
   * isolated-vm counts the V8 heap and ArrayBuffers against `memoryLimit`, but not every native
   * allocation (WebAssembly memories, measured here: 1.2 GB resident in a 64 MB isolate, are
   * removed from the guest for that reason). The process's resident size is the backstop.
   */
  private watch(memoryMb: number): void {
    this.running = true;
    this.turnedAfter = 0;
    // A process that idled may wake on another CPU: read again first thing in the job.
    this.cpuAt = -Infinity;
    clearInterval(this.rssTimer);
    const pid = this.child.pid;
    if (pid === undefined || process.platform !== 'linux') return;
    const limit = this.options.rssLimitBytes(memoryMb);
    const path = `/proc/${pid}/statm`;
    this.rssTimer = setInterval(() => {
      let rss: number;
      try {
        rss = Number(readFileSync(path, 'utf8').split(' ')[1]) * PAGE_SIZE;
      } catch {
        return;
      }
      if (rss > limit && this.running) {
        clearInterval(this.rssTimer);
        this.events.fault({
          code: 'MEMORY_LIMIT',
          message: `The sandbox process grew to ${Math.round(rss / 1048576)} MB resident, over its ${Math.round(limit / 1048576)} MB ceiling (memory the isolate's ${memoryMb} MB limit does not count); it was replaced`,
        });
      }
    }, RSS_CHECK_MS);
    this.rssTimer.unref();
  }

  private breach(what: string): void {
    this.fault ??= { code: 'SANDBOX_CRASHED', message: `The sandbox process broke the protocol: it sent ${what}` };
    if (this.running) this.events.fault(this.fault);
    else void this.stop();
  }

  private memoryFailure(): RuntimeFailure {
    return {
      code: 'MEMORY_LIMIT',
      message: "The script exhausted the sandbox's memory (the isolate overshot its limit and V8 gave up on the sandbox process, which was replaced)",
    };
  }

  private startError(code: number | null, signal: NodeJS.Signals | null): Error {
    // isolated-vm itself failed to load: that will not get better by retrying.
    if (this.fatalMessage !== undefined) return new PermanentError(`the isolated-vm runtime is unavailable: isolated-vm failed to load in a sandbox process (${this.fatalMessage}). ${this.options.installHint}`);
    return new Error(`a sandbox process exited during start-up (${this.describeExit(code, signal)})`);
  }

  private exitFailure(code: number | null, signal: NodeJS.Signals | null): RuntimeFailure {
    if (this.fault) return this.fault;
    if (this.oomReported || V8_OOM_REPORT.test(this.stderrTail)) return this.memoryFailure();
    return { code: 'SANDBOX_CRASHED', message: `The isolated-vm sandbox process died (${this.describeExit(code, signal)}); it was replaced` };
  }

  private describeExit(code: number | null, signal: NodeJS.Signals | null): string {
    const how = signal !== null ? `signal ${signal}` : `exit code ${code}`;
    if (this.fatalMessage !== undefined) return `${how}: ${this.fatalMessage}`;
    const tail = this.stderrTail.trim().split('\n').slice(-6).join('\n');
    return tail ? `${how}: ${tail}` : how;
  }
}
