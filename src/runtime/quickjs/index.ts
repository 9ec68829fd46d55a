/**
 * The QuickJS runtime (quickjs-emscripten, synchronous release build): the default runtime, with
 * no native dependency. Every execution gets a fresh QuickJS runtime and context inside a warm
 * worker thread that keeps the WebAssembly module loaded; the shared supervisor
 * (`../supervisor.ts`) guarantees what QuickJS alone cannot: a hard stop for a native builtin that
 * ignores interrupts, and survival of an engine crash. The far side is `runtimes/quickjs/`.
 */
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { existsSync } from 'node:fs';
import { Supervisor } from '../supervisor.js';
import { guestPath, loadPrelude } from '../guest.js';
import { checkRuntimeOptions, poolOptionsOf } from '../options.js';
import type { PoolOptions, RuntimeDriver } from '../types.js';
import { QuickJSWorker, type QuickJSEngineOptions } from './worker.js';
import { InProcessWorker } from './in-process.js';

/** Default QuickJS stack limit: deep enough for ordinary recursion, far below the thread's stack. */
export const DEFAULT_QUICKJS_MAX_STACK_BYTES = 256 * 1024;
/** Default V8 heap cap of each QuickJS worker thread (the guest heap lives in WebAssembly memory, bounded by `memoryMb`). */
export const DEFAULT_QUICKJS_WORKER_HEAP_MB = 64;
/** A worker whose WebAssembly memory grew past this after a job is replaced. */
export const QUICKJS_RETIRE_HEAP_BYTES = 128 * 1024 * 1024;

export interface QuickJSRuntimeOptions extends PoolOptions {
  /**
   * `worker` (default): each execution runs in a pooled worker thread that the host can kill, so
   * nothing a script does can block or crash the host. `none`: in the host thread, for trusted
   * code or measurements; a native builtin that ignores interrupts then blocks the host until it
   * returns.
   */
  isolation?: 'worker' | 'none';
  /** QuickJS stack limit in bytes (default {@link DEFAULT_QUICKJS_MAX_STACK_BYTES}). */
  maxStackBytes?: number;
  /** V8 heap cap per worker thread in MB (default {@link DEFAULT_QUICKJS_WORKER_HEAP_MB}). */
  workerHeapMb?: number;
  /** The guest prelude (default: toolexec's own, `runtimes/prelude.js`). */
  prelude?: string;
}

const OWN_OPTIONS = ['isolation', 'maxStackBytes', 'workerHeapMb', 'prelude'] as const;

/** Paths of the engine's module and WebAssembly file, resolved from this package. */
function engineOptions(maxStackBytes: number): QuickJSEngineOptions {
  const require = createRequire(import.meta.url);
  const modulePath = require.resolve('quickjs-emscripten');
  let wasmPath: string | undefined;
  try {
    const pkg = createRequire(modulePath).resolve('@jitl/quickjs-wasmfile-release-sync/package.json');
    const candidate = join(dirname(pkg), 'dist', 'emscripten-module.wasm');
    if (existsSync(candidate)) wasmPath = candidate;
  } catch {
    // quickjs-emscripten finds its own file; only the once-per-thread compile is lost.
  }
  return { modulePath, ...(wasmPath ? { wasmPath } : {}), maxStackBytes, retireHeapBytes: QUICKJS_RETIRE_HEAP_BYTES, servicesPath: guestPath('services.js') };
}

/** The QuickJS runtime: a supervised pool of worker threads (or host-thread sandboxes). */
export class QuickJSRuntime extends Supervisor {
  constructor(options: QuickJSRuntimeOptions = {}) {
    checkRuntimeOptions('quickjs', options as Record<string, unknown>, OWN_OPTIONS);
    const isolation = options.isolation ?? 'worker';
    if (isolation !== 'worker' && isolation !== 'none') {
      throw new TypeError(`quickjs runtime: isolation must be "worker" or "none", got ${JSON.stringify(options.isolation)}`);
    }
    const maxStackBytes = options.maxStackBytes ?? DEFAULT_QUICKJS_MAX_STACK_BYTES;
    const workerHeapMb = options.workerHeapMb ?? DEFAULT_QUICKJS_WORKER_HEAP_MB;
    for (const [key, value] of [['maxStackBytes', maxStackBytes], ['workerHeapMb', workerHeapMb]] as const) {
      if (!Number.isInteger(value) || value < 0 || (key === 'workerHeapMb' && value === 0)) {
        throw new TypeError(`quickjs runtime: ${key} must be a positive integer, got ${String(value)}`);
      }
    }
    const prelude = options.prelude ?? loadPrelude();
    const engine = engineOptions(maxStackBytes);
    let seq = 0;
    const driver: RuntimeDriver = {
      name: 'quickjs',
      enforces: { memoryMb: true, cpuMs: true },
      trustsFarSide: true,
      createWorker: (_shape, events) =>
        isolation === 'none'
          ? new InProcessWorker({ ...engine, prelude }, events)
          : new QuickJSWorker(
              { name: `toolexec-quickjs-${++seq}`, engine, prelude, resourceLimits: { maxOldGenerationSizeMb: workerHeapMb, stackSizeMb: 4 } },
              events,
            ),
    };
    super(driver, { maxWorkers: Math.max(2, availableParallelism() * 2), ...poolOptionsOf(options) });
  }
}

/** Creates the QuickJS runtime (the loader in `src/runtime/load.ts` calls this by name). */
export function createRuntime(options: QuickJSRuntimeOptions = {}): QuickJSRuntime {
  return new QuickJSRuntime(options);
}
