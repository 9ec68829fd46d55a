// The QuickJS executor against the raw engine and against @sebastianwessel/quickjs, in one run:
// a script making 3 tool calls (warm pool), 1,000 sequential tool calls, and fib(25).
//
// - toolexec: Executor + Runner (schema-validated local tools), QuickJS in a warm worker
//   thread, fresh QuickJS runtime and context per execution.
// - raw: quickjs-emscripten 0.32 sync build in this thread, fresh runtime and context per
//   execution, one minimal host function (`newPromise` + `executePendingJobs`), same tools
//   called directly (no runner, no validation, no worker, no limits).
// - sebastianwessel: @sebastianwessel/quickjs 3.1 `runSandboxed` with the tools in `env`.
import { newQuickJSWASMModule } from 'quickjs-emscripten';
import { loadQuickJs } from '@sebastianwessel/quickjs';
import variant from '@jitl/quickjs-wasmfile-release-sync';
import { measure as measureRaw, report, summarize, mathAddTool, THREE_CALLS, THOUSAND_CALLS, FIB_25, rawQuickJS as rawQuickJSRun, measureWithGap } from './lib.mjs';

const measure = (name, fn, o) => {
  if (process.env.BENCH_DEBUG) console.error(`measuring ${name}`);
  return measureRaw(name, fn, o);
};
import { Executor } from '../dist/code/executor.js';
import { Runner } from '../dist/run/runner.js';
import { QuickJSRuntime } from '../dist/runtime/quickjs/index.js';

const quick = process.argv.includes('--quick');
const S = (n) => (quick ? Math.max(5, Math.floor(n / 4)) : n);

const add = async ({ a, b }) => ({ sum: a + b });

// ---- toolexec ----
const runner = new Runner();
runner.register(mathAddTool(add));
const executor = new Executor({ runner, limits: { maxToolCalls: 5000, timeoutMs: 60_000 } });
await executor.warm();


// The same executor with QuickJS in this thread (isolation: 'none'): the difference to the
// rows above is what the worker isolation costs.
const inProcessRuntime = new QuickJSRuntime({ isolation: 'none' });
const inProcess = new Executor({ runner, runtime: inProcessRuntime, limits: { maxToolCalls: 5000, timeoutMs: 60_000 } });
await inProcess.warm();

async function te(script, expected, ex = executor) {
  const r = await ex.execute(script);
  if (!r.ok || r.value !== expected) throw new Error(`toolexec: unexpected result ${JSON.stringify(r.error ?? r.value)}`);
}

// ---- raw quickjs-emscripten ----
const QuickJS = await newQuickJSWASMModule();
const RAW_THREE = 'const a = JSON.parse(await call("add", JSON.stringify({ a: 1, b: 2 })));\nconst b = JSON.parse(await call("add", JSON.stringify({ a: a.sum, b: 3 })));\nconst c = JSON.parse(await call("add", JSON.stringify({ a: b.sum, b: 4 })));\nreturn c.sum;';
const RAW_LOOP = 'let s = 0;\nfor (let i = 0; i < 1000; i++) s = JSON.parse(await call("add", JSON.stringify({ a: s, b: 1 }))).sum;\nreturn s;';
const RAW_FIB = 'function fib(n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }\nreturn fib(25);';

const raw = (body, expected) => rawQuickJSRun(QuickJS, body, add, expected);

// ---- @sebastianwessel/quickjs ----
const { runSandboxed } = await loadQuickJs(variant);
const SW_THREE = 'const a = await env.add({ a: 1, b: 2 });\nconst b = await env.add({ a: a.sum, b: 3 });\nconst c = await env.add({ a: b.sum, b: 4 });\nexport default c.sum;';
const SW_LOOP = 'let s = 0;\nfor (let i = 0; i < 1000; i++) s = (await env.add({ a: s, b: 1 })).sum;\nexport default s;';
const SW_FIB = 'function fib(n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }\nexport default fib(25);';
async function sw(code, expected) {
  const r = await runSandboxed(async ({ evalCode }) => evalCode(code), { env: { add } });
  if (!r.ok || r.data !== expected) throw new Error(`sebastianwessel: unexpected result ${JSON.stringify(r)}`);
}

