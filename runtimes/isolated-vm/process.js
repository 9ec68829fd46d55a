// The far side of the isolated-vm runtime: the program each sandbox process runs
// (`node --no-node-snapshot runtimes/isolated-vm/process.js`), serving one host over pipes.
//
// Why a synchronous loop: the process does nothing but serve one host, so it blocks in `readSync`
// on its stdin pipe instead of waking through libuv; that saves a third of the round-trip latency
// of a tool call (measured: ~45 µs vs ~60 µs) and keeps every isolate call synchronous (`runSync` /
// `applySync` with a `timeout`), which is the isolated-vm path whose timeout also covers the
// microtask checkpoint (an infinite loop in a promise job is stopped). Between jobs it yields once
// to the event loop (`setImmediate`) so that isolated-vm's own housekeeping still runs.
//
// Wire format, one message per line: the far-side protocol of src/runtime/types.ts
// (`HostToSandbox`, `SandboxToHost`) as JSON objects, plus, before anything else,
// `{"t":"init","prelude":"..."}` from the host and `{"t":"ready"}` or `{"t":"fatal","message":"..."}`
// back. The bridge's own messages, which are most of the traffic, travel as they are, not
// JSON-escaped a second time: `o<id> <guest message>` (guest → host, one per line) and
// `r<id> <reply>` (host → guest). Bridge text is JSON, which has no raw line break; a message that
// has one anyway goes in the JSON form. Only strings reach the guest: `__toolexec_send` is an `ivm.Callback` that
// copies a string out, and replies go in through `applySync` with a string argument. No
// Reference, ExternalCopy or host object is ever placed in the guest context.
'use strict';
const fs = require('fs');
const { StringDecoder } = require('string_decoder');
const OUT_FD = 3;
const IN_FD = 0;
const sleepCell = new Int32Array(new SharedArrayBuffer(4));
function sleep(ms) { Atomics.wait(sleepCell, 0, 0, ms); }

function writeAll(text) {
  const buf = Buffer.from(text, 'utf8');
  let off = 0;
  while (off < buf.length) {
    try { off += fs.writeSync(OUT_FD, buf, off, buf.length - off); }
    catch (e) {
      if (e && e.code === 'EAGAIN') { sleep(1); continue; }
      process.exit(0); // the host is gone
    }
  }
}
let outLines = [];
function emit(obj) { outLines.push(JSON.stringify(obj)); }
function flush() {
  if (outLines.length === 0) return;
  const text = outLines.join('\n') + '\n';
  outLines = [];
  writeAll(text);
}

let ivm;
try {
  ivm = require(process.env.TOOLEXEC_IVM_PATH || 'isolated-vm');
  // Prove the engine works before declaring the process ready (Node 20 without
  // --no-node-snapshot fails here rather than at require time).
  const probe = new ivm.Isolate({ memoryLimit: 8 });
  const ok = probe.createContextSync().evalSync('6 * 7');
  probe.dispose();
  if (ok !== 42) throw new Error('isolated-vm self-test returned ' + String(ok));
} catch (e) {
  emit({ t: 'fatal', message: String((e && e.message) || e) });
  flush();
  process.exit(78);
}

// The guest's synchronous services (URL, the standard library's sources): runtimes/services.js.
const services = require(require('path').join(__dirname, '..', 'services.js')).createServices();
const { openStat, statCpu } = require(require('path').join(__dirname, '..', 'cpu.js'));

const MAX_MEMORY_MB = Number(process.env.TOOLEXEC_IVM_MAX_MEMORY_MB) || 128;
const MAX_USES_PER_ISOLATE = Number(process.env.TOOLEXEC_IVM_ISOLATE_USES) || 50;

function onCatastrophic(message) {
  // V8 lost control of an isolate: nothing in this process can be trusted any more.
  try { emit({ t: 'fatal', message: 'isolated-vm catastrophic error: ' + String(message) }); flush(); } catch (_) {}
  process.exit(70);
}

// ---- warm sandbox: an isolate (reused across clean executions) and a fresh context ----
let warmIsolate = null; // { isolate, memoryMb, uses }
let warmContext = null; // { context, prelude, receive }: prelude already evaluated when prelude !== null
let lastMemoryMb = MAX_MEMORY_MB;
let lastPrelude = null; // the prelude from the host's init message
/** Guest messages are flushed at least this often while the guest runs. */
const FLUSH_MS = 5;
let priming = null;
let job = null;
const preludeCache = new Map(); // prelude text -> cachedData (V8 code cache, isolate-independent)

