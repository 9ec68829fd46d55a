'use strict';
// One job on the QuickJS engine, apart from how the far side waits: the worker thread blocks in
// Atomics.wait (runtimes/quickjs/worker.js), the in-process mode waits on the host's event loop
// (src/runtime/quickjs/in-process.ts). Both drive the same object, so the stop rules (deadline,
// CPU budget, a loose output cap, abort) are written once.

const DONE_PREFIX = '{"op":"done"';
const LOG_PREFIX = '{"op":"log"';
/** Guest messages are flushed at least this often while the guest runs, so a kill loses little. */
const FLUSH_MS = 5;

/**
 * @param {any} engine the engine of runtimes/quickjs/engine.js
 * @param {number} id the job's id in the far-side protocol
 * @param {{ code: string, filename: string, limits: { timeoutMs: number, memoryMb: number, cpuMs?: number, maxOutputBytes: number } }} job
 * @param {(message: any) => void} emit sends one far-side message (`out`, `end`) to the host
 * @param {() => boolean} [abortRequested] a cheap check the interrupt handler makes (the worker's shared control word)
 * @param {{ write: (text: string) => void, ring: () => void }} [direct] where a guest message goes the
 *   moment the guest sends it (`write`), and what tells the host once the guest waits (`ring`),
 *   instead of a batch emitted after each slice. The worker thread passes its ring: a host that
 *   polls then starts on a tool call while the guest is still running up to its `await` (about
 *   1.3 µs of a 17 µs call here). The in-process mode passes nothing: its `emit` runs the host's
 *   handlers synchronously, which must not happen inside the guest's call.
 */
function createJob(engine, id, job, emit, abortRequested, direct) {
  const now = () => performance.now();
  const limits = job.limits;
  const started = now();
  const deadline = started + Math.max(0, limits.timeoutMs);
  const cpuBudget = typeof limits.cpuMs === 'number' && limits.cpuMs > 0 ? limits.cpuMs : 0;
  const maxOut = limits.maxOutputBytes;
  let cpuUsed = 0;
  let sliceStart = 0;
  let inSlice = false;
  let batch = [];
  let batchBytes = 0;
  let batchSince = 0;
  let outBytes = 0;
  let done = false;
  /** Messages written through `direct` since the host was last told. */
  let unrung = false;
  let stop;
  let ej;
  let crash;
  let ended = false;
  const self = {};

  const flush = () => {
    if (unrung) {
      unrung = false;
      direct.ring();
    }
    if (batch.length === 0) return;
    emit({ t: 'out', id, m: batch });
    batch = [];
    batchBytes = 0;
  };
  const timeout = () => ({ code: 'TIMEOUT', message: `The script exceeded its time limit of ${limits.timeoutMs} ms` });
  const io = {
    post(text) {
      if (done || stop || typeof text !== 'string') return;
      const isDone = text.startsWith(DONE_PREFIX);
      if (isDone || text.startsWith(LOG_PREFIX)) {
        outBytes += text.length;
        if (outBytes > maxOut) {
          stop = { code: 'OUTPUT_LIMIT', message: `The script's output (logs and result) exceeded maxOutputBytes (${maxOut} bytes)` };
          return;
        }
      }
      if (direct) {
        if (!unrung) batchSince = now();
        unrung = true;
        direct.write(text);
        if (isDone) done = true;
        return;
      }
      if (batch.length === 0) batchSince = now();
      batch.push(text);
      batchBytes += text.length;
      if (isDone) done = true;
      else if (batch.length >= 256 || batchBytes >= 65536) flush();
    },
    fail(failure) {
      if (!stop && !done) stop = failure;
    },
    shouldInterrupt() {
      if (done || stop) return true;
      if (abortRequested && abortRequested()) {
        self.onAbortSignal();
        if (stop) return true;
      }
      const t = now();
      // Output of a guest that keeps running goes out regularly: if it is killed later, what it
      // logged before is kept.
      if ((batch.length > 0 || unrung) && t - batchSince > FLUSH_MS) flush();
      if (t > deadline) {
        stop = timeout();
        return true;
      }
      if (cpuBudget && inSlice && cpuUsed + (t - sliceStart) > cpuBudget) {
        stop = { code: 'TIMEOUT', message: `The script exceeded its CPU budget of ${cpuBudget} ms` };
        return true;
      }
      return false;
    },
  };
  const slice = (fn) => {
    inSlice = true;
    sliceStart = now();
    try {
      fn();
    } catch (err) {
      crash ??= err;
    } finally {
      cpuUsed += now() - sliceStart;
      inSlice = false;
    }
    flush();
  };

  /** Called from the interrupt handler when the host's abort flag is up; the far side drains its messages. */
  self.onAbortSignal = () => {};
  /** Evaluates the job's code and runs the guest until it waits. */
  self.start = () => slice(() => {
    ej = engine.start(job, io);
  });
  /** Hands host replies to the guest and runs it until it waits. */
  self.deliver = (replies) => {
    if (self.over || !ej) return;
    slice(() => ej.deliver(replies));
  };
  /** The host asked the job to stop (first reason wins). */
  self.abort = (failure) => {
    if (!stop && !done) stop = failure;
  };
  /** Milliseconds left before the deadline (0 when past it; the job then stops as TIMEOUT). */
  self.remaining = () => {
    const left = deadline - now();
    if (left <= 0 && !self.over) stop = timeout();
    return Math.max(0, left);
  };
  Object.defineProperty(self, 'over', { get: () => done || !!stop || crash !== undefined || !!(ej && ej.failure) });

  /**
   * Ends the job: frees the engine's context (unless it is clean and `deferDispose` allows
   * freeing it after the answer), reports `end`, and says whether the sandbox must be retired.
   * @returns {{ retire: boolean, dispose: (() => void) | undefined }}
   */
  self.end = () => {
    if (ended) return { retire: true, dispose: undefined };
    ended = true;
    let failure = done ? undefined : stop ?? (ej && ej.failure);
    let retire = false;
    if (crash !== undefined) {
      retire = true;
      if (!done && !stop) {
        failure = ej && ej.memoryRefused
          ? { code: 'MEMORY_LIMIT', message: `The script ran out of memory (limit ${limits.memoryMb} MB)` }
          : { code: 'SANDBOX_CRASHED', message: 'The sandbox engine failed: ' + String((crash && crash.message) || crash) };
      }
    }
    if (!done && !failure) failure = { code: 'SANDBOX_CRASHED', message: 'The sandbox ended without a result' };
    if (ej) {
      try {
        if (ej.finish().retire) retire = true;
      } catch (_) {
        // A failed finish means the engine's heap is in an unknown state: never reuse it.
        retire = true;
      }
    }
    // A clean job's context is freed after the host has its answer; anything else is freed
    // first, so that a failure to free is reported with the job.
    let dispose;
    if (ej && done && !retire) dispose = () => ej.dispose();
    else if (ej) {
      try {
        ej.dispose();
      } catch (_) {
        retire = true;
      }
    }
    if (done) {
      // Whatever the guest queued after `done` is dropped; the done message is the last one.
      const i = batch.findIndex((t) => t.startsWith(DONE_PREFIX));
      if (i >= 0) batch.length = i + 1;
    }
    flush();
    const outcome = { stats: { cpuMs: cpuUsed } };
    if (failure) outcome.failure = failure;
    emit({ t: 'end', id, outcome, retire });
    return { retire, dispose };
  };
  return self;
}

module.exports = { createJob };
