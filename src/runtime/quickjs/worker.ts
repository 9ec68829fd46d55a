/**
 * The host end of one QuickJS sandbox worker thread (`runtimes/quickjs/worker.js`): start-up,
 * the shared-memory rings (`ring.ts`) with their ports for what does not fit, and the hard stop.
 * `worker.terminate()` stops any JavaScript or WebAssembly running in the thread, and
 * `resourceLimits` caps its V8 heap, so the host survives what the engine alone cannot stop
 * (QuickJS does not check interrupts inside native builtins such as a huge
 * `Array.prototype.join`, nor reliably in promise jobs).
 *
 * What the thread writes into shared memory is read as hostile (the thread runs the guest's
 * engine): the ring reader checks every length, a marker must have its port message, a message
 * that breaks the protocol is a fault, and the work of one wake-up is bounded by the ring's size.
 */
import { MessageChannel, Worker, receiveMessageOnPort, type MessagePort, type ResourceLimits } from 'node:worker_threads';
import type { HostToSandbox, RuntimeFailure, SandboxOutcome, SandboxToHost, SandboxWorker, WorkerEvents } from '../types.js';
import { guestPath } from '../guest.js';
import { currentCpu } from '../current-cpu.js';
import { bridgeCounts, mayPoll } from '../spare-core.js';
import { CTRL, CTRL_WORDS, KIND, RingReader, RingWriter, createSharedBuffer, type RingRecord } from './ring.js';

/** `Atomics.waitAsync` (Node 16+; ES2024, past this project's `lib`). */
const waitAsync = (Atomics as unknown as { waitAsync(a: Int32Array, i: number, v: number): { async: false; value: string } | { async: true; value: Promise<string> } }).waitAsync;

/** Jobs running in QuickJS threads of this process, across runtimes: polling is allowed while a core is free (spare-core.ts). */
let running = 0;
/** The threads running those jobs, so that a job starting or ending can give or take their leave to poll. */
const busyWorkers = new Set<QuickJSWorker>();

/**
 * Tells every running thread whether it may poll now. Without this, a thread kept the leave it
 * got when its job started, and polled on a machine whose cores another job's thread and the
 * host then needed.
 */
function updatePollLeave(): void {
  const ok = mayPoll(running) ? 1 : 0;
  for (const w of busyWorkers) w.allowPolling(ok);
}

/** Longest `end` message accepted (a failure's message and stack are capped on the far side). */
const MAX_END_CHARS = 1024 * 1024;
/** How long the host polls the ring after the thread's last message while a job runs (ms). */
const HOST_POLL_MS = 0.3;
/**
 * The host stops polling once the thread, awake (not waiting to be notified), has left the host's
 * last write unread for this long: it is then waiting for a CPU, likely this one, and polling
 * would only keep it from running (see TAKEN_MS in runtimes/quickjs/worker.js, which has the
 * measurements).
 */
const TAKEN_MS = 0.06;
/** How long a reading of the CPU this thread runs on stays good (ms; see `recentCpu`). */
const CPU_FRESH_MS = 1;
/** Wake-ups handled in one turn before the host yields to its event loop (a thread that keeps ringing cannot hold it). */
const MAX_DRAINS_PER_TURN = 8;
/** How long the host waits synchronously for the thread's next message after a reply (ms; see `awaitNext`). */
const HOST_SPIN_MS = 0.03;
/** Most time the host handles the thread's messages from replies, without a turn of its event loop (ms). */
const TURN_BUDGET_MS = 1;
/** Turns of a spin between readings of the clock (see `awaitNext`; about 0.5 µs here: 17 ns a turn). */
const SPIN_CLOCK_EVERY = 32;

/** What the far side's engine needs (see `runtimes/quickjs/engine.js`). */
export interface QuickJSEngineOptions {
  /** Resolved path of the `quickjs-emscripten` CommonJS entry. */
  modulePath: string;
  /** Resolved path of the release-sync WebAssembly file, compiled once per thread when given. */
  wasmPath?: string;
  /** QuickJS stack limit; recursion past it is a catchable `InternalError: stack overflow`. */
  maxStackBytes: number;
  /** A sandbox whose WebAssembly memory grew past this is replaced after its job. */
  retireHeapBytes: number;
  /** Path of `runtimes/services.js`, the guest's synchronous services (URL, Intl, the standard library). */
  servicesPath: string;
}