// Each context gets its own callback bound to its own slot, so a message can only ever be
// attributed to the job that owns the context it came from.
function guestSend(slot, text) {
  if (priming !== null && priming.slot === slot) { priming.spoiled = true; return; }
  const j = job;
  if (j === null || j.slot !== slot || j.finished || j.doneSeen || j.failure) return;
  if (typeof text !== 'string') throw new TypeError('__toolexec_send takes a string');
  // The host counts output exactly; this loose cap (the same rule as every far side) only keeps
  // a flood from reaching it.
  const isDone = text.startsWith('{"op":"done"');
  if (isDone || text.startsWith('{"op":"log"')) {
    j.outBytes += text.length;
    if (j.outBytes > j.outputCap) {
      j.failure = { code: 'OUTPUT_LIMIT', message: "The script's output (logs and result) exceeded maxOutputBytes (" + j.maxOutputBytes + ' bytes)' };
      throw new RangeError('output limit exceeded');
    }
  }
  if (isDone) j.doneSeen = true;
  if (j.out.length === 0) j.outSince = performance.now();
  j.out.push(text);
  // A guest that keeps running (a busy loop after a log line) still gets its output out, so a
  // kill after the deadline loses little.
  if (j.out.length >= 256 || performance.now() - j.outSince > FLUSH_MS) { flushJob(j); flush(); }
}

function flushJob(j) {
  if (j.out.length === 0) return;
  const prefix = 'o' + j.id + ' ';
  for (const text of j.out) {
    if (text.indexOf('\n') === -1) outLines.push(prefix + text);
    else emit({ t: 'out', id: j.id, m: [text] });
  }
  j.out = [];
}

function makeContext(isolate) {
  const context = isolate.createContextSync();
  // WebAssembly memories live outside what isolated-vm counts against memoryLimit (measured:
  // 1.2 GB resident from a 64 MB isolate), and QuickJS has no WebAssembly either.
  // Atomics.waitAsync with a timeout aborts this process inside isolated-vm (it needs platform
  // tasks isolated-vm does not run); a script must not be able to force respawns with it.
  context.evalSync('delete globalThis.WebAssembly; if (typeof Atomics === "object") delete Atomics.waitAsync;');
  const slot = {};
  context.global.setSync('__toolexec_send', new ivm.Callback(function (text) { return guestSend(slot, text); }));
  // Strings in, a string out (copied): the prelude takes it and deletes the global.
  context.global.setSync('__toolexec_call', new ivm.Callback(function (op, a, b, c) { return services.call(op, a, b, c); }));
  return { context: context, slot: slot, prelude: null, receive: null };
}

function compilePrelude(isolate, prelude) {
  const cached = preludeCache.get(prelude);
  const script = cached
    ? isolate.compileScriptSync(prelude, { filename: 'toolexec-prelude.js', cachedData: cached })
    : isolate.compileScriptSync(prelude, { filename: 'toolexec-prelude.js', produceCachedData: true });
  if (!cached && script.cachedData) { preludeCache.clear(); preludeCache.set(prelude, script.cachedData); }
  return script;
}

// Steps 1-2 of the protocol (install send, evaluate the prelude, capture receive, delete both
// globals) for the next job, done while the process is idle: every execution in a sequence
// pays only for its own code. No user code has run in the context. A prelude that talks to
// the host while it is evaluated cannot be primed (nobody would hear it), so it is not.
function primeContext(isolate, wc, prelude) {
  priming = { spoiled: false, slot: wc.slot };
  try {
    const script = compilePrelude(isolate, prelude);
    script.runSync(wc.context, { timeout: 5000 });
    script.release();
    const receive = wc.context.global.getSync('__toolexec_receive', { reference: true });
    if (receive.typeof !== 'function') { receive.release(); return false; }
    wc.context.evalSync('delete globalThis.__toolexec_send; delete globalThis.__toolexec_receive;', { timeout: 1000 });
    if (priming.spoiled) { receive.release(); return false; }
    wc.receive = receive;
    wc.prelude = prelude;
    return true;
  } catch (_) {
    return false;
  } finally {
    priming = null;
  }
}

function releaseWarmContext() {
  if (warmContext === null) return;
  try { if (warmContext.receive) warmContext.receive.release(); } catch (_) {}
  try { warmContext.context.release(); } catch (_) {}
  warmContext = null;
}

