'use strict';
// The toolexec guest agent: the entrypoint of a sandbox container. It waits on stdin for ONE job,
// evaluates it in a fresh `vm` context following the runtime protocol of src/runtime/types.ts, and
// carries bridge messages as JSON lines over stdio. Then the container ends; it is never reused.
//
// Wire format (one JSON value per line, in both directions):
//   host  → agent  first line: the job object {prelude, code, filename, lineOffset, limits};
//                  then every host → guest bridge message as a JSON string literal.
//   agent → host   every guest → host bridge message as a JSON string literal ("…"), and
//                  agent control lines as objects ({"t":"ready"|"stats"|"fail", …}).
// Bridge messages are always encoded as string literals so that no guest text, whatever it holds
// (newlines included), can be mistaken for a control line.
//
// The `vm` module is not a security boundary: guest code can reach this process. The container
// (no network, read-only root, non-root, no capabilities, memory/PID limits) is the boundary, and
// the host treats everything this process writes as hostile. This file keeps the honest path
// correct and cheap; it enforces nothing the host relies on.

const fs = require('node:fs');
const vm = require('node:vm');

let ended = false;
let outputBytes = 0;
let outputCap = Infinity;

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

function writeLine(text) {
  if (ended) return;
  writeAll(text + '\n');
}

function control(obj) {
  writeLine(JSON.stringify(obj));
}

// CPU is counted from the job's arrival: node's own start-up is not the guest's.
let jobCpuStart;
function stats() {
  const cpu = process.cpuUsage(jobCpuStart);
  return { t: 'stats', cpuMs: (cpu.user + cpu.system) / 1000, memoryBytes: process.memoryUsage().rss };
}

// Everything is written already (see writeAll), so the agent can end right away, even from
// inside a guest's synchronous loop.
function finish(code) {
  if (ended) return;
  ended = true;
  process.exit(code);
}

function fail(code, message, extra) {
  control(Object.assign({ t: 'fail', code, message }, extra || {}));
  finish(0);
}

function errorPosition(err, filename, lineOffset) {
  // A SyntaxError thrown by the compiler starts its stack with "filename:line"; runtime errors
  // carry "filename:line:column" frames.
  const stack = typeof err?.stack === 'string' ? err.stack : '';
  const escaped = filename.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const m = new RegExp(escaped + ':(\\d+)(?::(\\d+))?').exec(stack);
  if (!m) return {};
  const line = Number(m[1]) - lineOffset;
  return line >= 1 ? { line, ...(m[2] ? { column: Number(m[2]) } : {}) } : {};
}

// Sends one guest message to the host; `send` in the context calls it. It is module-level so that
// a context prepared before the job arrives already points at it.
let sawDone = false;
let maxOutputBytes = Infinity;
function forward(message) {
  if (typeof message !== 'string') throw new TypeError('__toolexec_send expects a string');
  if (ended || sawDone) return;
  outputBytes += message.length;
  if (outputBytes > outputCap) {
    fail('OUTPUT_LIMIT', `guest output exceeded ${maxOutputBytes} bytes`);
    return;
  }
  // Only the done message ends the execution; the cheap substring test keeps floods of logs
  // from being parsed twice.
  let isDone = false;
  if (message.includes('"done"')) {
    try {
      isDone = JSON.parse(message)?.op === 'done';
    } catch {
      isDone = false;
    }
  }
  if (isDone) {
    sawDone = true;
    control(stats());
    writeLine(JSON.stringify(message));
    finish(0);
    return;
  }
  writeLine(JSON.stringify(message));
}

// Steps 1 and 2 of the protocol: a fresh context, the send primitive, the prelude, and the
// receive function taken out of the context. Returns the receive function or an error message.
function prepare(preludeText) {
  // A plain host object as the global, on purpose: hardening `vm` would only hide the real
  // boundary from the tests that prove it (they reach `process` the way an attacker would).
  const context = vm.createContext({}, {
    name: 'toolexec guest',
    codeGeneration: { strings: true, wasm: true },
  });
  context.__toolexec_send = (message) => forward(message);
  try {
    vm.runInContext(preludeText, context, { filename: 'prelude.js' });
  } catch (err) {
    return { error: `the guest prelude failed: ${err && err.message ? err.message : String(err)}` };
  }
  const receive = context.__toolexec_receive;
  // Deleted from inside as well: a property the prelude defined on the global may live on the
  // context's own global rather than on the sandbox object.
  delete context.__toolexec_send;
  delete context.__toolexec_receive;
  vm.runInContext('delete globalThis.__toolexec_send; delete globalThis.__toolexec_receive;', context);
  if (typeof receive !== 'function') return { error: 'the guest prelude did not define __toolexec_receive' };
  return { context, receive };
}

