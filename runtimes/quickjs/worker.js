'use strict';
// The far side of the quickjs runtime: the main program of one sandbox worker thread. It loads
// the engine (runtimes/quickjs/engine.js) once, receives jobs, drives the engine synchronously,
// carries messages, and enforces the deadline, CPU budget and a loose output cap from inside the
// thread. The host (src/runtime/quickjs/worker.ts, under the shared supervisor) watches from
// outside and terminates the thread for what this loop cannot stop.
//
// Transport, chosen for per-call cost:
// - host → worker (jobs, replies, aborts): a dedicated MessagePort that the worker drains
//   synchronously with `receiveMessageOnPort`, woken by `Atomics.notify` on a shared control word.
//   A busy worker never returns to its event loop mid-job, so it needs no event-loop wake-up per
//   reply, and the wait doubles as the wall-clock deadline. An idle worker listens on the port.
// - worker → host: `parentPort`, guest messages batched per engine turn.
// Messages are the far-side protocol of src/runtime/types.ts (`HostToSandbox`, `SandboxToHost`),
// plus `ready`, `fatal` and `prepared` for the host end's own bookkeeping.

const wt = require('node:worker_threads');
const { createQuickJSEngine } = require('./engine.js');
const { createJob } = require('./job.js');

const parentPort = wt.parentPort;
const data = wt.workerData;
const ctrl = new Int32Array(data.control);
const port = data.port;
const SEQ = 0;
const ABORT = 1;
const now = () => performance.now();
/** After a job the worker lingers this long in Atomics.wait, where the next job wakes it sooner than an event-loop message would. */
const LINGER_MS = 50;
let engine;

// The OS thread gets a name of its own (Linux), so `top -H`, and the runtime's leak checks, can
// tell a sandbox thread from Node's own.
try {
  require('node:fs').writeFileSync('/proc/thread-self/comm', 'toolexec-qjs');
} catch (_) {}

createQuickJSEngine({ ...data.engine, prelude: data.prelude }).then(
  async (e) => {
    engine = e;
    if (data.warm) {
      // One throwaway job, so the first real execution does not pay for the engine's own warm-up
      // (lazy WebAssembly compilation, first allocations), then a sandbox ready ahead.
      const quiet = { post() {}, shouldInterrupt: () => false, fail() {} };
      const limits = { timeoutMs: 10_000, memoryMb: 64, maxOutputBytes: 1 << 20 };
      const ej = engine.start({ code: '__toolexec_start(async function () {\nreturn 1;\n});', filename: 'warmup.js', lineOffset: 1, limits }, quiet);
      ej.finish();
      ej.dispose();
      engine.prepare();
    }
    let tid;
    try {
      tid = Number(require('node:fs').readlinkSync('/proc/thread-self').split('/').pop());
    } catch (_) {}
    parentPort.postMessage({ t: 'ready', tid });
  },
  (err) => {
    parentPort.postMessage({ t: 'fatal', message: String((err && err.stack) || err) });
  },
);

function serve(first) {
  let msg = first;
  while (msg) {
    const keep = runJob(msg);
    msg = keep ? linger() : undefined;
  }
}

function linger() {
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
}

port.on('message', (msg) => {
  if (msg && msg.t === 'job' && engine) serve(msg);
});

/** Runs one job; returns whether the worker should linger for another. */
function runJob(msg) {
  const id = msg.id;
  const j = createJob(engine, id, msg.job, (m) => parentPort.postMessage(m), () => Atomics.load(ctrl, ABORT) !== 0);
  let replies = [];
  // Drains the job port: replies are queued, an abort becomes the stop reason.
  const drain = () => {
    for (;;) {
      const r = wt.receiveMessageOnPort(port);
      if (!r) return;
      const m = r.message;
      if (!m || m.id !== id) continue; // left over from an earlier job
      if (m.t === 'reply') for (const text of m.m) replies.push(text);
      else if (m.t === 'abort') j.abort(m.failure);
    }
  };
  j.onAbortSignal = drain;
  j.start();
  while (!j.over) {
    const seq = Atomics.load(ctrl, SEQ);
    drain();
    if (j.over) break;
    if (replies.length > 0) {
      const batch = replies;
      replies = [];
      j.deliver(batch);
      continue;
    }
    const remaining = j.remaining();
    if (remaining <= 0) break;
    Atomics.wait(ctrl, SEQ, seq, remaining);
  }
  const { retire, dispose } = j.end();
  Atomics.store(ctrl, ABORT, 0);
  if (retire) return false;
  // Free this job's context and build the next sandbox now that the host has its answer. A
  // failure here leaves the engine unusable: leave the pool.
  try {
    if (dispose) dispose();
    engine.prepare();
  } catch (err) {
    parentPort.postMessage({ t: 'fatal', message: String((err && err.stack) || err) });
    process.exit(1);
  }
  const renewing = engine.renewing;
  if (renewing) {
    // A fresh WebAssembly instance is on its way; it settles in the event loop, so leave the
    // linger loop and say prepared once it is there.
    renewing.then(() => {
      try {
        engine.prepare();
      } catch (_) {}
      parentPort.postMessage({ t: 'prepared' });
    });
    return false;
  }
  // The pool prefers workers that said this: their next job starts without waiting.
  parentPort.postMessage({ t: 'prepared' });
  return true;
}
