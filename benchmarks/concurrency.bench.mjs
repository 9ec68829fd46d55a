// Executions per second under concurrency: 8 clients, each running the 3-tool-call script back to
// back, for each runtime with its default pool, against the raw engine doing the same with a
// pool of its own (one per core):
//
// - raw quickjs: worker threads, each running quickjs-emscripten executions (a fresh runtime and
//   context each, the tool inside the thread: no host round trip at all);
// - raw isolated-vm: isolates in this process (isolated-vm runs each on its own thread), a fresh
//   context per execution on the least busy one, the tool through `Reference.apply`.
//
// Rounds alternate between systems; the load average is recorded. Usage:
//   node --no-node-snapshot benchmarks/concurrency.bench.mjs [--quick] [--docker]
import { availableParallelism, loadavg } from 'node:os';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { THREE_CALLS, mathAddTool, report, summarize } from './lib.mjs';
import { Executor } from '../dist/code/executor.js';
import { Runner } from '../dist/run/runner.js';

const quick = process.argv.includes('--quick');
const withDocker = process.argv.includes('--docker') || process.env.TOOLEXEC_BENCH_DOCKER === '1';
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 8);
const SECONDS = Number(process.env.BENCH_SECONDS ?? (quick ? 2 : 5));
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? (quick ? 2 : 3));
const CORES = availableParallelism();
const require = createRequire(import.meta.url);
const loadStart = loadavg();
const add = async ({ a, b }) => ({ sum: a + b });
const RAW_THREE = 'const a = JSON.parse(await call(JSON.stringify({ a: 1, b: 2 })));\nconst b = JSON.parse(await call(JSON.stringify({ a: a.sum, b: 3 })));\nconst c = JSON.parse(await call(JSON.stringify({ a: b.sum, b: 4 })));\nreturn c.sum;';

// ---- toolexec ----
const runner = new Runner();
runner.register(mathAddTool(add));
const executors = {};
for (const rt of ['quickjs', 'isolated-vm', ...(withDocker ? ['docker'] : [])]) {
  executors[rt] = new Executor({ runner, runtime: rt, limits: { timeoutMs: 60_000 } });
  await executors[rt].warm();
}
const toolexec = (rt) => async () => {
  const r = await executors[rt].execute(THREE_CALLS);
  if (!r.ok || r.value !== 10) throw new Error(`toolexec ${rt}: ${JSON.stringify(r.error ?? r.value)}`);
};

