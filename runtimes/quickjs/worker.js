'use strict';
// The far side of the quickjs runtime: the main program of one sandbox worker thread. It loads
// the engine (runtimes/quickjs/engine.js) once, receives jobs, drives the engine synchronously,
// carries messages, and enforces the deadline, CPU budget and a loose output cap from inside the
// thread. The host (src/runtime/quickjs/worker.ts, under the shared supervisor) watches from
// outside and terminates the thread for what this loop cannot stop.
//
// Transport, chosen for per-call cost (runtimes/quickjs/ring.js, src/runtime/quickjs/ring.ts):
// - replies and guest messages travel as records in two rings in a SharedArrayBuffer; a side
//   that has nothing to do sleeps on a control word (this thread in Atomics.wait, the host in
//   Atomics.waitAsync), and the writer wakes it only when it sleeps. A busy worker never returns
//   to its event loop mid-job, and the wait doubles as the wall-clock deadline.
// - a message too big for a record goes on a port (`big`, one per direction), with a marker
//   record at its place in the ring;
// - jobs come on the job port (code can be large; an idle worker listens on it), and an abort is
//   the job's id in a control word, which the engine's interrupt handler reads.
// Messages are the far-side protocol of src/runtime/types.ts (`HostToSandbox`, `SandboxToHost`),
// plus `ready` and `fatal` (on parentPort) and `prepared` for the host end's own bookkeeping.

const fs = require('node:fs');
const wt = require('node:worker_threads');
const { createQuickJSEngine } = require('./engine.js');
const { createJob } = require('./job.js');

const { createRing } = require('./ring.js');
const { openStat, statCpu } = require('../cpu.js');

const parentPort = wt.parentPort;
const data = wt.workerData;
const port = data.port;
const bigIn = data.bigIn;
const bigOut = data.bigOut;
const ring = createRing(data.shared);
const { ctrl, C, KIND } = ring;
const now = () => performance.now();
/** After a job the worker lingers this long in Atomics.wait, where the next job wakes it sooner than an event-loop message would. */
const LINGER_MS = 50;
/**
 * How long the worker polls for a reply before it sleeps. A reply to a fast tool comes back in
 * tens of microseconds; catching it by polling spares both sides a wake-up, which on a virtual
 * machine costs the waker tens of microseconds of CPU and the sleeper more in latency. The host
 * allows polling (control word SPIN_OK) only while fewer jobs run than there are cores, so
 * polling never takes a core that another execution needs; the window adapts to what replies
 * took lately, so a slow tool costs almost nothing.
 *
 * Tried and not kept: a window of up to 1 ms, with TAKEN_MS at 250 µs. On this project's VMs a
 * notify of a sleeping thread holds the notifier 50–150 µs, so fewer sleeps made 1,000-call
 * scripts cheaper per call (2–6 notifies per execution against 17–189). But 3-call executions,
 * which a model's scripts look like, got slower: back to back 0.85–3.05 ms (three runs of four
 * over 2.4) against 0.65–1.71 in alternating processes; the longer polls, it seems, keep a host
 * that shares the CPU from running.
 */
const SPIN_MAX_MS = 0.25;
let spinMs = 0.05;
/**
 * Polling pays only while the other side runs at the same time, on another CPU. When the
 * scheduler has put the host thread on this thread's CPU, a poll keeps the host from running at
 * all (measured with a two-thread model of the bridge pinned to one CPU: 570 µs a round trip
 * with both sides polling, 52–60 µs with both sleeping; on two CPUs 41 µs polling, 135–220
 * sleeping). So the poll stops once the host, awake (not waiting to be notified), has left this
 * side's last message unread for this long: a host that runs takes it within a few microseconds,
 * so it is waiting for a CPU, likely this one. A host asleep was notified and may take a
 * wake-up's time: the poll goes on. The host does the same (worker.ts).
 */
const TAKEN_MS = 0.06;
/** Turns of the poll between readings of the clock (about 0.5 µs here: 17 ns a turn). */
const SPIN_CLOCK_EVERY = 32;
let engine;

