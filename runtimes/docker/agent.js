'use strict';
// The toolexec guest agent: the far side of the docker runtime, the program of a sandbox
// container. It receives the prelude, prepares a fresh `vm` context with it while it waits, runs
// ONE job in it following the runtime protocol of src/runtime/types.ts, and carries messages as
// JSON lines over stdio. Then the container ends; it is never reused.
//
// Wire format, one JSON object per line, the far-side protocol of src/runtime/types.ts:
//   host  → agent  {"t":"init","prelude":"..."}, then {"t":"job","id":1,"job":{...}},
//                  {"t":"reply","id":1,"m":["..."]}, {"t":"abort","id":1,"failure":{...}}
//   agent → host   {"t":"ready"}, {"t":"out","id":1,"m":["..."]}, {"t":"end","id":1,"outcome":{...}}
// Guest text only ever travels inside the strings of `m`, so nothing the guest writes can be
// mistaken for a protocol line.
//
// The `vm` module is not a security boundary: guest code can reach this process. The container
// (no network, read-only root, non-root, no capabilities, memory/PID/CPU-time limits) is the
// boundary, and the host treats everything this process writes as hostile and believes none of
// its claims about limits. This file keeps the honest path correct and cheap, and ends the
// container by itself at its deadline even when the host is gone (a watchdog thread; a guest
// that kills the watchdog still meets the container's CPU-time limit, and any toolexec host
// removes containers whose `toolexec.expires` label has passed).

const fs = require('node:fs');
const vm = require('node:vm');
const { Worker } = require('node:worker_threads');

let ended = false;
let outputBytes = 0;
let outputCap = Infinity;
let maxOutputBytes = Infinity;
let jobId = 0;
let jobCpuStart;

// Output is written synchronously, straight to fd 1. process.stdout would queue writes in memory
// when the pipe is full (the fd is non-blocking) and flush them only from the event loop, which a
// guest in a synchronous loop never returns to: a flood would grow this process until the OOM
// killer came, and a final line written before exiting could be lost. Blocking here instead
// hands the backpressure to the guest, keeps lines in order, and lets the agent exit at once.
const sleeper = new Int32Array(new SharedArrayBuffer(4));
function writeAll(text) {
  const buf = Buffer.from(text, 'utf8');
  let off = 0;
  while (off < buf.length) {
    try {
      off += fs.writeSync(1, buf, off, buf.length - off);
    } catch (err) {
      if (err && err.code === 'EAGAIN') {
        Atomics.wait(sleeper, 0, 0, 1);
        continue;
      }
      // EPIPE and the like: the host has gone, nobody is left to report to.
      process.exit(1);
    }
  }
}

function line(obj) {
  if (ended) return;
  writeAll(JSON.stringify(obj) + '\n');
}

// ---- the watchdog: the container ends at its deadline even if the host is gone ----
// It runs in its own thread so that a guest spinning in the main thread cannot hold it up. The
// container runs under an init process (HostConfig.Init), so the agent is not PID 1 and a kill of
// itself is not ignored.
const IDLE_TTL_MS = Number(process.env.TOOLEXEC_IDLE_TTL_MS) || 15 * 60_000;
const GRACE_MS = 1_000;
let watchdog;
try {
  watchdog = new Worker(
    `const { parentPort } = require('node:worker_threads');
     let deadline = Date.now() + ${IDLE_TTL_MS};
     parentPort.on('message', (m) => { if (typeof m === 'number') deadline = m; });
     setInterval(() => { if (Date.now() > deadline) process.kill(process.pid, 'SIGKILL'); }, 100);`,
    { eval: true },
  );
  watchdog.unref();
} catch (_) {
  watchdog = undefined;
}

function setDeadline(ms) {
  if (watchdog) watchdog.postMessage(Date.now() + ms);
}

function stats() {
  const cpu = process.cpuUsage(jobCpuStart);
  return { cpuMs: (cpu.user + cpu.system) / 1000, memoryBytes: process.memoryUsage().rss };
}