function prewarm(memoryMb) {
  try {
    if (warmIsolate !== null && (warmIsolate.isolate.isDisposed || warmIsolate.memoryMb !== memoryMb)) {
      dropWarm();
    }
    if (warmIsolate === null) {
      warmIsolate = { isolate: new ivm.Isolate({ memoryLimit: memoryMb, onCatastrophicError: onCatastrophic }), memoryMb: memoryMb, uses: 0 };
    }
    if (warmContext === null) {
      const wc = makeContext(warmIsolate.isolate);
      if (lastPrelude !== null && !primeContext(warmIsolate.isolate, wc, lastPrelude)) {
        // A failed priming may have left anything behind in the context: start clean.
        try { wc.context.release(); } catch (_) {}
        warmContext = makeContext(warmIsolate.isolate);
      } else {
        warmContext = wc;
      }
    }
  } catch (e) {
    dropWarm();
    throw e;
  }
}

function dropWarm() {
  releaseWarmContext();
  if (warmIsolate !== null) { try { if (!warmIsolate.isolate.isDisposed) warmIsolate.isolate.dispose(); } catch (_) {} warmIsolate = null; }
}

// ---- classification ----
function positionOf(text, filename) {
  if (typeof text !== 'string') return null;
  const esc = filename.replace(/[.*+?^$()|[\]\\{}]/g, '\\$&');
  const m = new RegExp(esc + ':(\\d+):(\\d+)').exec(text);
  return m ? { line: Number(m[1]), column: Number(m[2]) } : null;
}

function describe(e) {
  let message = 'unknown error';
  let stack;
  let name = 'Error';
  try {
    if (e !== null && typeof e === 'object') {
      if (typeof e.message === 'string') message = e.message;
      else message = String(e);
      if (typeof e.stack === 'string') stack = e.stack.slice(0, 20000);
      if (typeof e.name === 'string') name = e.name;
    } else {
      message = String(e);
    }
  } catch (_) {}
  return { message: message.slice(0, 20000), stack: stack, name: name };
}

function guestStack(stack) {
  const i = stack.indexOf('<isolated-vm boundary>');
  if (i === -1) return stack;
  const lineStart = stack.lastIndexOf('\n', i);
  return lineStart === -1 ? stack.slice(0, i) : stack.slice(0, lineStart);
}

// The words every far side uses for these two stops (runtimes/quickjs/job.js, the host's
// supervisor), so the text does not depend on which side's deadline fired first.
function overCpu(j) {
  return { code: 'TIMEOUT', message: 'The script exceeded its CPU budget of ' + j.cpuMs + ' ms' };
}
function overTime(j) {
  return { code: 'TIMEOUT', message: 'The script exceeded its time limit of ' + j.timeoutMs + ' ms' };
}

function classify(e, j, phase) {
  const d = describe(e);
  const iso = j.isolate;
  if (iso.isDisposed || /memory limit/i.test(d.message)) {
    return { code: 'MEMORY_LIMIT', message: 'the script exceeded the memory limit (' + j.memoryMb + ' MB)' };
  }
  if (d.message === 'Script execution timed out.') {
    return j.cpuBound ? overCpu(j) : overTime(j);
  }
  const pos = positionOf(d.message, j.filename) || positionOf(d.stack, j.filename);
  // isolated-vm appends " [file:line:col]" to compile errors; the position goes in fields instead.
  const message = d.message.replace(/ \[[^\]]*:\d+:\d+\]$/, '');
  const failure = {
    code: phase === 'prelude' ? 'SANDBOX_CRASHED' : phase === 'compile' && d.name === 'SyntaxError' ? 'SYNTAX_ERROR' : 'RUNTIME_ERROR',
    message: phase === 'prelude' ? 'The prelude failed: ' + message : (d.name && message.indexOf(d.name) !== 0 ? d.name + ': ' : '') + message,
  };
  // Frames below the isolate boundary belong to this process, not to the script.
  if (d.stack && phase !== 'compile') failure.stack = guestStack(d.stack);
  // Positions are the program's own; the host maps them to the user's script.
  if (pos !== null && phase !== 'prelude') { failure.line = pos.line; failure.column = pos.column; }
  return failure;
}