// ---- the isolation's transport alone: a worker echoing messages ----
import { Worker, MessageChannel } from 'node:worker_threads';
function echoWorker(mode) {
  // mode 'post': host -> worker and back by postMessage (worker idle in its event loop).
  // mode 'atomics': worker blocks in Atomics.wait; host posts on a port and notifies; the
  // worker drains with receiveMessageOnPort and answers by postMessage (what toolexec does).
  const control = new SharedArrayBuffer(8);
  const { port1, port2 } = new MessageChannel();
  const w = new Worker(
    `const { parentPort, workerData, receiveMessageOnPort } = require('node:worker_threads');
     const ctrl = new Int32Array(workerData.control);
     if (workerData.mode === 'post') parentPort.on('message', (m) => parentPort.postMessage(m));
     else parentPort.once('message', () => {
       for (;;) {
         const seq = Atomics.load(ctrl, 0);
         const r = receiveMessageOnPort(workerData.port);
         if (r) { if (r.message === 'stop') break; parentPort.postMessage(r.message); continue; }
         Atomics.wait(ctrl, 0, seq, 1000);
       }
     });`,
    { eval: true, workerData: { control, port: port2, mode }, transferList: [port2] },
  );
  const ctrl = new Int32Array(control);
  let resolveNext;
  w.on('message', (m) => resolveNext?.(m));
  if (mode === 'atomics') w.postMessage('start');
  return {
    roundTrip(text) {
      return new Promise((resolve) => {
        resolveNext = resolve;
        if (mode === 'post') w.postMessage(text);
        else {
          port1.postMessage(text);
          Atomics.add(ctrl, 0, 1);
          Atomics.notify(ctrl, 0);
        }
      });
    },
    async close() {
      if (mode === 'atomics') {
        port1.postMessage('stop');
        Atomics.add(ctrl, 0, 1);
        Atomics.notify(ctrl, 0);
      }
      await w.terminate();
    },
  };
}
const MSG = '{"id":1,"ok":true,"value":{"sum":5}}';

// ---- runner alone, to separate the tool's own cost from the bridge ----
const runnerCall = () => runner.run('math:add', { a: 1, b: 2 });

// Warm-up matters more than usual here: every worker thread compiles and tiers up its own
// copy of the QuickJS WebAssembly, and the pool alternates between two workers. Measured
// without this, the first few thousand calls in a fresh worker cost 3-5x the steady state.
for (let i = 0; i < (quick ? 8 : 20); i++) {
  await te(THOUSAND_CALLS, 1000);
  await te(THOUSAND_CALLS, 1000, inProcess);
  await raw(RAW_LOOP, 1000);
}
for (let i = 0; i < (quick ? 100 : 300); i++) {
  await te(THREE_CALLS, 10);
  await te(THREE_CALLS, 10, inProcess);
  await raw(RAW_THREE, 10);
}

const rows = [];
rows.push(await measureWithGap('toolexec 3 calls (5 ms idle before)', () => te(THREE_CALLS, 10), { samples: S(200) }));
rows.push(await measureWithGap('toolexec in-process 3 calls (5 ms idle before)', () => te(THREE_CALLS, 10, inProcess), { samples: S(200) }));
rows.push(await measureWithGap('raw quickjs 3 calls (5 ms idle before)', () => raw(RAW_THREE, 10), { samples: S(200) }));
rows.push(await measureWithGap('sebastianwessel 3 calls (5 ms idle before)', () => sw(SW_THREE, 10), { samples: S(40) }));
rows.push(await measure('toolexec 3 calls (back to back)', () => te(THREE_CALLS, 10), { samples: S(200), warmup: 20 }));
rows.push(await measure('toolexec in-process 3 calls (back to back)', () => te(THREE_CALLS, 10, inProcess), { samples: S(200), warmup: 20 }));
rows.push(await measure('raw quickjs 3 calls (back to back)', () => raw(RAW_THREE, 10), { samples: S(200), warmup: 20 }));
rows.push(await measure('sebastianwessel 3 calls (back to back)', () => sw(SW_THREE, 10), { samples: S(40), warmup: 5 }));
rows.push(await measure('toolexec empty script', () => te('1', 1), { samples: S(200), warmup: 20 }));
rows.push(await measure('toolexec in-process empty script', () => te('1', 1, inProcess), { samples: S(200), warmup: 20 }));
rows.push(await measure('raw quickjs empty script', () => raw('return 1;', 1), { samples: S(200), warmup: 20 }));
const loopTe = await measure('toolexec 1000 calls', () => te(THOUSAND_CALLS, 1000), { samples: S(20), warmup: 2 });
const loopIn = await measure('toolexec in-process 1000 calls', () => te(THOUSAND_CALLS, 1000, inProcess), { samples: S(20), warmup: 2 });
const loopRaw = await measure('raw quickjs 1000 calls', () => raw(RAW_LOOP, 1000), { samples: S(20), warmup: 2 });
const loopSw = await measure('sebastianwessel 1000 calls', () => sw(SW_LOOP, 1000), { samples: S(5), warmup: 1 });
rows.push(loopTe, loopIn, loopRaw, loopSw);
const runnerRow = await measure('runner.run alone (per call)', runnerCall, { samples: S(50), batch: 200, warmup: 2 });
rows.push(runnerRow);
for (const mode of ['post', 'atomics']) {
  const w = echoWorker(mode);
  rows.push(await measure(`transport round trip (${mode})`, () => w.roundTrip(MSG), { samples: S(40), batch: 100, warmup: 2 }));
  await w.close();
}
rows.push(await measure('toolexec fib(25)', () => te(FIB_25, 75025), { samples: S(20), warmup: 3 }));
rows.push(await measure('raw quickjs fib(25)', () => raw(RAW_FIB, 75025), { samples: S(20), warmup: 3 }));
rows.push(await measure('sebastianwessel fib(25)', () => sw(SW_FIB, 75025), { samples: S(10), warmup: 2 }));

