/**
 * The host end of one QuickJS sandbox worker thread (`runtimes/quickjs/worker.js`): start-up,
 * the job port with its shared control word, and the hard stop. `worker.terminate()` stops any
 * JavaScript or WebAssembly running in the thread, and `resourceLimits` caps its V8 heap, so the
 * host survives what the engine alone cannot stop (QuickJS does not check interrupts inside
 * native builtins such as a huge `Array.prototype.join`, nor reliably in promise jobs).
 */
import { MessageChannel, Worker, type MessagePort, type ResourceLimits } from 'node:worker_threads';
import type { HostToSandbox, RuntimeFailure, SandboxToHost, SandboxWorker, WorkerEvents } from '../types.js';
import { guestPath } from '../guest.js';

/** Index in the shared control `Int32Array`: bumped by the host after each post on the job port. */
const CTRL_SEQ = 0;
/** Index in the shared control `Int32Array`: non-zero while the host asks the current job to stop. */
const CTRL_ABORT = 1;
const CTRL_BYTES = 8;

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

type FromWorker = SandboxToHost | { t: 'ready'; tid?: number } | { t: 'fatal'; message: string } | { t: 'prepared' };

export class QuickJSWorker implements SandboxWorker {
  private readonly worker: Worker;
  private readonly ctrl: Int32Array;
  private readonly port: MessagePort;
  private readonly exited: Promise<void>;
  private fatal: string | undefined;
  private lastError: (Error & { code?: string }) | undefined;
  private ready: Promise<void>;
  prepared = true;
  /** The OS thread id of the sandbox thread (Linux), once it is ready; for diagnostics and leak checks. */
  osThreadId: number | undefined;

  constructor(options: QuickJSWorkerOptions, events: WorkerEvents) {
    const control = new SharedArrayBuffer(CTRL_BYTES);
    this.ctrl = new Int32Array(control);
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    this.worker = new Worker(guestPath('quickjs/worker.js'), {
      name: options.name,
      workerData: { control, port: port2, engine: options.engine, prelude: options.prelude, warm: true },
      transferList: [port2],
      resourceLimits: options.resourceLimits,
      stdout: false,
      stderr: false,
      // The far side is our own program: nothing from the host's flags (a loader, an inspector)
      // should change how it runs.
      execArgv: [],
    });
    this.port.unref();
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
    this.worker.on('message', (m: FromWorker) => {
      if (m.t === 'prepared') this.prepared = true;
      else if (m.t === 'out' || m.t === 'end') {
        if (m.t === 'end') this.prepared = false;
        events.message(m);
      }
    });
    this.worker.on('error', (err) => {
      this.lastError = err;
    });
    this.exited = new Promise((resolve) => {
      this.worker.once('exit', () => {
        events.exit(this.exitFailure());
        resolve();
      });
    });
  }

  start(): Promise<void> {
    return this.ready;
  }

  send(message: HostToSandbox): void {
    this.port.postMessage(message);
    if (message.t === 'abort') Atomics.store(this.ctrl, CTRL_ABORT, 1);
    Atomics.add(this.ctrl, CTRL_SEQ, 1);
    Atomics.notify(this.ctrl, CTRL_SEQ);
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
