/**
 * The isolated-vm runtime: V8 isolates, one fresh context per execution, inside warm
 * sandbox processes that the host kills and replaces when anything goes wrong. The far side is
 * `runtimes/isolated-vm/process.js`; the lifecycle is the shared supervisor's.
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
 * Start-up stays off the critical path: processes are spawned ahead (`minIdle`, two by
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
import { createRequire } from 'node:module';
import { Supervisor } from '../supervisor.js';
import { loadPrelude } from '../guest.js';
import { checkRuntimeOptions, poolOptionsOf } from '../options.js';
import type { PoolOptions, RuntimeDriver } from '../types.js';
import { IsolatedVmWorker } from './worker.js';

/** Options of the isolated-vm runtime; every one has a default. */
export interface IsolatedVmRuntimeOptions extends PoolOptions {
  /**
   * Upper bound on any job's `memoryMb`, in MB. Default 128: above that, isolated-vm's limit
   * can be overshot by a single allocation badly enough to abort the sandbox process (the host
   * survives and reports MEMORY_LIMIT, but the process has to be replaced).
   */
  maxMemoryMb?: number;
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
  /** The guest prelude (default: toolexec's own, `runtimes/prelude.js`). */
  prelude?: string;
}

/** Defaults of {@link IsolatedVmRuntimeOptions}. */
export const ISOLATED_VM_DEFAULTS = {
  maxWorkers: 2,
  minIdle: 2,
  graceMs: 250,
  maxJobsPerWorker: 1000,
  maxMemoryMb: 128,
  maxExecutionsPerIsolate: 50,
  processHeapMb: 256,
} as const;

const OWN_OPTIONS = ['maxMemoryMb', 'maxExecutionsPerIsolate', 'processHeapMb', 'maxProcessRssMb', 'nodePath', 'isolatedVmPath', 'prelude'] as const;

const INSTALL_HINT =
  'Install it at the major that matches your Node line (`npm install isolated-vm@5` on Node 20, @6 on 22, @7 on 24; a native module: it builds from source when no prebuilt binary ' +
  'is available, which needs python3, make and a C++ compiler). On Node 20 isolated-vm only works with ' +
  '`node --no-node-snapshot`; toolexec passes that flag to the sandbox processes it starts, so the host process itself does not need it.';

function positiveInteger(name: string, value: number | undefined, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min) throw new TypeError(`isolated-vm runtime: ${name} must be an integer >= ${min}, got ${String(value)}`);
  return value;
}

/** The isolated-vm runtime. Nothing native is loaded in the host; not even a process starts until it is used. */
export class IsolatedVmRuntime extends Supervisor {
  constructor(options: IsolatedVmRuntimeOptions = {}) {
  checkRuntimeOptions('isolated-vm', options as Record<string, unknown>, OWN_OPTIONS);
  const maxMemoryMb = positiveInteger('maxMemoryMb', options.maxMemoryMb, ISOLATED_VM_DEFAULTS.maxMemoryMb, 8);
  const isolateUses = positiveInteger('maxExecutionsPerIsolate', options.maxExecutionsPerIsolate, ISOLATED_VM_DEFAULTS.maxExecutionsPerIsolate);
  const processHeapMb = positiveInteger('processHeapMb', options.processHeapMb, ISOLATED_VM_DEFAULTS.processHeapMb, 32);
  const maxProcessRssMb = positiveInteger('maxProcessRssMb', options.maxProcessRssMb, 0, 1);
  const nodePath = options.nodePath ?? process.execPath;
  const prelude = options.prelude ?? loadPrelude();
  const pool = poolOptionsOf(options);
  const maxWorkers = pool.maxWorkers ?? ISOLATED_VM_DEFAULTS.maxWorkers;
  let ivmPath: string | undefined;
  const rssLimitBytes = (memoryMb: number): number => {
    const heapMb = Math.min(Math.max(8, memoryMb), maxMemoryMb);
    return (maxProcessRssMb > 0 ? maxProcessRssMb : 192 + 4 * heapMb) * 1024 * 1024;
  };
  const driver: RuntimeDriver = {
    name: 'isolated-vm',
    enforces: { memoryMb: true, cpuMs: true },
    trustsFarSide: true,
    async connect() {
      const wanted = options.isolatedVmPath ?? 'isolated-vm';
      try {
        // Resolution only: the native module is loaded inside the sandbox processes.
        ivmPath = createRequire(import.meta.url).resolve(wanted);
      } catch (e) {
        throw new Error(`the isolated-vm runtime is unavailable: the package "${wanted}" could not be resolved (${(e as Error).message.split('\n')[0]}). ${INSTALL_HINT}`);
      }
    },
    createWorker: (_shape, events) =>
      new IsolatedVmWorker({ nodePath, ivmPath: ivmPath!, prelude, maxMemoryMb, processHeapMb, isolateUses, rssLimitBytes, installHint: INSTALL_HINT }, events),
  };
  super(driver, {
    ...ISOLATED_VM_DEFAULTS,
    minIdle: Math.min(ISOLATED_VM_DEFAULTS.minIdle, maxWorkers),
    ...pool,
  });
  }

  /** Process ids of the live sandbox processes (diagnostics and leak checks). */
  get processIds(): number[] {
    return this.workers().map((w) => (w as IsolatedVmWorker).pid).filter((pid): pid is number => pid !== undefined);
  }
}

/** Creates the isolated-vm runtime (the loader in `src/runtime/load.ts` calls this by name). */
export function createRuntime(options: IsolatedVmRuntimeOptions = {}): IsolatedVmRuntime {
  return new IsolatedVmRuntime(options);
}