const perCall = (row) => row.medianUs / 1000;
const teCall = perCall(loopTe);
const inCall = perCall(loopIn);
const rawCall = perCall(loopRaw);
const swCall = perCall(loopSw);
const notes = [
  `per tool call over 1000 sequential calls: toolexec ${teCall.toFixed(1)} µs (in-process ${inCall.toFixed(1)} µs), raw quickjs ${rawCall.toFixed(1)} µs, sebastianwessel ${swCall.toFixed(1)} µs`,
  `worker isolation costs ${(teCall - inCall).toFixed(1)} µs per tool call (toolexec − toolexec in-process)`,
  `runner.run alone: ${runnerRow.medianUs.toFixed(1)} µs per call (schema validation on both sides)`,
  `bridge overhead per call (toolexec per call − runner.run alone): ${(teCall - runnerRow.medianUs).toFixed(1)} µs; over raw quickjs per call: ${(teCall - rawCall).toFixed(1)} µs`,
  'toolexec runs every execution in a worker thread (postMessage out, MessagePort + Atomics.wait back); raw runs in this thread with no limits',
  'transport rows: one host -> worker -> host round trip of a small reply, alone; the isolation cost per tool call is about one of these',
  'back to back: each execution starts as soon as the previous one ended, so building the next sandbox (QuickJS runtime + context + compiling the prelude, about 1-1.5 ms here) is on the critical path unless the other pooled worker is ready; "5 ms idle before" gives the pool that time, as the think time between an agent\'s scripts does',
];
await executor.dispose();
await inProcess.dispose();
await inProcessRuntime.dispose();
report('executor-quickjs', rows, {
  ratios: [
    ['toolexec / raw, 3 calls after idle', 'toolexec 3 calls (5 ms idle before)', 'raw quickjs 3 calls (5 ms idle before)'],
    ['sebastianwessel / toolexec, 3 calls after idle', 'sebastianwessel 3 calls (5 ms idle before)', 'toolexec 3 calls (5 ms idle before)'],
    ['toolexec in-process / raw, 3 calls after idle', 'toolexec in-process 3 calls (5 ms idle before)', 'raw quickjs 3 calls (5 ms idle before)'],
    ['toolexec / raw, 3 calls back to back', 'toolexec 3 calls (back to back)', 'raw quickjs 3 calls (back to back)'],
    ['sebastianwessel / toolexec, 3 calls back to back', 'sebastianwessel 3 calls (back to back)', 'toolexec 3 calls (back to back)'],
    ['toolexec / raw, empty script', 'toolexec empty script', 'raw quickjs empty script'],
    ['toolexec / raw, 1000 calls', 'toolexec 1000 calls', 'raw quickjs 1000 calls'],
    ['toolexec in-process / raw, 1000 calls', 'toolexec in-process 1000 calls', 'raw quickjs 1000 calls'],
    ['sebastianwessel / toolexec, 1000 calls', 'sebastianwessel 1000 calls', 'toolexec 1000 calls'],
    ['toolexec / raw, fib(25)', 'toolexec fib(25)', 'raw quickjs fib(25)'],
    ['sebastianwessel / toolexec, fib(25)', 'sebastianwessel fib(25)', 'toolexec fib(25)'],
  ],
  notes,
});