// Everything is written already (see writeAll), so the agent can end right away, even from
// inside a guest's synchronous loop.
function finish(failure) {
  if (ended) return;
  const outcome = { stats: stats() };
  if (failure) outcome.failure = failure;
  line({ t: 'end', id: jobId, outcome });
  ended = true;
  process.exit(0);
}

// Positions are the program's own; the host maps them to the user's script.
function errorPosition(err, filename) {
  // A SyntaxError thrown by the compiler starts its stack with "filename:line"; runtime errors
  // carry "filename:line:column" frames.
  const stack = typeof err?.stack === 'string' ? err.stack : '';
  const escaped = filename.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const m = new RegExp(escaped + ':(\\d+)(?::(\\d+))?').exec(stack);
  if (!m) return {};
  return { line: Number(m[1]), ...(m[2] ? { column: Number(m[2]) } : {}) };
}

// Sends one guest message to the host; `__toolexec_send` in the context calls it.
let sawDone = false;
function forward(message) {
  if (typeof message !== 'string') throw new TypeError('__toolexec_send expects a string');
  if (ended || sawDone) return;
  const isDone = message.startsWith('{"op":"done"');
  if (isDone || message.startsWith('{"op":"log"')) {
    // The host counts output exactly; this loose cap (the same rule as every far side) only
    // keeps a flood from reaching it.
    outputBytes += message.length;
    if (outputBytes > outputCap) {
      // The message that crosses the cap still goes out: the host counts what it receives and
      // decides (it believes no claim of this process about limits), then this ends.
      line({ t: 'out', id: jobId, m: [message] });
      finish({ code: 'OUTPUT_LIMIT', message: `The script's output (logs and result) exceeded maxOutputBytes (${maxOutputBytes} bytes)` });
      return;
    }
  }
  line({ t: 'out', id: jobId, m: [message] });
  if (isDone) {
    sawDone = true;
    finish(undefined);
  }
}

const PRELUDE_FILENAME = 'toolexec-prelude.js';

// The guest's synchronous services (runtimes/services.js, with the standard library's sources),
// given by the host in the init message, so the image holds only this agent.
function loadServices(text, stdlib) {
  if (typeof text !== 'string') return undefined;
  const mod = { exports: {} };
  vm.runInThisContext(`(function (module, exports, require) {${text}\n})`, { filename: 'toolexec-services.js' })(mod, mod.exports, require);
  return mod.exports.createServices({ stdlib: stdlib && typeof stdlib === 'object' ? stdlib : {} });
}

// Steps 1 and 2 of the protocol: a fresh context, the send primitive, the prelude, and the
// receive function taken out of the context.
function prepare(preludeText, services) {
  // A plain host object as the global, on purpose: hardening `vm` would only hide the real
  // boundary from the tests that prove it (they reach `process` the way an attacker would).
  const context = vm.createContext({}, { name: 'toolexec guest', codeGeneration: { strings: true, wasm: true } });
  context.__toolexec_send = (message) => forward(message);
  if (services) context.__toolexec_call = (op, a, b, c) => services.call(op, a, b, c);
  try {
    vm.runInContext(preludeText, context, { filename: PRELUDE_FILENAME });
  } catch (err) {
    return { error: `The prelude failed: ${err && err.message ? err.message : String(err)}` };
  }
  const receive = context.__toolexec_receive;
  // Deleted from inside as well: a property the prelude defined on the global may live on the
  // context's own global rather than on the sandbox object.
  delete context.__toolexec_send;
  delete context.__toolexec_receive;
  delete context.__toolexec_call;
  vm.runInContext('delete globalThis.__toolexec_send; delete globalThis.__toolexec_receive; delete globalThis.__toolexec_call;', context);
  if (typeof receive !== 'function') return { error: 'The prelude did not define __toolexec_receive' };
  return { context, receive };
}

let prepared = null;
let receive = null;