export interface QuickJSWorkerOptions {
  name: string;
  engine: QuickJSEngineOptions;
  prelude: string;
  resourceLimits: ResourceLimits;
}

type FromWorker = { t: 'ready'; tid?: number } | { t: 'fatal'; message: string };

export class QuickJSWorker implements SandboxWorker {
  private readonly worker: Worker;
  private readonly ctrl: Int32Array;
  private readonly port: MessagePort;
  /** Host → thread messages too big for a record. */
  private readonly bigOut: MessagePort;
  /** Thread → host messages too big for a record. */
  private readonly bigIn: MessagePort;
  private readonly reader: RingReader;
  private readonly writer: RingWriter;
  private readonly events: WorkerEvents;
  /** Replies waiting for room in the ring, in order. */
  private backlog: Array<{ id: number; text: string }> = [];
  private backlogTimer: NodeJS.Timeout | undefined;
  private waiting = false;
  /** Polling the ring on the event loop (see `listen`). */
  private polling = false;
  private pollUntil = 0;
  /** When `listen` last ran: the event loop turned (see `awaitNext`). */
  private turnAt = 0;
  /** Inside `drain`: a reply sent from a message handler must not drain again (`records` is in use). */
  private draining = false;
  /** Messages of this job that `awaitNext` took, for `lastBridge`. */
  private caught = 0;
  /** When the host last wrote to the thread (doorbell). */
  private wroteAt = 0;
  /** Records drained so far (a poll window restarts after each). */
  private drained = 0;
  /** The CPU this thread ran on at `cpuAt`, as published in HOST_CPU (-1: unknown). */
  private cpu = -1;
  private cpuAt = -Infinity;
  private gone = false;
  private busy = false;
  private readonly records: RingRecord[] = [];
  private readonly exited: Promise<void>;
  private fatal: string | undefined;
  private lastError: (Error & { code?: string }) | undefined;
  private ready: Promise<void>;
  prepared = true;
  /** After a job: whether the thread builds its next sandbox without a new engine instance first. */
  readySoon = false;
  /** The OS thread id of the sandbox thread (Linux), once it is ready; for diagnostics and leak checks. */
  osThreadId: number | undefined;
  /**
   * The thread's own count for its last job, for diagnostics: how often it waited for the host,
   * and how many of those waits polled before sleeping (what the thread says is only reported);
   * and the host's: how many of the thread's messages it took while waiting after a reply.
   */
  lastBridge: { waits: number; polled: number; hostCaught: number } | undefined;

  constructor(options: QuickJSWorkerOptions, events: WorkerEvents) {
    const shared = createSharedBuffer();
    this.ctrl = new Int32Array(shared, 0, CTRL_WORDS);
    this.reader = new RingReader(shared);
    this.writer = new RingWriter(shared);
    this.events = events;
    const jobs = new MessageChannel();
    const toThread = new MessageChannel();
    const fromThread = new MessageChannel();
    this.port = jobs.port1;
    this.bigOut = toThread.port1;
    this.bigIn = fromThread.port1;
    this.worker = new Worker(guestPath('quickjs/worker.js'), {
      name: options.name,
      workerData: { shared, port: jobs.port2, bigIn: toThread.port2, bigOut: fromThread.port2, engine: options.engine, prelude: options.prelude, warm: true },
      transferList: [jobs.port2, toThread.port2, fromThread.port2],
      resourceLimits: options.resourceLimits,
      stdout: false,
      stderr: false,
      // The far side is our own program: nothing from the host's flags (a loader, an inspector)
      // should change how it runs.
      execArgv: process.env.TOOLEXEC_PROF_WORKER ? ['--cpu-prof', `--cpu-prof-dir=${process.env.TOOLEXEC_PROF_WORKER}`] : [],
    });
    this.port.unref();
    this.bigOut.unref();
    this.bigIn.unref();
    this.ready = new Promise<void>((resolve, reject) => {
      const onMessage = (m: FromWorker) => {
        if (m.t === 'ready') {
          if (typeof m.tid === 'number' && Number.isInteger(m.tid)) this.osThreadId = m.tid;
          this.worker.off('message', onMessage);
          resolve();
        } else if (m.t === 'fatal') {
          this.fatal = m.message;
          reject(new Error(`The QuickJS sandbox worker failed to start: ${m.message}`));
          void this.worker.terminate();
        }
      };
      this.worker.on('message', onMessage);
      this.worker.once('exit', (code) => reject(new Error(`The QuickJS sandbox worker exited during start-up (exit code ${code})${this.fatal ? `: ${this.fatal}` : ''}`)));
    });
    this.ready.catch(() => {});
    void this.ready.then(
      () => this.listen(),
      () => undefined,
    );
    this.worker.on('error', (err) => {
      this.lastError = err;
    });
    this.exited = new Promise((resolve) => {
      this.worker.once('exit', () => {
        this.gone = true;
        this.idle();
        clearTimeout(this.backlogTimer);
        // Settles the host's own pending wait, so nothing of this worker stays registered.
        Atomics.notify(this.ctrl, CTRL.W2H_SEQ);
        events.exit(this.exitFailure());
        resolve();
      });
    });
  }

