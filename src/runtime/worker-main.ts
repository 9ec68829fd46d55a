/**
 * The worker side of every worker-based runtime: receives a job, drives the engine
 * synchronously, carries messages, enforces the deadline, CPU budget and output cap from
 * inside the thread, and reports one `end` per job. The host-side pool
 * (`worker-pool.ts`) supervises from outside and hard-kills what this loop cannot stop.
 *
 * `workerMain` is sent to the worker as source text (`buildWorkerSource`), so it must stay
 * self-contained: no references to anything outside its own body.
 */
import type { EngineFactory } from './worker-protocol.js';

/* eslint-disable */
export function workerMain(req: NodeJS.Require, createEngine: EngineFactory, engineOptions: unknown, warmPrelude?: string | null): void {
  const wt = req('node:worker_threads') as typeof import('node:worker_threads');
  const parentPort = wt.parentPort!;
  const data = wt.workerData as { control: SharedArrayBuffer; port: import('node:worker_threads').MessagePort };
  const ctrl = new Int32Array(data.control);
  const port = data.port;
  const SEQ = 0;
  const ABORT = 1;
  const now = () => performance.now();
  let engine: any;
  let lastPrelude = '';

  Promise.resolve()
    .then(() => createEngine(req, engineOptions))
    .then(
      (e) => {
        engine = e;
        if (typeof warmPrelude === 'string') {
          // One throwaway job, so the first real execution does not pay for the engine's own
          // warm-up (lazy WebAssembly compilation, first allocations), then a sandbox ready ahead.
          lastPrelude = warmPrelude;
          const quiet = { post() {}, shouldInterrupt: () => false, fail() {} };
          const limits = { timeoutMs: 10_000, memoryMb: 64, maxOutputBytes: 1 << 20 };
          const ej = engine.start({ prelude: warmPrelude, code: '__toolexec_start(async function () {\nreturn 1;\n});', filename: 'warmup.js', lineOffset: 1, limits }, quiet);
          ej.finish();
          if (ej.dispose) ej.dispose();
          if (engine.prepare) engine.prepare(warmPrelude);
        }
        parentPort.postMessage({ t: 'ready' });
      },
      (err) => {
        parentPort.postMessage({ t: 'fatal', message: String((err && err.stack) || err) });
      },
    );

  // Jobs come on the job port (and, from older hosts, on parentPort). After a job the worker
  // lingers a while blocked in Atomics.wait, where the next job wakes it much sooner than an
  // event-loop message would; when nothing comes it returns to its event loop.
  const LINGER_MS = 50;
  const serve = (first: any) => {
    let msg = first;
    while (msg) {
      const keep = runJob(msg);
      msg = keep ? linger() : undefined;
    }
  };
  const linger = (): any => {
    const until = now() + LINGER_MS;
    for (;;) {
      const seq = Atomics.load(ctrl, SEQ);
      const r = wt.receiveMessageOnPort(port);
      if (r) {
        if (r.message && r.message.t === 'job') return r.message;
        continue; // a late reply for a finished job
      }
      const left = until - now();
      if (left <= 0) return undefined;
      Atomics.wait(ctrl, SEQ, seq, left);
    }
  };
  parentPort.on('message', (msg: any) => {
    if (msg && msg.t === 'job') serve(msg);
  });
  port.on('message', (msg: any) => {
    if (msg && msg.t === 'job') serve(msg);
  });

  /** Runs one job; returns whether this worker can take another. */
  function runJob(msg: any): boolean {
    const id = msg.id as number;
    const job = msg.job;
    if (typeof job.prelude === 'string') lastPrelude = job.prelude;
    const limits = job.limits;
    const started = now();
    const deadline = started + Math.max(0, msg.remainingMs);
    const cpuBudget = typeof limits.cpuMs === 'number' && limits.cpuMs > 0 ? limits.cpuMs : 0;
    const maxOut = limits.maxOutputBytes;
    let cpuUsed = 0;
    let sliceStart = 0;
    let inSlice = false;
    let batch: string[] = [];
    let batchBytes = 0;
    let outBytes = 0;
    let done = false;
    let stop: any;
    let pendingReplies: string[] = [];

    const flush = () => {
      if (batch.length === 0) return;
      parentPort.postMessage({ t: 'out', id, m: batch });
      batch = [];
      batchBytes = 0;
    };
    // Drains the job port: replies are queued, an abort becomes the stop reason.
    const drain = () => {
      for (;;) {
        const r = wt.receiveMessageOnPort(port);
        if (!r) return;
        const m = r.message;
        if (!m || m.id !== id) continue; // left over from an earlier job
        if (m.t === 'reply') for (const text of m.m) pendingReplies.push(text);
        else if (m.t === 'abort' && !stop) stop = m.failure;
      }
    };
    const io = {
      post(text: string) {
        if (done || stop) return;
        if (typeof text !== 'string') return;
        const isDone = text.startsWith('{"op":"done"');
        if (isDone || text.startsWith('{"op":"log"')) {
          outBytes += text.length;
          if (outBytes > maxOut) {
            stop = {
              code: 'OUTPUT_LIMIT',
              message: `The script's output (logs and result) exceeded maxOutputBytes (${maxOut} bytes)`,
            };
            return;
          }
        }
        batch.push(text);
        batchBytes += text.length;
        if (isDone) done = true;
        else if (batch.length >= 256 || batchBytes >= 65536) flush();
      },
      fail(failure: any) {
        if (!stop && !done) stop = failure;
      },
      shouldInterrupt() {
        if (done || stop) return true;
        if (Atomics.load(ctrl, ABORT) !== 0) {
          drain();
          if (stop) return true;
        }
        const t = now();
        if (t > deadline) {
          stop = { code: 'TIMEOUT', message: `The script exceeded its time limit of ${limits.timeoutMs} ms` };
          return true;
        }
        if (cpuBudget && inSlice && cpuUsed + (t - sliceStart) > cpuBudget) {
          stop = { code: 'TIMEOUT', message: `The script exceeded its CPU budget of ${cpuBudget} ms` };
          return true;
        }
        return false;
      },
    };
    const slice = (fn: () => void) => {
      inSlice = true;
      sliceStart = now();
      try {
        fn();
      } finally {
        cpuUsed += now() - sliceStart;
        inSlice = false;
      }
    };

    let ej: any;
    let crash: any;
    try {
      slice(() => {
        ej = engine.start({ ...job, prelude: lastPrelude }, io);
      });
      for (;;) {
        flush();
        if (done || stop || ej.failure) break;
        const seq = Atomics.load(ctrl, SEQ);
        drain();
        if (stop) break;
        if (pendingReplies.length > 0) {
          const replies = pendingReplies;
          pendingReplies = [];
          slice(() => ej.deliver(replies));
          continue;
        }
        const remaining = deadline - now();
        if (remaining <= 0) {
          stop = { code: 'TIMEOUT', message: `The script exceeded its time limit of ${limits.timeoutMs} ms` };
          break;
        }
        Atomics.wait(ctrl, SEQ, seq, remaining);
      }
    } catch (err: any) {
      crash = err;
    }
    let failure: any = done ? undefined : stop ?? (ej && ej.failure);
    let poisoned = false;
    if (crash !== undefined) {
      poisoned = true;
      if (!done && !stop) {
        failure = { code: 'SANDBOX_CRASHED', message: 'The sandbox engine failed: ' + String((crash && crash.message) || crash) };
      }
    }
    if (!done && !failure) failure = { code: 'SANDBOX_CRASHED', message: 'The sandbox ended without a result' };
    let memoryBytes: number | undefined;
    if (ej) {
      try {
        const fin = ej.finish();
        memoryBytes = fin.memoryBytes;
        if (fin.retire) poisoned = true;
      } catch (err: any) {
        // A failed dispose means the engine's heap is in an unknown state: never reuse it.
        poisoned = true;
      }
    }
    // A clean job's context is freed after the host has its answer; anything else is freed
    // first, so that a failure to free is reported with the job.
    const deferDispose = !!(ej && ej.dispose && done && !poisoned);
    if (ej && ej.dispose && !deferDispose) {
      try {
        ej.dispose();
      } catch (err: any) {
        poisoned = true;
      }
    }
    if (done) {
      // Whatever the guest queued after `done` is dropped; the done message is the last one.
      const i = batch.findIndex((t) => t.startsWith('{"op":"done"'));
      if (i >= 0) batch.length = i + 1;
    }
    flush();
    Atomics.store(ctrl, ABORT, 0);
    parentPort.postMessage({
      t: 'end',
      id,
      poisoned,
      outcome: {
        failure,
        stats: { durationMs: now() - started, cpuMs: cpuUsed, memoryBytes },
        enforced: { timeoutMs: true, memoryMb: !!(engine && engine.enforced && engine.enforced.memoryMb), cpuMs: cpuBudget > 0 },
      },
    });
    if (poisoned) return false;
    // Free this job's context and build the next sandbox now that the host has its answer.
    // A failure here leaves the engine unusable: leave the pool.
    try {
      if (deferDispose) ej.dispose();
      if (engine.prepare && lastPrelude) engine.prepare(lastPrelude);
    } catch (err: any) {
      parentPort.postMessage({ t: 'fatal', message: String((err && err.stack) || err) });
      process.exit(1);
    }
    // The pool prefers workers that said this: their next job starts without waiting.
    parentPort.postMessage({ t: 'prepared' });
    return true;
  }
}