// Runs one synchronous entry into the guest under the remaining wall and CPU budgets.
function step(j, phase, fn) {
  if (j.finished || j.failure) return;
  const wallLeft = j.deadline - performance.now();
  let budget = wallLeft;
  j.cpuBound = false;
  if (j.cpuMs !== undefined) {
    const cpuLeft = j.cpuMs - Number(j.isolate.cpuTime - j.cpuStart) / 1e6;
    if (cpuLeft < budget) { budget = cpuLeft; j.cpuBound = true; }
  }
  if (budget <= 0) {
    j.failure = j.cpuBound ? overCpu(j) : overTime(j);
    return;
  }
  try {
    fn(Math.max(1, Math.ceil(budget)));
  } catch (e) {
    // An entry that ended in an exception may leave microtasks of this context queued in the
    // isolate; they must never run during another job, so this isolate is not reused.
    j.tainted = true;
    const failure = classify(e, j, phase);
    if (failure.code === 'RUNTIME_ERROR' && phase === 'run' && !j.isolate.isDisposed) {
      // isolated-vm throws a promise rejection that nobody handled by the end of the microtask
      // checkpoint out of the entry call. The script may still handle it later (run() a, run()
      // b, await a, then await b), and QuickJS does not fail on it either, so it is noted, not
      // fatal: a script that never finishes because of it ends at its timeout, with the note.
      if (j.unhandled === null) j.unhandled = failure.message;
    } else if (!j.failure && (!j.doneSeen || j.isolate.isDisposed)) {
      // A result the guest already reported (done) wins over an exception after it, unless the
      // isolate itself is gone.
      j.failure = failure;
    }
  }
  if (!j.failure && !j.isolate.isDisposed && j.cpuMs !== undefined && Number(j.isolate.cpuTime - j.cpuStart) / 1e6 > j.cpuMs) {
    j.failure = overCpu(j);
  }
}

function settle(j) {
  if (j.finished) return;
  if (j.failure || j.doneSeen) finish(j, j.failure || null);
}

function finish(j, failure) {
  if (j.finished) return;
  j.finished = true;
  job = null;
  const iso = j.isolate;
  const stats = { durationMs: performance.now() - j.startedAt };
  let recycle = failure !== null || j.tainted || iso.isDisposed;
  if (!iso.isDisposed) {
    try {
      stats.cpuMs = Number(iso.cpuTime - j.cpuStart) / 1e6;
      const h = iso.getHeapStatisticsSync();
      stats.memoryBytes = h.used_heap_size + (h.externally_allocated_size || 0);
      if (stats.memoryBytes > j.memoryMb * 1024 * 1024 / 2) recycle = true;
    } catch (_) { recycle = true; }
  }
  try { if (j.receive) j.receive.release(); } catch (_) {}
  try { j.context.release(); } catch (_) {}
  if (recycle || j.warm.uses >= MAX_USES_PER_ISOLATE) {
    try { if (!iso.isDisposed) iso.dispose(); } catch (_) {}
    if (warmIsolate === j.warm) warmIsolate = null;
  } else {
    warmIsolate = j.warm;
  }
  flushJob(j);
  const outcome = { stats: { cpuMs: stats.cpuMs, memoryBytes: stats.memoryBytes } };
  if (failure !== null) outcome.failure = failure;
  // Whatever ended the job (the host's own deadline included), the note says why it may not have finished.
  if (j.unhandled !== null) outcome.note = 'earlier, a promise rejection was never handled: ' + j.unhandled;
  // `bridge`: this job's waits for the host and how many of them polled, for the host's diagnostics.
  emit({ t: 'end', id: j.id, outcome: outcome, bridge: [bridgeWaits, bridgePolled] });
  endedSincePrepared = true;
}
let endedSincePrepared = false;