  start(): Promise<void> {
    return this.ready;
  }

  send(message: HostToSandbox): void {
    if (this.gone) return;
    if (message.t === 'job') {
      if (!this.busy) {
        this.busy = true;
        running++;
        busyWorkers.add(this);
      }
      // A thread may poll for replies only while a core is free for it (spare-core.ts).
      updatePollLeave();
      this.cpuAt = -Infinity;
      this.caught = 0;
      this.port.postMessage(message);
      // The idle thread listens on the port or lingers on the word: either wakes it.
      Atomics.add(this.ctrl, CTRL.H2W_SEQ, 1);
      Atomics.notify(this.ctrl, CTRL.H2W_SEQ);
      return;
    }
    if (message.t === 'abort') {
      // The engine's interrupt handler reads this word: no message needs to reach the thread.
      Atomics.store(this.ctrl, CTRL.ABORT, message.id & 0x7fffffff);
    } else {
      for (const text of message.m) this.backlog.push({ id: message.id, text });
      this.flushBacklog();
    }
    this.doorbell();
    if (message.t !== 'abort') this.awaitNext();
  }

  /**
   * After a reply, while polling is allowed and the thread runs on another CPU: waits here, in
   * the reply's own task, for the thread's next message, up to HOST_SPIN_MS, and handles it at
   * once. A script's next tool call then waits for no event-loop turn (with the host polling once
   * per turn, 2–6 µs passed from the thread's write to the host's read). The event loop still
   * turns at least every TURN_BUDGET_MS: past it, the next message waits for `listen`.
   */
  private awaitNext(): void {
    if (this.draining || !this.busy || this.gone) return;
    const start = performance.now();
    if (start - this.turnAt > TURN_BUDGET_MS || !mayPoll(running) || this.besideWorker(start)) return;
    const until = start + HOST_SPIN_MS;
    // The clock only every SPIN_CLOCK_EVERY turns: each reading is a new heap number, and reading
    // it every turn made this loop most of the host's garbage (2.4 KB a tool call, a scavenge of
    // 0.7–1.1 ms every 30 ms, during which the thread waits).
    for (let i = 1; !this.reader.pending; i++) {
      if (i % SPIN_CLOCK_EVERY === 0 && performance.now() >= until) return;
    }
    this.caught++;
    // The poll window counts from the thread's last message: without this, the window `listen`
    // opened before this run of replies had long closed when the turn budget handed back to the
    // event loop, and the host slept once a millisecond (14–21 times in a 1,000-call job here,
    // each costing the thread a notify and the next call a wake-up).
    this.pollUntil = start + HOST_POLL_MS;
    this.drain();
  }

  /** Writes waiting replies into the ring in order; what does not fit now waits for room, what never fits goes on the port. */
  private flushBacklog(): void {
    let i = 0;
    try {
      for (; i < this.backlog.length; i++) {
        const { id, text } = this.backlog[i]!;
        if (RingWriter.fits(text)) {
          if (!this.writer.write(KIND.REPLY, id, text)) break;
        } else {
          // The message goes first: the thread takes it from the port when it reads the marker.
          if (!this.writer.hasRoom(0)) break;
          this.bigOut.postMessage({ t: 'reply', id, m: [text] });
          this.writer.write(KIND.PORT, 0, '');
        }
      }
    } catch (e) {
      this.backlog = [];
      this.violation((e as Error).message);
      return;
    }
    this.backlog = i === this.backlog.length ? [] : this.backlog.slice(i);
    if (this.backlog.length > 0 && !this.backlogTimer) {
      // The thread frees room as it reads; look again shortly.
      this.backlogTimer = setTimeout(() => {
        this.backlogTimer = undefined;
        if (this.gone) return;
        this.flushBacklog();
        this.doorbell();
      }, 1);
    }
  }

