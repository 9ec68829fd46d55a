// The isolated-vm executor against plain isolated-vm, in one run: a script making 3 tool
// calls (warm pool), 1,000 sequential tool calls, an empty script, and fib(25).
//
// - toolexec: Executor + Runner (schema-validated local tools) on the isolated-vm runtime: the
//   isolate lives in a warm sandbox process (child process, --no-node-snapshot), fresh context
//   per execution, every bridge message crossing a pipe.
// - runtime only: the same runtime driven through the Runtime contract with the real prelude
//   and a host that answers every call at once (no executor, no runner), to separate the
//   isolation layer's cost from the executor's.
// - raw (this process, no isolation from the host): isolated-vm 5 with a minimal host function,
//   (a) promise-returning `Reference.apply` (`result: { promise: true }`) — the usual way to
//   give a guest an async host function — and (b) a synchronous `ivm.Callback`, which cannot
//   wait for an async tool but is the floor for any bridge. Raw runs reuse one isolate; "fresh
//   context" rows create a context per run (what toolexec gives every execution), "shared
//   context" rows reuse one (no isolation between runs at all).
//
// Run with `node --no-node-snapshot benchmarks/executor-isolated-vm.bench.mjs` (npm run bench
// passes the flag); `--quick` takes fewer samples.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { measure as measureRaw, report, mathAddTool, THREE_CALLS, THOUSAND_CALLS, FIB_25 } from './lib.mjs';
import { Executor } from '../dist/code/executor.js';
import { Runner } from '../dist/run/runner.js';
import { IsolatedVmRuntime } from '../dist/runtime/isolated-vm/index.js';

const measure = (name, fn, o) => {
  if (process.env.BENCH_DEBUG) console.error(`measuring ${name}`);
  return measureRaw(name, fn, o);
};
const quick = process.argv.includes('--quick');
const S = (n) => (quick ? Math.max(5, Math.floor(n / 4)) : n);
const ivm = createRequire(import.meta.url)('isolated-vm');

const add = async ({ a, b }) => ({ sum: a + b });

// ---- toolexec executor ----
const runner = new Runner();
runner.register(mathAddTool(add));
const executor = new Executor({ runner, runtime: 'isolated-vm', limits: { maxToolCalls: 5000, timeoutMs: 60_000 } });
await executor.warm();


async function te(script, expected) {
  const r = await executor.execute(script);
  if (!r.ok || r.value !== expected) throw new Error(`toolexec: unexpected result ${JSON.stringify(r.error ?? r.value)}`);
}

// ---- the runtime alone, through the Runtime contract ----
// Same pool shape as the executor gets by default (two warm processes served alternately).
const runtime = new IsolatedVmRuntime();
await runtime.warm();
const RT_LOOP = 'let s = 0;\nfor (let i = 0; i < 1000; i++) s = (await run("math:add", { a: s, b: 1 })).sum;\nreturn s;';
const RT_THREE = 'const a = await run("math:add", { a: 1, b: 2 });\nconst b = await run("math:add", { a: a.sum, b: 3 });\nconst c = await run("math:add", { a: b.sum, b: 4 });\nreturn c.sum;';
async function rtOnly(body, expected) {
  let done;
  const session = runtime.start(
    {
      code: `__toolexec_start(async function () {\n${body}\n});`,
      filename: 'script.js',
      lineOffset: 1,
      limits: { timeoutMs: 60_000, memoryMb: 64, maxOutputBytes: 10_000_000 },
    },
    (text) => {
      const m = JSON.parse(text);
      if (m.op === 'run') session.send(JSON.stringify({ id: m.id, ok: true, value: { sum: m.args.a + m.args.b } }));
      else if (m.op === 'done') done = m;
    },
  );
  const outcome = await session.done;
  if (outcome.failure || !done?.ok || done.value !== expected) throw new Error(`runtime: unexpected ${JSON.stringify(outcome.failure ?? done)}`);
}

// ---- raw isolated-vm in this process ----
const isolate = new ivm.Isolate({ memoryLimit: 128 });
const addRef = new ivm.Reference(async (json) => JSON.stringify(await add(JSON.parse(json))));
const addSync = new ivm.Callback((json) => {
  const { a, b } = JSON.parse(json);
  return JSON.stringify({ sum: a + b });
});
const RAW_THREE = 'const a = JSON.parse(await call(JSON.stringify({ a: 1, b: 2 })));\nconst b = JSON.parse(await call(JSON.stringify({ a: a.sum, b: 3 })));\nconst c = JSON.parse(await call(JSON.stringify({ a: b.sum, b: 4 })));\nreturn c.sum;';
const RAW_LOOP = 'let s = 0;\nfor (let i = 0; i < 1000; i++) s = JSON.parse(await call(JSON.stringify({ a: s, b: 1 }))).sum;\nreturn s;';
const RAW_FIB = 'function fib(n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }\nreturn fib(25);';
const SYNC_THREE = RAW_THREE.replaceAll('await call', 'callSync');
const SYNC_LOOP = RAW_LOOP.replaceAll('await call', 'callSync');

async function setup(context) {
  await context.global.set('__add', addRef);
  await context.global.set('callSync', addSync);
  await context.eval('globalThis.call = (json) => __add.apply(undefined, [json], { result: { promise: true } });');
}
let shared = await isolate.createContext();
await setup(shared);