// ---- raw quickjs: a pool of threads ----
const qjsPath = require.resolve('quickjs-emscripten');
const rawQuickJSWorkers = Array.from({ length: CORES }, () => {
  const w = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads');
     const mod = require(workerData.qjsPath);
     const add = async ({ a, b }) => ({ sum: a + b });
     // The same raw baseline as the other benchmarks (benchmarks/lib.mjs), in a thread of the pool.
     Promise.all([mod.newQuickJSWASMModule(mod.RELEASE_SYNC), import(workerData.libUrl)]).then(([QuickJS, lib]) => {
       parentPort.on('message', async ({ id, body, expected }) => {
         let value = expected;
         try {
           await lib.rawQuickJS(QuickJS, body, add, expected);
         } catch (e) {
           value = String(e && e.message);
         }
         parentPort.postMessage({ id, value });
       });
       parentPort.postMessage({ ready: true });
     });`,
    { eval: true, workerData: { qjsPath, libUrl: new URL('./lib.mjs', import.meta.url).href } },
  );
  const pending = new Map();
  let busy = 0;
  const ready = new Promise((resolve) => w.once('message', resolve));
  w.on('message', (m) => {
    if (m.id === undefined) return;
    busy--;
    pending.get(m.id)(m.value);
    pending.delete(m.id);
  });
  let seq = 0;
  return {
    ready,
    get busy() {
      return busy;
    },
    run(body, expected) {
      busy++;
      const id = ++seq;
      return new Promise((resolve) => {
        pending.set(id, resolve);
        w.postMessage({ id, body, expected });
      });
    },
    close: () => w.terminate(),
  };
});
await Promise.all(rawQuickJSWorkers.map((w) => w.ready));
const rawQuickJS = async () => {
  const w = rawQuickJSWorkers.reduce((a, b) => (b.busy < a.busy ? b : a));
  const v = await w.run(RAW_THREE, 10);
  if (v !== 10) throw new Error(`raw quickjs: ${v}`);
};

// ---- raw isolated-vm: a pool of isolates ----
const ivm = require('isolated-vm');
const addRef = new ivm.Reference(async (json) => JSON.stringify(await add(JSON.parse(json))));
// The raw pool reuses each isolate for every execution: contexts released at this rate outrun
// V8's collector on a loaded machine, so the isolates get room (and one that hit its limit anyway
// is replaced, as toolexec replaces its own).
const isolates = Array.from({ length: CORES }, () => ({ isolate: new ivm.Isolate({ memoryLimit: 512 }), busy: 0 }));
const rawIvm = async () => {
  const slot = isolates.reduce((a, b) => (b.busy < a.busy ? b : a));
  slot.busy++;
  try {
    const context = await slot.isolate.createContext();
    await context.global.set('__add', addRef);
    await context.eval('globalThis.call = (json) => __add.apply(undefined, [json], { result: { promise: true } });');
    const v = await context.eval(`(async () => {\n${RAW_THREE}\n})()`, { promise: true, timeout: 60_000 });
    context.release();
    if (v !== 10) throw new Error(`raw isolated-vm: ${v}`);
  } catch (e) {
    if (!slot.isolate.isDisposed) throw e;
    slot.isolate = new ivm.Isolate({ memoryLimit: 512 });
    slot.replaced = (slot.replaced ?? 0) + 1;
  } finally {
    slot.busy--;
  }
};

/** CLIENTS clients run `fn` back to back for SECONDS; returns executions/s and latencies (µs). */
async function load(fn) {
  const latencies = [];
  const until = performance.now() + SECONDS * 1000;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (performance.now() < until) {
        const s = performance.now();
        await fn();
        latencies.push((performance.now() - s) * 1000);
      }
    }),
  );
  return { perSecond: latencies.length / ((performance.now() - t0) / 1000), latencies };
}

const systems = [
  ['toolexec quickjs', toolexec('quickjs')],
  ['raw quickjs pool', rawQuickJS],
  ['toolexec isolated-vm', toolexec('isolated-vm')],
  ['raw isolated-vm pool', rawIvm],
  ...(withDocker ? [['toolexec docker', toolexec('docker')]] : []),
];
// Warm-up to a steady state (V8's JIT and WebAssembly tier-up; see peers.bench.mjs): each system
// under the same load for WARM_S before the rounds.
const WARM_S = Number(process.env.BENCH_WARM_S ?? (quick ? 1 : 3));
for (const [, fn] of systems) {
  for (let i = 0; i < 5; i++) await fn();
  const until = performance.now() + WARM_S * 1000;
  await Promise.all(Array.from({ length: CLIENTS }, async () => {
    while (performance.now() < until) await fn();
  }));
}

const rates = new Map(systems.map(([name]) => [name, []]));
const lat = new Map(systems.map(([name]) => [name, []]));
for (let round = 0; round < ROUNDS; round++) {
  for (let i = 0; i < systems.length; i++) {
    const [name, fn] = systems[(i + round) % systems.length];
    const r = await load(fn);
    rates.get(name).push(r.perSecond);
    lat.get(name).push(...r.latencies);
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rows = systems.map(([name]) => summarize(`${name}: latency with ${CLIENTS} clients`, lat.get(name)));
const perSecond = Object.fromEntries(systems.map(([name]) => [name, median(rates.get(name))]));
const loadEnd = loadavg();
const notes = [
  ...systems.map(([name]) => `${name}: ${perSecond[name].toFixed(0)} executions/s with ${CLIENTS} clients on ${CORES} cores (median of ${ROUNDS} rounds of ${SECONDS} s: ${rates.get(name).map((x) => x.toFixed(0)).join(', ')})`),
  `throughput toolexec quickjs / raw quickjs pool: ${(perSecond['toolexec quickjs'] / perSecond['raw quickjs pool']).toFixed(2)}x`,
  `throughput toolexec isolated-vm / raw isolated-vm pool: ${(perSecond['toolexec isolated-vm'] / perSecond['raw isolated-vm pool']).toFixed(2)}x`,
  `warm-up: each system ran under the same load for ${WARM_S} s before the rounds`,
  `load average at start ${loadStart.map((l) => l.toFixed(1)).join(' ')}, at end ${loadEnd.map((l) => l.toFixed(1)).join(' ')}`,
];
for (const ex of Object.values(executors)) await ex.dispose();
await Promise.all(rawQuickJSWorkers.map((w) => w.close()));
for (const s of isolates) s.isolate.dispose();
report('concurrency', rows, { notes });