  /**
   * The CPU this thread runs on, read at most once a millisecond and first thing after a job
   * starts (the thread's twin, `recentCpu` in runtimes/quickjs/worker.js, says why).
   */
  private recentCpu(now: number): number {
    if (now - this.cpuAt > CPU_FRESH_MS) {
      this.cpuAt = now;
      const cpu = currentCpu();
      if (cpu !== this.cpu) {
        this.cpu = cpu;
        Atomics.store(this.ctrl, CTRL.HOST_CPU, cpu + 1);
      }
    }
    return this.cpu;
  }

  /** Whether the sandbox thread last waited on the CPU this thread runs on now. */
  private besideWorker(now: number): boolean {
    const cpu = this.recentCpu(now);
    return cpu >= 0 && Atomics.load(this.ctrl, CTRL.WORKER_CPU) === cpu + 1;
  }

  /** Tells the thread there is something for it; wakes it only when it sleeps. */
  private doorbell(): void {
    this.wroteAt = performance.now();
    Atomics.add(this.ctrl, CTRL.H2W_SEQ, 1);
    if (Atomics.load(this.ctrl, CTRL.WORKER_WAITING) !== 0) Atomics.notify(this.ctrl, CTRL.H2W_SEQ);
  }

  /**
   * Drains the thread's ring whenever it rings, sleeping in `Atomics.waitAsync` in between. While
   * a job runs and a core is free (spare-core.ts), the host first polls the ring once per event
   * loop turn for a short while after each message: the thread's next request (a script's next
   * tool call) then needs no wake-up, which on a virtual machine costs the thread's side tens of
   * microseconds and the host more in latency.
   */
  private listen(): void {
    this.turnAt = performance.now();
    if (this.waiting || this.polling || this.gone) return;
    for (let turn = 0; turn < MAX_DRAINS_PER_TURN; turn++) {
      const seq = Atomics.load(this.ctrl, CTRL.W2H_SEQ);
      const before = this.drained;
      this.drain();
      if (this.gone) return;
      // Where this thread runs, for the sandbox thread's choice to poll; and neither polls for a
      // peer on its own CPU (current-cpu.ts). Read only while polling is allowed (SPIN_OK
      // follows the same rule): with every core taken the reads cost 6–7% of executions/s.
      const now = performance.now();
      if (this.busy && mayPoll(running) && !this.besideWorker(now)) {
        if (this.drained !== before || this.pollUntil === 0) this.pollUntil = now + HOST_POLL_MS;
        if (now < this.pollUntil && !(now - this.wroteAt > TAKEN_MS && Atomics.load(this.ctrl, CTRL.WORKER_WAITING) === 0 && this.writer.unread)) {
          this.polling = true;
          setImmediate(() => {
            this.polling = false;
            this.listen();
          });
          return;
        }
      }
      this.pollUntil = 0;
      Atomics.store(this.ctrl, CTRL.HOST_WAITING, 1);
      if (this.reader.pending) {
        Atomics.store(this.ctrl, CTRL.HOST_WAITING, 0);
        continue;
      }
      const w = waitAsync(this.ctrl, CTRL.W2H_SEQ, seq);
      if (!w.async) {
        Atomics.store(this.ctrl, CTRL.HOST_WAITING, 0);
        continue;
      }
      this.waiting = true;
      void w.value.then(() => {
        this.waiting = false;
        Atomics.store(this.ctrl, CTRL.HOST_WAITING, 0);
        this.listen();
      });
      return;
    }
    // The thread keeps ringing: give the event loop its turn, then go on.
    setImmediate(() => this.listen());
  }

  private drain(): void {
    if (this.draining) return;
    this.draining = true;
    try {
      this.drainRecords();
    } finally {
      this.draining = false;
    }
  }