function startJob(id, spec) {
  const limits = spec.limits || {};
  const memoryMb = Math.max(8, Math.min(MAX_MEMORY_MB, Math.floor(Number(limits.memoryMb) || MAX_MEMORY_MB)));
  const startedAt = performance.now();
  lastMemoryMb = memoryMb;
  const prelude = lastPrelude;
  try {
    prewarm(memoryMb);
  } catch (e) {
    emit({ t: 'end', id: id, outcome: { failure: { code: 'SANDBOX_CRASHED', message: 'could not create an isolate: ' + describe(e).message } }, retire: true });
    return;
  }
  const w = warmIsolate;
  const wc = warmContext;
  warmContext = null;
  warmIsolate = null; // owned by the job until finish() gives it back
  w.uses++;
  const j = {
    id: id, isolate: w.isolate, warm: w, context: wc.context, slot: wc.slot, receive: wc.receive, tainted: false,
    startedAt: startedAt, deadline: startedAt + Math.max(1, Number(limits.timeoutMs) || 1),
    timeoutMs: Number(limits.timeoutMs), cpuMs: limits.cpuMs === undefined || limits.cpuMs === null ? undefined : Number(limits.cpuMs),
    cpuStart: w.isolate.cpuTime, cpuBound: false, memoryMb: memoryMb,
    maxOutputBytes: Number(limits.maxOutputBytes) || Infinity, outBytes: 0, out: [], outSince: 0,
    outputCap: (Number(limits.maxOutputBytes) || Infinity) * 2 + 65536,
    filename: String(spec.filename || 'script.js'),
    doneSeen: false, failure: null, finished: false, unhandled: null,
  };
  job = j;

  if (wc.prelude === null) {
    step(j, 'prelude', function (timeout) {
      const script = compilePrelude(j.isolate, prelude);
      script.runSync(j.context, { timeout: timeout });
      script.release();
    });
    step(j, 'prelude', function (timeout) {
      const receive = j.context.global.getSync('__toolexec_receive', { reference: true });
      if (receive.typeof !== 'function') {
        receive.release();
        throw new Error('the prelude did not define globalThis.__toolexec_receive');
      }
      j.receive = receive;
      j.context.evalSync('delete globalThis.__toolexec_send; delete globalThis.__toolexec_receive;', { timeout: timeout });
    });
  }
  let script = null;
  step(j, 'compile', function () {
    // The trailing expression keeps the script's completion value (which isolated-vm would
    // copy out) trivial, whatever the prepared code ends with.
    script = j.isolate.compileScriptSync(String(spec.code) + '\n;undefined;', { filename: j.filename });
  });
  if (script !== null) {
    step(j, 'run', function (timeout) { script.runSync(j.context, { timeout: timeout }); });
    try { if (!j.isolate.isDisposed) script.release(); } catch (_) {}
  }
  settle(j);
}

function deliver(id, text) {
  const j = job;
  if (j === null || j.id !== id || j.finished || j.receive === null) return;
  step(j, 'run', function (timeout) { j.receive.applySync(undefined, [String(text)], { timeout: timeout }); });
  settle(j);
}

function abort(id) {
  const j = job;
  if (j === null || j.id !== id) return;
  finish(j, { code: 'CANCELLED', message: 'terminated by the host' }); // the host keeps its own reason
}

function handle(line) {
  if (line.charCodeAt(0) === 114 /* r */) {
    const sp = line.indexOf(' ');
    if (sp > 1) deliver(Number(line.slice(1, sp)), line.slice(sp + 1));
    return;
  }
  let m;
  try { m = JSON.parse(line); } catch (_) { return; }
  if (m === null || typeof m !== 'object') return;
  if (m.t === 'job') {
    pollAllowed = m.poll === true;
    cpuAt = -Infinity;
    bridgeWaits = 0;
    bridgePolled = 0;
    startJob(m.id, m.job || {});
  }
  else if (m.t === 'reply' && Array.isArray(m.m)) { for (const text of m.m) deliver(m.id, text); }
  else if (m.t === 'abort') abort(m.id);
  else if (m.t === 'init' && lastPrelude === null) {
    lastPrelude = String(m.prelude);
    if (typeof m.cpu === 'string' && /^\d+\/task\/\d+$/.test(m.cpu)) hostStat = openStat('/proc/' + m.cpu + '/stat');
    try { prewarm(MAX_MEMORY_MB); } catch (_) {}
    emit({ t: 'ready', pid: process.pid });
  }
}

// ---- the loop ----
const decoder = new StringDecoder('utf8');
const readBuf = Buffer.allocUnsafe(1 << 16);
let pendingText = '';
// A short poll before the blocking read: while a job waits for a fast tool's reply, the reply
// usually comes within tens of microseconds, and catching it by polling saves this process a
// wake-up (on a loaded machine, the largest part of a round trip). The window adapts to what
// replies took lately and is spent only while a job runs and the host allows it (a core is free).
// Node's stdio pipes are socket pairs, which cannot be opened a second time (open() on
// /proc/self/fd/0 fails with ENXIO), so the poll switches the one descriptor between
// non-blocking and blocking through libuv's handle for it (a single fcntl each way); the handle
// never reads, so libuv never competes for the bytes.
let inHandle = null;
try {
  const sock = new (require('net').Socket)({ fd: IN_FD, readable: false, writable: false });
  sock.unref();
  const h = sock._handle;
  if (h && typeof h.setBlocking === 'function' && h.setBlocking(true) === 0) inHandle = h;
} catch (_) { inHandle = null; }
// The window grows to 1.5× the last reply's wait, up to 0.25 ms, and shrinks by a tenth after a
// miss. A/B here (6 interleaved runs each, the 1,000-call script): per call 90–116 µs against
// 77–164 µs with no poll; a 0.1 ms cap halving on each miss: 90–145 µs. The host keeps its event
// loop turning after each reply as well (HOST_POLL_MS in src/runtime/isolated-vm/worker.ts). That
// was slower than this side alone (123–131 µs) while either side polled wherever it ran: once
// neither polls for a peer on its own CPU (below), the 1,000-call script costs 49–80 µs per call
// against 93–162 µs (3 pairs of processes, 2026-12-02).
const POLL_MAX_MS = 0.25;
let pollMs = 0.03;
let pollAllowed = false;