// The CPU this thread runs on now, or -1 (runtimes/cpu.js). Neither side polls for a peer that
// runs on its own CPU: the poll would hold the CPU the peer needs to answer (the host's twin and
// the measurements: src/runtime/current-cpu.ts).
const cpuStat = openStat('/proc/thread-self/stat');
const cpuBuf = Buffer.alloc(1024);
function currentCpu() {
  return statCpu(cpuStat, cpuBuf);
}
/**
 * The CPU read at most once a millisecond, and first thing in each job (a thread that idled may
 * wake elsewhere): the scheduler moves threads far less often, and a read per tool call cost
 * 2–3 µs of a 20 µs call.
 */
const CPU_FRESH_MS = 1;
let cpuAt = -Infinity;
let cpuSeen = -1;
function recentCpu(t) {
  if (t - cpuAt > CPU_FRESH_MS) {
    cpuSeen = currentCpu();
    cpuAt = t;
    Atomics.store(ctrl, C.WORKER_CPU, cpuSeen + 1);
  }
  return cpuSeen;
}

// The OS thread gets a name of its own (Linux), so `top -H`, and the runtime's leak checks, can
// tell a sandbox thread from Node's own.
try {
  fs.writeFileSync('/proc/thread-self/comm', 'toolexec-qjs');
} catch (_) {}