  private drainRecords(): void {
    const records = this.records;
    records.length = 0;
    const violation = this.reader.drain(records);
    this.drained += records.length;
    let outId = -1;
    let out: string[] = [];
    const flushOut = () => {
      if (out.length === 0) return;
      const m = out;
      out = [];
      this.events.message({ t: 'out', id: outId, m });
    };
    for (const r of records) {
      if (this.gone) return;
      if (r.kind === KIND.OUT) {
        if (r.id !== outId) flushOut();
        outId = r.id;
        out.push(r.text);
        continue;
      }
      flushOut();
      if (r.kind === KIND.END) {
        const end = this.parseEnd(r.text);
        if (!end) return this.violation('an end record that is not an outcome');
        this.prepared = false;
        this.readySoon = !end.slow;
        this.idle();
        this.events.message({ t: 'end', id: r.id, outcome: end.outcome, ...(end.retire ? { retire: true } : {}) });
      } else if (r.kind === KIND.PREPARED) {
        this.prepared = true;
      } else if (r.kind === KIND.PORT) {
        const got = receiveMessageOnPort(this.bigIn);
        const m = got?.message as SandboxToHost | undefined;
        if (!m || typeof m !== 'object' || typeof m.id !== 'number') return this.violation('a port marker without its message');
        if (m.t === 'out' && Array.isArray(m.m) && m.m.every((t) => typeof t === 'string')) {
          this.events.message({ t: 'out', id: m.id, m: m.m });
        } else if (m.t === 'end' && m.outcome !== null && typeof m.outcome === 'object') {
          this.prepared = false;
          this.readySoon = false;
          this.idle();
          this.events.message({ t: 'end', id: m.id, outcome: m.outcome, ...(m.retire === true ? { retire: true } : {}) });
        } else {
          return this.violation('a port message outside the protocol');
        }
      }
    }
    flushOut();
    if (violation) this.violation(violation);
  }

  /** The job is over (or the thread is gone): it no longer counts as running. */
  private idle(): void {
    if (!this.busy) return;
    this.busy = false;
    running--;
    busyWorkers.delete(this);
    this.allowPolling(0);
    updatePollLeave();
  }

  /** Sets the thread's leave to poll for replies (control word SPIN_OK), read at every wait. */
  allowPolling(ok: 0 | 1): void {
    if (Atomics.load(this.ctrl, CTRL.SPIN_OK) !== ok) Atomics.store(this.ctrl, CTRL.SPIN_OK, ok);
  }

  private parseEnd(text: string): { outcome: SandboxOutcome; retire: boolean; slow: boolean } | undefined {
    if (text.length > MAX_END_CHARS) return undefined;
    try {
      const v = JSON.parse(text) as { outcome?: unknown; retire?: unknown; slow?: unknown; bridge?: unknown };
      if (v === null || typeof v !== 'object' || v.outcome === null || typeof v.outcome !== 'object') return undefined;
      const counts = bridgeCounts(v.bridge);
      this.lastBridge = counts && { ...counts, hostCaught: this.caught };
      return { outcome: v.outcome as SandboxOutcome, retire: v.retire === true, slow: v.slow === true };
    } catch {
      return undefined;
    }
  }

  /** The thread broke the transport's rules: whatever it runs ends, and it is replaced. */
  private violation(what: string): void {
    if (this.gone) return;
    this.events.fault({ code: 'SANDBOX_CRASHED', message: `The QuickJS sandbox thread broke the transport protocol: ${what}` });
    void this.stop();
  }


  stop(): Promise<void> {
    void this.worker.terminate().catch(() => 0);
    return this.exited;
  }

  ref(): void {
    this.worker.ref();
  }

  unref(): void {
    this.worker.unref();
  }

  /** The thread's id (diagnostics and leak checks). */
  get threadId(): number {
    return this.worker.threadId;
  }

  private exitFailure(): RuntimeFailure {
    const err = this.lastError;
    if (err?.code === 'ERR_WORKER_OUT_OF_MEMORY') return { code: 'MEMORY_LIMIT', message: 'The sandbox ran out of memory and was stopped' };
    return { code: 'SANDBOX_CRASHED', message: `The QuickJS sandbox worker died${err ? `: ${err.message}` : this.fatal ? `: ${this.fatal}` : ''}` };
  }
}
