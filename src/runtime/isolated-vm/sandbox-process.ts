/**
 * One isolated-vm sandbox process, seen from the host: spawn, the line protocol of
 * `child-source.ts`, and a hard kill. It knows nothing of jobs' limits; the runtime
 * (`index.ts`) drives it and decides when to kill it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { CHILD_SOURCE } from './child-source.js';
import type { RuntimeFailure } from '../types.js';

/** Messages the child writes (see `child-source.ts`). */
export type ChildMessage =
  | { t: 'ready'; pid: number }
  | { t: 'fatal'; message: string }
  | { t: 'msg'; j: number; m: string }
  | {
      t: 'end';
      j: number;
      failure: RuntimeFailure | null;
      stats: { durationMs: number; cpuMs?: number; memoryBytes?: number };
      /** The first promise rejection nobody handled, if any (isolated-vm surfaces them). */
      unhandled?: string | null;
    };

export interface SandboxProcessOptions {
  nodePath: string;
  ivmPath: string;
  maxMemoryMb: number;
  /** `--max-old-space-size` of the child's own Node heap (messages in transit live there). */
  childHeapMb: number;
  isolateUses: number;
  /** Time the process may take to load isolated-vm and say ready. */
  startTimeoutMs: number;
}

/** Last bytes of the child's stderr kept to explain a crash (V8 prints its OOM report there). */
const STDERR_TAIL = 8192;

/** V8's fatal heap report (`<--- Last few GCs --->`, `<--- JS stacktrace --->`, "heap out of memory"). */
export const V8_OOM_REPORT = /<--- (Last few GCs|JS stacktrace) --->|heap out of memory|is_heap_oom|Allocation failed/;

export class SandboxProcess {
  readonly child: ChildProcess;
  /** Settles once the child has said `ready`; rejects with the reason it could not start. */
  readonly ready: Promise<void>;
  /** Settles when the process has exited, for whatever reason. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  alive = true;
  /** Number of jobs started in this process. */
  jobs = 0;
  onMessage: ((m: ChildMessage) => void) | undefined;
  onExit: ((code: number | null, signal: NodeJS.Signals | null) => void) | undefined;
  /**
   * Called once when V8 prints its fatal out-of-memory report. The process is doomed then, and
   * may even hang inside the OOM handler instead of exiting (seen with isolated-vm issue 527's
   * allocation inside an async function), so the owner kills it rather than waiting.
   */
  onOutOfMemory: (() => void) | undefined;
  /** Whether V8's fatal out-of-memory report has appeared on stderr. */
  oomReported = false;
  /** The load error the child reported before exiting, when isolated-vm could not be used at all. */
  fatalMessage: string | undefined;
  private stderrTail = '';
  private readonly input: Writable;
  private outbox: string[] = [];
  private flushQueued = false;

  constructor(options: SandboxProcessOptions) {
    const env: NodeJS.ProcessEnv = { ...process.env };
    // The child is our own program: nothing from the host's NODE_OPTIONS (loaders, inspectors,
    // a missing --no-node-snapshot) should change how it starts.
    delete env.NODE_OPTIONS;
    env.TOOLEXEC_IVM_PATH = options.ivmPath;
    env.TOOLEXEC_IVM_MAX_MEMORY_MB = String(options.maxMemoryMb);
    env.TOOLEXEC_IVM_ISOLATE_USES = String(options.isolateUses);
    this.child = spawn(
      options.nodePath,
      ['--no-node-snapshot', `--max-old-space-size=${options.childHeapMb}`, '-e', CHILD_SOURCE],
      { stdio: ['pipe', 'ignore', 'pipe', 'pipe'], env, windowsHide: true },
    );
    this.input = this.child.stdin as Writable;
    // A write to a child that just died raises EPIPE here; the exit handler reports it.
    this.input.on('error', () => {});
    const stderr = this.child.stderr as Readable;
    stderr.setEncoding('utf8');
    stderr.on('data', (chunk: string) => {
      this.stderrTail = (this.stderrTail + chunk).slice(-STDERR_TAIL);
      if (!this.oomReported && V8_OOM_REPORT.test(this.stderrTail)) {
        this.oomReported = true;
        this.onOutOfMemory?.();
      }
    });
    const out = this.child.stdio[3] as Readable;
    out.setEncoding('utf8');
    let buffered = '';
    let resolveReady!: () => void;
    let rejectReady!: (e: Error) => void;
    this.ready = new Promise<void>((resolve, reject) => {
      resolveReady = resolve;
      rejectReady = reject;
    });
    // Nobody may be waiting yet; the rejection is still observed by whoever awaits `ready`.
    this.ready.catch(() => {});
    out.on('data', (chunk: string) => {
      // Only the new chunk is searched, so a long message arriving in many chunks stays linear.
      if (chunk.indexOf('\n') === -1) {
        buffered += chunk;
        return;
      }
      const lines = (buffered + chunk).split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        let m: ChildMessage;
        try {
          m = JSON.parse(line) as ChildMessage;
        } catch {
          continue;
        }
        if (m.t === 'ready') {
          clearTimeout(startTimer);
          // Idle sandbox processes must not keep the host alive; a running job holds its own
          // timer, which does.
          this.child.unref();
          for (const s of [this.child.stdin, this.child.stderr, this.child.stdio[3]]) (s as Socket | null)?.unref?.();
          resolveReady();
        } else if (m.t === 'fatal') this.fatalMessage = m.message;
        else this.onMessage?.(m);
      }
    });
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.alive = false;
        clearTimeout(startTimer);
        rejectReady(new Error(this.fatalMessage ?? this.describeExit(code, signal)));
        // stdio may still hold the last lines; let them drain before reporting the exit.
        setImmediate(() => {
          this.onExit?.(code, signal);
          resolve({ code, signal });
        });
      });
    });
    this.child.once('error', (err) => {
      this.alive = false;
      clearTimeout(startTimer);
      rejectReady(err);
    });
    const startTimer = setTimeout(() => {
      rejectReady(new Error(`the sandbox process did not start within ${options.startTimeoutMs} ms`));
      this.kill();
    }, options.startTimeoutMs);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** What the child printed last on stderr (V8 fatal errors land there). */
  get stderr(): string {
    return this.stderrTail;
  }

  describeExit(code: number | null, signal: NodeJS.Signals | null): string {
    const how = signal !== null ? `signal ${signal}` : `exit code ${code}`;
    if (this.fatalMessage !== undefined) return `${how}: ${this.fatalMessage}`;
    const tail = this.stderrTail.trim().split('\n').slice(-6).join('\n');
    return tail ? `${how}: ${tail}` : how;
  }

  /** Queues one protocol object; everything queued in the same tick goes out in one write. */
  post(message: object): void {
    if (!this.alive) return;
    this.outbox.push(JSON.stringify(message));
    if (!this.flushQueued) {
      this.flushQueued = true;
      queueMicrotask(() => this.flush());
    }
  }

  private flush(): void {
    this.flushQueued = false;
    if (this.outbox.length === 0 || !this.alive) return;
    const text = this.outbox.join('\n') + '\n';
    this.outbox = [];
    this.input.write(text);
  }

  /** SIGKILL: the child may be stuck inside a native builtin and cannot be asked. */
  kill(): void {
    if (!this.alive) return;
    // Whoever awaits `exited` (dispose) must see the exit: keep the event loop alive until then.
    this.child.ref();
    this.child.kill('SIGKILL');
  }

  /** Polite shutdown for an idle process: closing stdin makes its read loop exit. */
  close(): void {
    if (!this.alive) return;
    this.child.ref();
    this.input.end();
  }
}