createQuickJSEngine({ ...data.engine, prelude: data.prelude }).then(
  async (e) => {
    engine = e;
    if (data.warm) {
      // One throwaway job, so the first real execution does not pay for the engine's own warm-up
      // (lazy WebAssembly compilation, first allocations), then a sandbox ready ahead.
      const quiet = { post() {}, shouldInterrupt: () => false, fail() {} };
      const limits = { timeoutMs: 10_000, memoryMb: 64, maxOutputBytes: 1 << 20 };
      const ej = engine.start({ code: '__toolexec_start(async function () {\nreturn 1;\n});', filename: 'warmup.js', limits }, quiet);
      ej.finish();
      ej.dispose();
      engine.prepare();
    }
    let tid;
    try {
      tid = Number(fs.readlinkSync('/proc/thread-self').split('/').pop());
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

/** Skips whatever the host wrote for jobs that are over (late replies and their port messages). */
function discardStale() {
  ring.read((kind) => {
    if (kind === KIND.PORT) wt.receiveMessageOnPort(bigIn);
  });
}

function linger() {
  const until = now() + LINGER_MS;
  for (;;) {
    const seq = Atomics.load(ctrl, C.H2W_SEQ);
    discardStale();
    const r = wt.receiveMessageOnPort(port);
    if (r) {
      if (r.message && r.message.t === 'job') return r.message;
      continue;
    }
    const left = until - now();
    if (left <= 0) return undefined;
    Atomics.store(ctrl, C.WORKER_WAITING, 1);
    Atomics.wait(ctrl, C.H2W_SEQ, seq, left);
    Atomics.store(ctrl, C.WORKER_WAITING, 0);
  }
}

port.on('message', (msg) => {
  if (msg && msg.t === 'job' && engine) serve(msg);
});

/** Publishes one guest message of job `id`: a record in the ring, or the port for what does not fit. */
function writeOut(id, text) {
  if (!ring.write(KIND.OUT, id, text)) {
    bigOut.postMessage({ t: 'out', id, m: [text] });
    ring.write(KIND.PORT, 0, '');
  }
}

/** Sends one far-side message to the host: records in the ring, the port for what does not fit. */
function emit(m) {
  if (m.t === 'out') {
    for (const text of m.m) writeOut(m.id, text);
  } else if (m.t === 'end') {
    // `slow`: the next sandbox needs a new engine instance first, so the host should not wait for it.
    // `bridge`: this job's waits for the host and how many of them polled, for the host's diagnostics.
    const text = JSON.stringify({ outcome: m.outcome, retire: m.retire === true, slow: m.retire !== true && engine.renewDue, bridge: [waits, polled] });
    if (!ring.write(KIND.END, m.id, text)) {
      bigOut.postMessage(m);
      ring.write(KIND.PORT, 0, '');
    }
  }
  ring.ring();
}

/** The running job's waits for the host, and how many of them polled first. */
let waits = 0;
let polled = 0;

function prepared() {
  ring.write(KIND.PREPARED, 0, '');
  ring.ring();
}

/** Runs one job; returns whether the worker should linger for another. */
function runJob(msg) {
  const id = msg.id;
  const tag = id & 0x7fffffff;
  discardStale();
  cpuAt = -Infinity;
  waits = 0;
  polled = 0;
  const aborted = () => Atomics.load(ctrl, C.ABORT) === tag;
  // Guest messages go into the ring as the guest sends them; the doorbell waits for the guest's
  // wait (job.js), so a host asleep is woken once per slice.
  const direct = { write: (text) => writeOut(id, text), ring: ring.ring };
  const j = createJob(engine, id, msg.job, emit, aborted, direct);
  let replies = [];
  const onRecord = (kind, rid, text) => {
    if (kind === KIND.REPLY) {
      if (rid === id) replies.push(text);
    } else if (kind === KIND.PORT) {
      const r = wt.receiveMessageOnPort(bigIn);
      const m = r && r.message;
      if (m && m.t === 'reply' && m.id === id) for (const t of m.m) replies.push(t);
    }
  };
  // The host's abort: the stop reason is the host's own; it keeps it.
  const checkAbort = () => {
    if (aborted()) j.abort({ code: 'CANCELLED', message: 'The host ended the job' });
  };
  j.onAbortSignal = checkAbort;
  j.start();
  while (!j.over) {
    const seq = Atomics.load(ctrl, C.H2W_SEQ);
    ring.read(onRecord);
    checkAbort();
    if (j.over) break;
    if (replies.length > 0) {
      const batch = replies;
      replies = [];
      j.deliver(batch);
      continue;
    }
    const remaining = j.remaining();
    if (remaining <= 0) break;
    // Poll briefly: the reply to a fast tool is usually on its way, unless the host would have to
    // compute it on this thread's CPU.
    const waitedFrom = now();
    // The CPU is read only when polling is allowed at all: on a busy machine the reads cost
    // more (6–7% of executions/s with 8 clients on 2 cores, where nobody polls).
    let poll = Atomics.load(ctrl, C.SPIN_OK) !== 0;
    if (poll) {
      const cpu = recentCpu(waitedFrom);
      poll = cpu < 0 || Atomics.load(ctrl, C.HOST_CPU) !== cpu + 1;
    }
    waits++;
    if (poll) polled++;
    const spinUntil = waitedFrom + (poll ? Math.min(spinMs, remaining) : 0);
    let got = false;
    for (let i = 1; ; i++) {
      if (Atomics.load(ctrl, C.H2W_SEQ) !== seq) {
        got = true;
        break;
      }
      // The clock only every SPIN_CLOCK_EVERY turns: each reading is a new heap number, and
      // reading it every turn made this loop most of the thread's garbage (about 2 KB a tool
      // call, a scavenge every 40 ms).
      if (poll && i % SPIN_CLOCK_EVERY !== 0) continue;
      const t = now();
      if (t >= spinUntil || (t - waitedFrom > TAKEN_MS && Atomics.load(ctrl, C.HOST_WAITING) === 0 && ring.unreadOut())) break;
      // The host takes the leave back when another job needs the core.
      if (Atomics.load(ctrl, C.SPIN_OK) === 0) break;
    }
    if (!got) {
      Atomics.store(ctrl, C.WORKER_WAITING, 1);
      Atomics.wait(ctrl, C.H2W_SEQ, seq, Math.max(0, remaining - (now() - waitedFrom)));
      Atomics.store(ctrl, C.WORKER_WAITING, 0);
    }
    // Replies that come within the poll window keep it; slow tools shrink it to nothing.
    if (poll) {
      const took = now() - waitedFrom;
      spinMs = took <= SPIN_MAX_MS ? Math.min(SPIN_MAX_MS, Math.max(spinMs, took * 1.5)) : Math.max(0.01, spinMs / 2);
    }
  }
  const { retire, dispose } = j.end();
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
      prepared();
    });
    return false;
  }
  // The pool prefers workers that said this: their next job starts without waiting.
  prepared();
  return true;
}