function runJob(id, job) {
  jobId = id;
  jobCpuStart = process.cpuUsage();
  if (!job || typeof job.code !== 'string' || !job.limits) {
    finish({ code: 'SANDBOX_CRASHED', message: 'The agent received a malformed job' });
    return;
  }
  const limits = job.limits;
  const timeoutMs = Number(limits.timeoutMs);
  if (Number.isFinite(timeoutMs) && timeoutMs > 0) setDeadline(timeoutMs + GRACE_MS);
  const filename = typeof job.filename === 'string' && job.filename ? job.filename : 'script.js';
  maxOutputBytes = Number(limits.maxOutputBytes);
  if (Number.isFinite(maxOutputBytes) && maxOutputBytes > 0) outputCap = maxOutputBytes * 2 + 65536;
  if (!prepared || prepared.error) {
    finish({ code: 'SANDBOX_CRASHED', message: prepared ? prepared.error : 'The agent received a job before the prelude' });
    return;
  }
  const { context } = prepared;
  let script;
  try {
    script = new vm.Script(job.code, { filename });
  } catch (err) {
    finish({ code: 'SYNTAX_ERROR', message: err && err.message ? String(err.message) : String(err), ...errorPosition(err, filename) });
    return;
  }
  try {
    script.runInContext(context);
  } catch (err) {
    const message = err && typeof err === 'object' && 'message' in err ? String(err.message) : String(err);
    const stack = err && typeof err.stack === 'string' ? err.stack : undefined;
    finish({ code: 'RUNTIME_ERROR', message, ...errorPosition(err, filename), ...(stack ? { stack } : {}) });
    return;
  }
  receive = prepared.receive;
}

function onLine(text) {
  if (!text || ended) return;
  let m;
  try {
    m = JSON.parse(text);
  } catch {
    return;
  }
  if (!m || typeof m !== 'object') return;
  if (m.t === 'init' && prepared === null && typeof m.prelude === 'string') {
    let services;
    try {
      services = loadServices(m.services, m.stdlib);
    } catch (err) {
      prepared = { error: `The services failed: ${err && err.message ? err.message : String(err)}` };
      line({ t: 'ready' });
      return;
    }
    prepared = prepare(m.prelude, services);
    line({ t: 'ready' });
  } else if (m.t === 'job' && jobId === 0 && Number.isSafeInteger(m.id) && m.id > 0) {
    runJob(m.id, m.job);
  } else if (m.t === 'reply' && m.id === jobId && receive && Array.isArray(m.m)) {
    for (const reply of m.m) if (typeof reply === 'string') inbox.push(reply);
    deliverNext();
  } else if (m.t === 'abort' && m.id === jobId) {
    finish(m.failure && typeof m.failure === 'object' ? m.failure : { code: 'CANCELLED', message: 'The host ended the job' });
  }
}

// Replies reach the guest one per macrotask: the microtasks one reply starts (a timer callback's
// promise jobs) run before the next reply arrives, as in Node and in the other runtimes.
const inbox = [];
let busy = false;
function deliverNext() {
  if (busy || ended) return;
  const reply = inbox.shift();
  if (reply === undefined) return;
  // Until the next macrotask, further replies wait in the inbox.
  busy = true;
  setImmediate(() => {
    busy = false;
    deliverNext();
  });
  try {
    receive(reply);
  } catch {
    // A throwing receive is the guest's own failure; it reports it through the bridge or not at all.
  }
}

let buffer = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  buffer += chunk;
  let nl;
  while ((nl = buffer.indexOf('\n')) !== -1) {
    const text = buffer.slice(0, nl);
    buffer = buffer.slice(nl + 1);
    onLine(text);
  }
});
process.stdin.on('end', () => {
  // The host closed stdin: it will not answer any more; nothing left to do.
  if (buffer) onLine(buffer);
  buffer = '';
  if (!ended) {
    ended = true;
    process.exit(0);
  }
});
