/**
 * The QuickJS runtime (quickjs-emscripten, synchronous release build): the default runtime,
 * with no native dependency. Every execution gets a fresh QuickJS runtime and context inside a
 * warm worker thread; the worker keeps the WebAssembly module loaded. The worker layer
 * (`../worker-pool.ts`) guarantees what QuickJS alone cannot: a hard stop for a native builtin
 * that ignores interrupts, and survival of an engine crash.
 */
import { createRequire } from 'node:module';
import { WorkerPool } from '../worker-pool.js';
import { buildWorkerSource } from '../worker-source.js';
import { loadPrelude } from '../prelude.js';
import { createQuickJSEngine, type QuickJSEngineOptions } from './engine.js';
import type { Runtime, RuntimeJob, RuntimeSession } from '../types.js';
import type { Engine } from '../worker-protocol.js';
import { InProcessSession } from '../in-process.js';

/** Default QuickJS stack limit: deep enough for ordinary recursion, far below the thread's stack. */
export const DEFAULT_QUICKJS_MAX_STACK_BYTES = 256 * 1024;
/** Default V8 heap cap of each QuickJS worker thread (the guest heap lives in WebAssembly memory, bounded by `memoryMb`). */
export const DEFAULT_QUICKJS_WORKER_HEAP_MB = 64;

export interface QuickJSRuntimeOptions {
  /**
   * `worker` (default): each execution runs in a pooled worker thread that the host can kill,
   * so nothing a script does can block or crash the host. `none`: in the host thread, for
   * trusted code or measurements; a native builtin that ignores interrupts then blocks the
   * host until it returns.
   */
  isolation?: 'worker' | 'none';
  /** Warm workers kept idle (default 1). */
  minIdle?: number;
  /** Most concurrent executions; more queue (default 2 × CPUs). */
  maxWorkers?: number;
  /** Time after a deadline or a terminate request before the worker is killed (default 100 ms). */
  graceMs?: number;
  /** QuickJS stack limit in bytes (default `DEFAULT_QUICKJS_MAX_STACK_BYTES`). */
  maxStackBytes?: number;
  /** V8 heap cap per worker thread in MB (default `DEFAULT_QUICKJS_WORKER_HEAP_MB`). */
  workerHeapMb?: number;
  /** Executions after which a worker is replaced (default 10,000; a worker whose heap grew is replaced sooner). */
  maxJobsPerWorker?: number;
}

/** The QuickJS runtime: a pool of worker threads, each holding a warm QuickJS WebAssembly module. */
export class QuickJSRuntime implements Runtime {
  readonly name = 'quickjs' as const;
  private readonly pool: WorkerPool | undefined;
  private readonly inProcess: Promise<Engine> | undefined;
  private disposed = false;

  constructor(options: QuickJSRuntimeOptions = {}) {
    const require = createRequire(import.meta.url);
    const engineOptions: QuickJSEngineOptions = {
      modulePath: require.resolve('quickjs-emscripten'),
      maxStackBytes: options.maxStackBytes ?? DEFAULT_QUICKJS_MAX_STACK_BYTES,
      retireHeapBytes: 128 * 1024 * 1024,
    };
    if (options.isolation === 'none') {
      this.inProcess = Promise.resolve(createQuickJSEngine(require, engineOptions));
      this.inProcess.catch(() => {});
      return;
    }
    if (options.isolation !== undefined && options.isolation !== 'worker') {
      throw new TypeError(`isolation must be "worker" or "none", got ${JSON.stringify(options.isolation)}`);
    }
    this.pool = new WorkerPool({
      name: 'toolexec-quickjs',
      source: buildWorkerSource(createQuickJSEngine, engineOptions, loadPrelude()),
      resourceLimits: { maxOldGenerationSizeMb: options.workerHeapMb ?? DEFAULT_QUICKJS_WORKER_HEAP_MB, stackSizeMb: 4 },
      minIdle: options.minIdle,
      maxWorkers: options.maxWorkers,
      graceMs: options.graceMs,
      maxJobsPerWorker: options.maxJobsPerWorker,
    });
  }

  start(job: RuntimeJob, onMessage: (message: string) => void): RuntimeSession {
    if (this.disposed) throw new Error('The quickjs runtime has been disposed');
    if (this.pool) return this.pool.start(job, onMessage);
    const prelude = job.prelude;
    // The next execution's context is built while the host is idle, as the workers do.
    return new InProcessSession(this.inProcess!, job, onMessage, (engine) =>
      setImmediate(() => {
        try {
          engine.prepare?.(prelude);
        } catch {
          // The next execution builds its sandbox itself and reports what goes wrong.
        }
      }),
    );
  }

  async warm(): Promise<void> {
    if (this.pool) return this.pool.warm();
    const engine = await this.inProcess!;
    engine.prepare?.(loadPrelude());
  }

  /** Worker counts by state (diagnostics; zeros without workers). */
  poolStats(): { starting: number; idle: number; busy: number; queued: number } {
    return this.pool?.stats() ?? { starting: 0, idle: 0, busy: 0, queued: 0 };
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    await this.pool?.dispose();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }
}

/** Creates the QuickJS runtime (the loader table in `src/runtime/load.ts` calls this by name). */
export function createQuickJSRuntime(options: QuickJSRuntimeOptions = {}): QuickJSRuntime {
  return new QuickJSRuntime(options);
}