async function rawPromise(body, expected, fresh) {
  const context = fresh ? await isolate.createContext() : shared;
  if (fresh) await setup(context);
  const value = await context.eval(`(async () => {\n${body}\n})()`, { promise: true, timeout: 60_000 });
  if (fresh) context.release();
  if (value !== expected) throw new Error(`raw: unexpected result ${value}`);
}
async function rawSync(body, expected, fresh) {
  const context = fresh ? await isolate.createContext() : shared;
  if (fresh) await setup(context);
  const value = context.evalSync(`(() => {\n${body}\n})()`, { timeout: 60_000 });
  if (fresh) context.release();
  if (value !== expected) throw new Error(`raw sync: unexpected result ${value}`);
}

const runnerCall = () => runner.run('math:add', { a: 1, b: 2 });

const rows = [];
rows.push(await measure('toolexec 3 calls (warm)', () => te(THREE_CALLS, 10), { samples: S(200), warmup: 20 }));
rows.push(await measure('runtime only 3 calls', () => rtOnly(RT_THREE, 10), { samples: S(200), warmup: 20 }));
rows.push(await measure('raw ivm apply 3 calls, fresh context', () => rawPromise(RAW_THREE, 10, true), { samples: S(200), warmup: 20 }));
rows.push(await measure('raw ivm apply 3 calls, shared context', () => rawPromise(RAW_THREE, 10, false), { samples: S(200), warmup: 20 }));
rows.push(await measure('raw ivm sync callback 3 calls, fresh context', () => rawSync(SYNC_THREE, 10, true), { samples: S(200), warmup: 20 }));
rows.push(await measure('raw ivm sync callback 3 calls, shared context', () => rawSync(SYNC_THREE, 10, false), { samples: S(200), warmup: 20 }));
rows.push(await measure('toolexec empty script', () => te('1', 1), { samples: S(200), warmup: 20 }));
rows.push(await measure('raw ivm empty script, fresh context', () => rawPromise('return 1;', 1, true), { samples: S(200), warmup: 20 }));
const loopTe = await measure('toolexec 1000 calls', () => te(THOUSAND_CALLS, 1000), { samples: S(20), warmup: 2 });
const loopRt = await measure('runtime only 1000 calls', () => rtOnly(RT_LOOP, 1000), { samples: S(20), warmup: 2 });
const loopApply = await measure('raw ivm apply 1000 calls', () => rawPromise(RAW_LOOP, 1000, false), { samples: S(20), warmup: 2 });
const loopSync = await measure('raw ivm sync callback 1000 calls', () => rawSync(SYNC_LOOP, 1000, false), { samples: S(20), warmup: 2 });
rows.push(loopTe, loopRt, loopApply, loopSync);
const runnerRow = await measure('runner.run alone (per call)', runnerCall, { samples: S(50), batch: 200, warmup: 2 });
rows.push(runnerRow);
rows.push(await measure('toolexec fib(25)', () => te(FIB_25, 75025), { samples: S(20), warmup: 3 }));
rows.push(await measure('raw ivm fib(25), fresh context', () => rawPromise(RAW_FIB, 75025, true), { samples: S(20), warmup: 3 }));
rows.push(await measure('raw ivm fib(25), shared context', () => rawPromise(RAW_FIB, 75025, false), { samples: S(20), warmup: 3 }));

const perCall = (row) => row.medianUs / 1000;
const teCall = perCall(loopTe);
const rtCall = perCall(loopRt);
const applyCall = perCall(loopApply);
const syncCall = perCall(loopSync);
const notes = [
  `per tool call over 1000 sequential calls: toolexec ${teCall.toFixed(1)} µs, runtime only ${rtCall.toFixed(1)} µs, raw apply (promise) ${applyCall.toFixed(1)} µs, raw sync callback ${syncCall.toFixed(1)} µs`,
  `runner.run alone: ${runnerRow.medianUs.toFixed(1)} µs per call (schema validation on both sides)`,
  `bridge overhead per call (toolexec per call − runner.run alone): ${(teCall - runnerRow.medianUs).toFixed(1)} µs; of which the isolation layer (runtime only − raw sync callback): ${(rtCall - syncCall).toFixed(1)} µs`,
  'toolexec runs the isolate in a separate sandbox process (pipe round trip per sequential call) so that an OOM abort or a native builtin that ignores the timeout can be killed; raw runs in this process with no such protection',
];
await executor.dispose();
await runtime.dispose();
isolate.dispose();
report('executor-isolated-vm', rows, {
  ratios: [
    ['toolexec / raw apply (fresh context), 3 calls', 'toolexec 3 calls (warm)', 'raw ivm apply 3 calls, fresh context'],
    ['toolexec / raw apply (shared context), 3 calls', 'toolexec 3 calls (warm)', 'raw ivm apply 3 calls, shared context'],
    ['toolexec / raw sync callback (fresh context), 3 calls', 'toolexec 3 calls (warm)', 'raw ivm sync callback 3 calls, fresh context'],
    ['runtime only / raw apply (fresh context), 3 calls', 'runtime only 3 calls', 'raw ivm apply 3 calls, fresh context'],
    ['toolexec / raw, empty script', 'toolexec empty script', 'raw ivm empty script, fresh context'],
    ['toolexec / raw apply, 1000 calls', 'toolexec 1000 calls', 'raw ivm apply 1000 calls'],
    ['runtime only / raw sync callback, 1000 calls', 'runtime only 1000 calls', 'raw ivm sync callback 1000 calls'],
    ['toolexec / raw (fresh context), fib(25)', 'toolexec fib(25)', 'raw ivm fib(25), fresh context'],
    ['toolexec / raw (shared context), fib(25)', 'toolexec fib(25)', 'raw ivm fib(25), shared context'],
  ],
  notes,
});