// Neither side polls for a peer that runs on its own CPU: the poll would hold the CPU the peer
// needs to answer (src/runtime/current-cpu.ts has the measurements). This process reads its own
// CPU and the host thread's, whose stat file the host names in its init message (`cpu`:
// `<pid>/task/<tid>`, where /proc/thread-self points on the host), at most once a millisecond and
// first thing in each job, and only while polling is allowed at all.
const selfStat = openStat('/proc/thread-self/stat');
let hostStat = -1;
const statBuf = Buffer.alloc(1024);
const CPU_FRESH_MS = 1;
let cpuAt = -Infinity;
let besideHost = false;
function hostBeside(t) {
  if (t - cpuAt > CPU_FRESH_MS) {
    cpuAt = t;
    const own = statCpu(selfStat, statBuf);
    besideHost = own >= 0 && own === statCpu(hostStat, statBuf);
  }
  return besideHost;
}
// Per job, for the host's diagnostics and tests: waits for a reply, and how many of them polled.
let bridgeWaits = 0;
let bridgePolled = 0;

function readChunk() {
  if (job !== null) bridgeWaits++;
  if (inHandle !== null && job !== null && pollAllowed && !hostBeside(performance.now()) && inHandle.setBlocking(false) === 0) {
    bridgePolled++;
    const from = performance.now();
    const until = from + pollMs;
    let n = -1;
    // Each empty read throws: without a stack trace the error costs 4.3 µs here instead of 7.0,
    // so the poll looks more often and leaves less garbage (this process's own realm, not a guest's).
    const traceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    for (;;) {
      try { n = fs.readSync(IN_FD, readBuf, 0, readBuf.length, null); }
      catch (e) { if (!e || e.code !== 'EAGAIN') { n = -1; break; } }
      if (n >= 0 || performance.now() >= until) break;
    }
    Error.stackTraceLimit = traceLimit;
    if (inHandle.setBlocking(true) !== 0) inHandle = null;
    if (n >= 0) {
      const took = performance.now() - from;
      pollMs = Math.min(POLL_MAX_MS, Math.max(pollMs, took * 1.5));
      return n;
    }
    pollMs = Math.max(0.005, pollMs * 0.9);
  }
  for (;;) {
    try { return fs.readSync(IN_FD, readBuf, 0, readBuf.length, null); }
    catch (e) {
      if (e && e.code === 'EAGAIN') { sleep(1); continue; }
      if (e && e.code === 'EOF') return 0;
      process.exit(0);
    }
  }
}

function readLines() {
  for (;;) {
    const n = readChunk();
    if (n === 0) process.exit(0); // the host closed the pipe: it is gone or done with us
    const chunk = decoder.write(readBuf.subarray(0, n));
    // Only the new chunk is searched, so a long reply arriving in many reads stays linear.
    if (chunk.indexOf('\n') === -1) { pendingText += chunk; continue; }
    const lines = (pendingText + chunk).split('\n');
    pendingText = lines.pop();
    return lines;
  }
}

function tick() {
  // While a job runs, stay in this loop: a tool call's reply should not wait for a turn of
  // the event loop. Between jobs, yield once so isolated-vm's own housekeeping can run.
  do {
    const lines = readLines();
    for (let i = 0; i < lines.length; i++) {
      if (lines[i].length > 0) handle(lines[i]);
    }
    if (job !== null) flushJob(job);
    flush();
  } while (job !== null);
  if (job === null && (warmIsolate === null || warmContext === null)) {
    try { prewarm(lastMemoryMb); } catch (_) {}
  }
  if (job === null && endedSincePrepared) {
    // The host sends the next job to another process until this one has its context ready
    // again (a context and the prelude take this process half a millisecond or more).
    endedSincePrepared = false;
    emit({ t: 'prepared' });
    flush();
  }
  setImmediate(tick);
}

setImmediate(tick);