// The image ships the prelude it was built with: the context is prepared with it while the
// container waits, and used when the job brings the same text (a different prelude, from a
// newer package than the image, is evaluated fresh). Nothing runs in it before the job.
let primed = null;
function prime() {
  let text;
  try {
    text = fs.readFileSync(require('node:path').join(__dirname, 'prelude.js'), 'utf8');
  } catch {
    return;
  }
  const prepared = prepare(text);
  if (prepared.context) primed = { text, prepared };
}

function runJob(job) {
  jobCpuStart = process.cpuUsage();
  if (!job || typeof job.prelude !== 'string' || typeof job.code !== 'string') {
    fail('SANDBOX_CRASHED', 'agent received a malformed job (prelude and code must be strings)');
    return null;
  }
  const filename = typeof job.filename === 'string' && job.filename ? job.filename : 'script.js';
  const lineOffset = Number.isInteger(job.lineOffset) ? job.lineOffset : 0;
  maxOutputBytes = Number(job.limits?.maxOutputBytes);
  // Stop a flood early but loosely: the executor counts payload bytes precisely and cuts at the
  // exact limit, while this counts whole messages (keys, quoting), so it must not cut first.
  if (Number.isFinite(maxOutputBytes) && maxOutputBytes > 0) {
    outputCap = Math.max(maxOutputBytes * 4, maxOutputBytes + 1024 * 1024);
  }

  const prepared = primed && primed.text === job.prelude ? primed.prepared : prepare(job.prelude);
  primed = null;
  if (prepared.error) {
    fail('SANDBOX_CRASHED', prepared.error);
    return null;
  }
  const { context, receive } = prepared;

  let script;
  try {
    script = new vm.Script(job.code, { filename });
  } catch (err) {
    fail('SYNTAX_ERROR', err && err.message ? err.message : String(err), errorPosition(err, filename, lineOffset));
    return null;
  }
  try {
    script.runInContext(context);
  } catch (err) {
    const message = err && typeof err === 'object' && 'message' in err ? String(err.message) : String(err);
    const stack = err && typeof err.stack === 'string' ? err.stack : undefined;
    fail('RUNTIME_ERROR', message, Object.assign(errorPosition(err, filename, lineOffset), stack ? { stack } : {}));
    return null;
  }
  return receive;
}

let receive = null;
let gotJob = false;
let buffer = '';

function onLine(line) {
  if (!line) return;
  if (!gotJob) {
    // Bytes the engine let through from the attach request itself (see sandbox.ts) come before
    // the host's first newline; the job is the first line that starts like a JSON object.
    if (line[0] !== '{') return;
    gotJob = true;
    let job;
    try {
      job = JSON.parse(line);
    } catch (err) {
      fail('SANDBOX_CRASHED', `agent could not parse the job: ${err.message}`);
      return;
    }
    receive = runJob(job);
    return;
  }
  if (!receive || ended) return;
  let message;
  try {
    message = JSON.parse(line);
  } catch {
    return;
  }
  if (typeof message !== 'string') return;
  try {
    receive(message);
  } catch {
    // A throwing receive is the guest's own failure; it reports it through the bridge or not at all.
  }
}

process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  buffer += chunk;
  let nl;
  while ((nl = buffer.indexOf('\n')) !== -1) {
    const line = buffer.slice(0, nl);
    buffer = buffer.slice(nl + 1);
    onLine(line);
  }
});
process.stdin.on('end', () => {
  // The host closed stdin: it will not answer any more; nothing left to do.
  if (buffer) onLine(buffer);
  buffer = '';
  if (!ended) finish(0);
});

prime();
control({ t: 'ready' });
