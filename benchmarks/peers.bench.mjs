// Every runtime against its raw engine and the peers that run here, in one run, with ratios and
// the targets of issue 13 checked. Within a runtime's group, rounds are interleaved (every system
// takes its samples in every round, in rotating order), so the load of a shared machine falls on
// toolexec and the engines it is compared with alike; the groups run one after another; figures
// are medians over all rounds, and the load average is recorded at the start and end.
//
// Workloads (benchmarks/lib.mjs): an execution of 3 dependent tool calls, after a 5 ms idle gap
// (an agent's think time, which the pools use to prepare) and back to back; the per-call cost
// of a 1,000-call script; fib(25).
//
// Systems:
// - toolexec <runtime>: Executor + Runner (schema-validated local tool), the default options;
// - toolexec quickjs in the calling thread: the same with `isolation: 'none'` (trusted code only),
//   which is toolexec's own cost without the hop to the sandbox thread;
// - raw quickjs: quickjs-emscripten 0.32 sync build in this thread, a fresh runtime and context
//   per execution, one host function (`newPromise` + `executePendingJobs`), no limits;
// - raw isolated-vm: isolated-vm in this process, a fresh context per execution on a shared
//   isolate, `Reference.apply` with `result: { promise: true }`, no limits;
// - @sebastianwessel/quickjs 3.1 (`runSandboxed`);
// - @utcp/code-mode 1.2 (a new isolate per call chain), when it can be loaded: it does not
//   install next to isolated-vm 5 (its peer is isolated-vm ^6, which needs Node 22), so it is
//   looked for in TOOLEXEC_BENCH_PEERS (a folder with its own node_modules, see the README of
//   benchmarks), and skipped when absent;
// - docker (with --docker or TOOLEXEC_BENCH_DOCKER=1): the warm pool, cold container, and a bare
//   `docker run` of the image.
//
// Usage: node --no-node-snapshot benchmarks/peers.bench.mjs [--quick] [--docker]
import { createRequire } from 'node:module';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { FIB_25, THOUSAND_CALLS, THREE_CALLS, mathAddTool, report, summarize, rawQuickJS as rawQuickJSRun } from './lib.mjs';
import { Executor } from '../dist/code/executor.js';
import { Runner } from '../dist/run/runner.js';

const quick = process.argv.includes('--quick');
const withDocker = process.argv.includes('--docker') || process.env.TOOLEXEC_BENCH_DOCKER === '1';
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? (quick ? 3 : 7));
const require = createRequire(import.meta.url);
const loadStart = loadavg();
const add = async ({ a, b }) => ({ sum: a + b });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- toolexec ----
const runner = new Runner();
runner.register(mathAddTool(add));
const executors = {};
for (const rt of ['quickjs', 'isolated-vm', ...(withDocker ? ['docker'] : [])]) {
  executors[rt] = new Executor({ runner, runtime: rt, limits: { maxToolCalls: 5000, timeoutMs: 60_000 } });
  await executors[rt].warm();
}
// The same engine and bridge in the calling thread (`isolation: 'none'`, for trusted code only):
// what toolexec's own work costs without the hop to the sandbox thread and back.
executors['quickjs-thread'] = new Executor({ runner, runtime: 'quickjs', runtimeOptions: { isolation: 'none' }, limits: { maxToolCalls: 5000, timeoutMs: 60_000 } });
await executors['quickjs-thread'].warm();
async function te(rt, script, expected) {
  const r = await executors[rt].execute(script);
  if (!r.ok || r.value !== expected) throw new Error(`toolexec ${rt}: unexpected result ${JSON.stringify(r.error ?? r.value)}`);
}

// ---- raw quickjs-emscripten ----
const { newQuickJSWASMModule } = await import('quickjs-emscripten');
const QuickJS = await newQuickJSWASMModule();
const RAW_THREE = 'const a = JSON.parse(await call(JSON.stringify({ a: 1, b: 2 })));\nconst b = JSON.parse(await call(JSON.stringify({ a: a.sum, b: 3 })));\nconst c = JSON.parse(await call(JSON.stringify({ a: b.sum, b: 4 })));\nreturn c.sum;';
const RAW_LOOP = 'let s = 0;\nfor (let i = 0; i < 1000; i++) s = JSON.parse(await call(JSON.stringify({ a: s, b: 1 }))).sum;\nreturn s;';
const RAW_FIB = 'function fib(n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }\nreturn fib(25);';
const rawQuickJS = (body, expected) => rawQuickJSRun(QuickJS, body, add, expected);

// ---- raw isolated-vm ----
const ivm = require('isolated-vm');
// Contexts released at a benchmark's rate outrun V8's collector (the warm-up makes thousands), so
// the isolate gets room, and one that hit its limit anyway is replaced, as toolexec replaces its
// own (the replacement is counted: `rawIvmReplaced` in the notes).
let isolate = new ivm.Isolate({ memoryLimit: 512 });
let rawIvmReplaced = 0;
const addRef = new ivm.Reference(async (json) => JSON.stringify(await add(JSON.parse(json))));
async function rawIvm(body, expected) {
  try {
    return await rawIvmOnce(body, expected);
  } catch (e) {
    if (!isolate.isDisposed) throw e;
    isolate = new ivm.Isolate({ memoryLimit: 512 });
    rawIvmReplaced++;
    return rawIvmOnce(body, expected);
  }
}
async function rawIvmOnce(body, expected) {
  const context = await isolate.createContext();
  await context.global.set('__add', addRef);
  await context.eval('globalThis.call = (json) => __add.apply(undefined, [json], { result: { promise: true } });');
  const value = await context.eval(`(async () => {\n${body}\n})()`, { promise: true, timeout: 60_000 });
  context.release();
  if (value !== expected) throw new Error(`raw isolated-vm: unexpected result ${value}`);
}

// ---- @sebastianwessel/quickjs ----
const { loadQuickJs } = await import('@sebastianwessel/quickjs');
const variant = (await import('@jitl/quickjs-wasmfile-release-sync')).default;
const { runSandboxed } = await loadQuickJs(variant);
const SW = {
  three: 'const a = await env.add({ a: 1, b: 2 });\nconst b = await env.add({ a: a.sum, b: 3 });\nconst c = await env.add({ a: b.sum, b: 4 });\nexport default c.sum;',
  loop: 'let s = 0;\nfor (let i = 0; i < 1000; i++) s = (await env.add({ a: s, b: 1 })).sum;\nexport default s;',
  fib: 'function fib(n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }\nexport default fib(25);',
};
async function sebastianwessel(code, expected) {
  const r = await runSandboxed(async ({ evalCode }) => evalCode(code), { env: { add } });
  if (!r.ok || r.data !== expected) throw new Error(`@sebastianwessel/quickjs: unexpected result ${JSON.stringify(r)}`);
}

// ---- @utcp/code-mode (optional) ----
let utcp;
const UTCP = {
  three: 'const a = math.add({ a: 1, b: 2 });\nconst b = math.add({ a: a.sum, b: 3 });\nconst c = math.add({ a: b.sum, b: 4 });\nreturn c.sum;',
  loop: 'let s = 0;\nfor (let i = 0; i < 1000; i++) s = math.add({ a: s, b: 1 }).sum;\nreturn s;',
  fib: 'function fib(n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }\nreturn fib(25);',
};
const utcpNote = await (async () => {
  const dir = process.env.TOOLEXEC_BENCH_PEERS;
  if (!dir) return '@utcp/code-mode skipped: it does not install next to isolated-vm 5 (peer isolated-vm ^6); set TOOLEXEC_BENCH_PEERS to a folder where it is installed';
  try {
    const req = createRequire(join(dir, 'package.json'));
    const { CodeModeUtcpClient } = await import(req.resolve('@utcp/code-mode'));
    const { addFunctionToUtcpDirectCall } = await import(req.resolve('@utcp/direct-call'));
    addFunctionToUtcpDirectCall('mathManual', async () => ({
      utcp_version: '0.2.0',
      tools: [{ name: 'add', description: 'Add two numbers', inputs: { type: 'object', properties: { a: { type: 'number' }, b: { type: 'number' } }, required: ['a', 'b'] }, tool_call_template: { call_template_type: 'direct-call', callable_name: 'mathAdd' } }],
    }));
    // direct-call spreads the arguments' values.
    addFunctionToUtcpDirectCall('mathAdd', async (a, b) => add({ a, b }));
    const client = await CodeModeUtcpClient.create();
    await client.registerManual({ name: 'math', call_template_type: 'direct-call', callable_name: 'mathManual' });
    utcp = async (code, expected) => {
      // The UTCP SDK logs every tool call with console.log; silenced, so the figure is the engine's.
      const log = console.log;
      console.log = () => {};
      let r;
      try {
        r = await client.callToolChain(code);
      } finally {
        console.log = log;
      }
      if (r.result !== expected) throw new Error(`@utcp/code-mode: unexpected result ${JSON.stringify(r)}`);
    };
    await utcp(UTCP.three, 10);
    return `@utcp/code-mode from ${dir}`;
  } catch (e) {
    utcp = undefined;
    return `@utcp/code-mode skipped: ${e.message.split('\n')[0]}`;
  }
})();

// ---- docker extras ----
let bareDocker;
let coldExecutor;
if (withDocker) {
  const { DockerRuntime, DEFAULT_IMAGE } = await import('../dist/runtime/docker/index.js');
  const Docker = (await import('dockerode')).default;
  const docker = new Docker();
  coldExecutor = new Executor({ runner, runtime: new DockerRuntime({ minIdle: 0 }) });
  bareDocker = async () => {
    const c = await docker.createContainer({ Image: DEFAULT_IMAGE, Cmd: ['-e', '0'], HostConfig: { NetworkMode: 'none' } });
    await c.start();
    await c.wait();
    await c.remove({ force: true });
  };
}

const vm = await import('node:vm');
function rawVmFib() {
  const context = vm.createContext({});
  const value = vm.runInContext(`(() => {\n${RAW_FIB}\n})()`, context);
  if (value !== 75025) throw new Error(`raw vm: unexpected result ${value}`);
}

// ---- the cases ----
const timeOnce = async (fn) => {
  const t0 = performance.now();
  await fn();
  return (performance.now() - t0) * 1000;
};
const afterGap = (fn) => async () => {
  await sleep(5);
  return timeOnce(fn);
};
const perCall = (fn) => async () => (await timeOnce(fn)) / 1000;
const N = (n) => (quick ? Math.max(2, Math.ceil(n / 3)) : n);

const cases = [
  // [group, name, sample, samples per round]
  ['quickjs', 'toolexec quickjs: 3 calls, after 5 ms idle', afterGap(() => te('quickjs', THREE_CALLS, 10)), N(30)],
  ['quickjs', 'raw quickjs: 3 calls, after 5 ms idle', afterGap(() => rawQuickJS(RAW_THREE, 10)), N(30)],
  ['quickjs', 'sebastianwessel: 3 calls, after 5 ms idle', afterGap(() => sebastianwessel(SW.three, 10)), N(8)],
  ['quickjs', 'toolexec quickjs: 3 calls, back to back', () => timeOnce(() => te('quickjs', THREE_CALLS, 10)), N(30)],
  ['quickjs', 'raw quickjs: 3 calls, back to back', () => timeOnce(() => rawQuickJS(RAW_THREE, 10)), N(30)],
  ['quickjs', 'toolexec quickjs: per call (1,000-call script)', perCall(() => te('quickjs', THOUSAND_CALLS, 1000)), N(3)],
  ['quickjs', 'toolexec quickjs in the calling thread: 3 calls, after 5 ms idle', afterGap(() => te('quickjs-thread', THREE_CALLS, 10)), N(30)],
  ['quickjs', 'toolexec quickjs in the calling thread: per call (1,000-call script)', perCall(() => te('quickjs-thread', THOUSAND_CALLS, 1000)), N(3)],
  ['quickjs', 'raw quickjs: per call (1,000-call script)', perCall(() => rawQuickJS(RAW_LOOP, 1000)), N(3)],
  ['quickjs', 'sebastianwessel: per call (1,000-call script)', perCall(() => sebastianwessel(SW.loop, 1000)), N(1)],
  ['quickjs', 'toolexec quickjs: fib(25)', () => timeOnce(() => te('quickjs', FIB_25, 75025)), N(3)],
  ['quickjs', 'raw quickjs: fib(25)', () => timeOnce(() => rawQuickJS(RAW_FIB, 75025)), N(3)],
  ['quickjs', 'sebastianwessel: fib(25)', () => timeOnce(() => sebastianwessel(SW.fib, 75025)), N(2)],
  ['isolated-vm', 'toolexec isolated-vm: 3 calls, after 5 ms idle', afterGap(() => te('isolated-vm', THREE_CALLS, 10)), N(30)],
  ['isolated-vm', 'raw isolated-vm: 3 calls, fresh context, after 5 ms idle', afterGap(() => rawIvm(RAW_THREE, 10)), N(30)],
  ['isolated-vm', 'toolexec isolated-vm: 3 calls, back to back', () => timeOnce(() => te('isolated-vm', THREE_CALLS, 10)), N(30)],
  ['isolated-vm', 'raw isolated-vm: 3 calls, fresh context, back to back', () => timeOnce(() => rawIvm(RAW_THREE, 10)), N(30)],
  ['isolated-vm', 'toolexec isolated-vm: per call (1,000-call script)', perCall(() => te('isolated-vm', THOUSAND_CALLS, 1000)), N(3)],
  ['isolated-vm', 'raw isolated-vm: per call (1,000-call script)', perCall(() => rawIvm(RAW_LOOP, 1000)), N(3)],
  ['isolated-vm', 'toolexec isolated-vm: fib(25)', () => timeOnce(() => te('isolated-vm', FIB_25, 75025)), N(3)],
  ['isolated-vm', 'raw isolated-vm: fib(25)', () => timeOnce(() => rawIvm(RAW_FIB, 75025)), N(3)],
];
if (utcp) {
  cases.push(
    ['isolated-vm', 'utcp code-mode: 3 calls, after 5 ms idle', afterGap(() => utcp(UTCP.three, 10)), N(8)],
    ['isolated-vm', 'utcp code-mode: per call (1,000-call script)', perCall(() => utcp(UTCP.loop, 1000)), N(1)],
    ['isolated-vm', 'utcp code-mode: fib(25)', () => timeOnce(() => utcp(UTCP.fib, 75025)), N(2)],
  );
}
if (withDocker) {
  cases.push(
    ['docker', 'toolexec docker: 3 calls, warm pool', async () => {
      // The pool refills between executions (untimed), as it does between an agent's scripts.
      await sleep(400);
      return timeOnce(() => te('docker', THREE_CALLS, 10));
    }, N(6)],
    ['docker', 'toolexec docker: 3 calls, cold container', () => timeOnce(async () => {
      const r = await coldExecutor.execute(THREE_CALLS);
      if (r.value !== 10) throw new Error(JSON.stringify(r.error));
    }), N(3)],
    ['docker', 'bare docker run node -e 0', () => timeOnce(bareDocker), N(3)],
    // CPU-bound code in the container's engine (Node's vm, as the agent runs it) against the same
    // engine raw: a fresh vm context in this process.
    // From a warm pool, as above; the empty script is the execution's own cost, so that
    // (fib - empty) is what the container's limits make fib(25) cost.
    ['docker', 'toolexec docker: fib(25), warm pool', async () => {
      await sleep(400);
      return timeOnce(() => te('docker', FIB_25, 75025));
    }, N(3)],
    ['docker', 'toolexec docker: empty script, warm pool', async () => {
      await sleep(400);
      return timeOnce(() => te('docker', '1', 1));
    }, N(3)],
    ['docker', 'raw node vm: fib(25), fresh context', () => timeOnce(rawVmFib), N(3)],
  );
}

// BENCH_ONLY=<group> (quickjs, isolated-vm, docker) keeps one group's cases.
if (process.env.BENCH_ONLY) for (let i = cases.length - 1; i >= 0; i--) if (cases[i][0] !== process.env.BENCH_ONLY) cases.splice(i, 1);

// One group at a time (each group's cases interleaved, the order rotated each round), so that
// one runtime's background work (the Docker pool starting and removing containers, which takes
// dockerd and containerd a core for a while) never falls into another group's samples.
const samples = new Map(cases.map(([, name]) => [name, []]));
// Warm-up to the steady state a long-running process is in. V8 optimises JavaScript (the host's,
// and each sandbox thread's and process's own) and tiers WebAssembly up only once it has run for
// a while: measured here, a fresh process's first thousand toolexec executions took two to three
// times as long as later ones, the raw engines' (less JavaScript around the engine) about 1.4
// times. So every case runs for WARM_MS (at least 5 samples) before anything is measured; the
// medians of its first FIRST samples, from right after `warm()`, are reported too. Not the Docker
// group: each of its samples is a container or an execution in a fresh container process, the
// host's part is small, and three seconds of container starts and removals per case left
// dockerd with a backlog that slowed the rounds after it (cold 203 ms in the first samples,
// 301 ms in the rounds; bare `docker run` 309 and 439 ms).
const WARM_MS = Number(process.env.BENCH_WARM_MS ?? (quick ? 500 : 3000));
const warmMsOf = (group) => (group === 'docker' ? 0 : WARM_MS);
const FIRST = 20;
const firstSamples = new Map(cases.map(([, name]) => [name, []]));
for (const group of [...new Set(cases.map(([g]) => g))]) {
  const own = cases.filter(([g]) => g === group);
  for (const [, name, sample] of own) {
    const until = performance.now() + warmMsOf(group);
    for (let i = 0; i < 5 || performance.now() < until; i++) {
      const us = await sample();
      if (i < FIRST) firstSamples.get(name).push(us);
    }
  }
  for (let round = 0; round < ROUNDS; round++) {
    // Rotate the order, so no system always runs first (or right after a heavy one).
    const order = own.map((_, i) => own[(i + round) % own.length]);
    for (const [, name, sample, n] of order) for (let i = 0; i < n; i++) samples.get(name).push(await sample());
  }
}
const loadEnd = loadavg();
const rows = [...samples].map(([name, xs]) => summarize(name, xs));
const med = Object.fromEntries(rows.map((r) => [r.name, r.medianUs]));
const firstRows = [...firstSamples].map(([name, xs]) => summarize(`first ${FIRST} after warm(): ${name}`, xs));
const firstMed = Object.fromEntries([...firstSamples].map(([name, xs]) => [name, summarize(name, xs).medianUs]));

const ratios = [
  ['quickjs per call: toolexec / raw', 'toolexec quickjs: per call (1,000-call script)', 'raw quickjs: per call (1,000-call script)'],
  ['quickjs 3 calls after idle: toolexec / raw', 'toolexec quickjs: 3 calls, after 5 ms idle', 'raw quickjs: 3 calls, after 5 ms idle'],
  ['quickjs 3 calls back to back: toolexec / raw', 'toolexec quickjs: 3 calls, back to back', 'raw quickjs: 3 calls, back to back'],
  ['quickjs fib(25): toolexec / raw', 'toolexec quickjs: fib(25)', 'raw quickjs: fib(25)'],
  ['quickjs in the calling thread, per call: toolexec / raw', 'toolexec quickjs in the calling thread: per call (1,000-call script)', 'raw quickjs: per call (1,000-call script)'],
  ['quickjs in the calling thread, 3 calls after idle: toolexec / raw', 'toolexec quickjs in the calling thread: 3 calls, after 5 ms idle', 'raw quickjs: 3 calls, after 5 ms idle'],
  ['quickjs 3 calls after idle: sebastianwessel / toolexec', 'sebastianwessel: 3 calls, after 5 ms idle', 'toolexec quickjs: 3 calls, after 5 ms idle'],
  ['quickjs per call: sebastianwessel / toolexec', 'sebastianwessel: per call (1,000-call script)', 'toolexec quickjs: per call (1,000-call script)'],
  ['isolated-vm per call: toolexec / raw', 'toolexec isolated-vm: per call (1,000-call script)', 'raw isolated-vm: per call (1,000-call script)'],
  ['isolated-vm 3 calls after idle: toolexec / raw fresh context', 'toolexec isolated-vm: 3 calls, after 5 ms idle', 'raw isolated-vm: 3 calls, fresh context, after 5 ms idle'],
  ['isolated-vm 3 calls back to back: toolexec / raw fresh context', 'toolexec isolated-vm: 3 calls, back to back', 'raw isolated-vm: 3 calls, fresh context, back to back'],
  ['isolated-vm fib(25): toolexec / raw', 'toolexec isolated-vm: fib(25)', 'raw isolated-vm: fib(25)'],
  ['isolated-vm per call: utcp / toolexec', 'utcp code-mode: per call (1,000-call script)', 'toolexec isolated-vm: per call (1,000-call script)'],
  ['isolated-vm 3 calls after idle: utcp / toolexec', 'utcp code-mode: 3 calls, after 5 ms idle', 'toolexec isolated-vm: 3 calls, after 5 ms idle'],
  ['docker cold / warm', 'toolexec docker: 3 calls, cold container', 'toolexec docker: 3 calls, warm pool'],
  ['docker fib(25): toolexec / raw node vm', 'toolexec docker: fib(25), warm pool', 'raw node vm: fib(25), fresh context'],
];

// The targets of issue 13 ("Done means"), checked on this run's medians.
const r = (a, b) => (med[a] !== undefined && med[b] !== undefined ? med[a] / med[b] : undefined);
const targets = [
  ['quickjs per call <= 1.5x raw', r('toolexec quickjs: per call (1,000-call script)', 'raw quickjs: per call (1,000-call script)'), (x) => x <= 1.5],
  ['quickjs 3-call execution < 1 ms (after idle)', med['toolexec quickjs: 3 calls, after 5 ms idle'] / 1000, (x) => x < 1],
  ['quickjs 3-call execution <= 2.5x raw fresh runtime+context (after idle)', r('toolexec quickjs: 3 calls, after 5 ms idle', 'raw quickjs: 3 calls, after 5 ms idle'), (x) => x <= 2.5],
  ['quickjs 3-call execution <= 2.5x raw (back to back)', r('toolexec quickjs: 3 calls, back to back', 'raw quickjs: 3 calls, back to back'), (x) => x <= 2.5],
  ['quickjs fib(25) <= 1.25x raw', r('toolexec quickjs: fib(25)', 'raw quickjs: fib(25)'), (x) => x <= 1.25],
  ['isolated-vm per call <= 1.0x raw', r('toolexec isolated-vm: per call (1,000-call script)', 'raw isolated-vm: per call (1,000-call script)'), (x) => x <= 1],
  ['isolated-vm execution <= raw fresh context (after idle)', r('toolexec isolated-vm: 3 calls, after 5 ms idle', 'raw isolated-vm: 3 calls, fresh context, after 5 ms idle'), (x) => x <= 1],
  ['isolated-vm fib(25) <= 1.25x raw', r('toolexec isolated-vm: fib(25)', 'raw isolated-vm: fib(25)'), (x) => x <= 1.25],
];
if (withDocker) {
  targets.push(['docker warm 3-call p50 < 10 ms (runc)', med['toolexec docker: 3 calls, warm pool'] / 1000, (x) => x < 10]);
  targets.push(['docker cold < 200 ms (runc)', med['toolexec docker: 3 calls, cold container'] / 1000, (x) => x < 200]);
  targets.push(['docker fib(25) <= 1.25x raw (node vm), execution cost included', r('toolexec docker: fib(25), warm pool', 'raw node vm: fib(25), fresh context'), (x) => x <= 1.25]);
  const fibTax = (med['toolexec docker: fib(25), warm pool'] - med['toolexec docker: empty script, warm pool']) / med['raw node vm: fib(25), fresh context'];
  targets.push(['docker fib(25) <= 1.25x raw (node vm), the empty script\'s execution cost taken off', fibTax, (x) => x <= 1.25]);
}
const notes = [
  `load average at start ${loadStart.map((l) => l.toFixed(1)).join(' ')}, at end ${loadEnd.map((l) => l.toFixed(1)).join(' ')} (2 cores shared; re-run when high)`,
  `${ROUNDS} interleaved rounds per runtime group, one group after another; medians over all samples; sandbox polling ${['never', 'always'].includes(process.env.TOOLEXEC_SANDBOX_POLL) ? process.env.TOOLEXEC_SANDBOX_POLL : 'auto'} (src/runtime/spare-core.ts)`,
  utcpNote,
  `raw isolated-vm's isolate was replaced ${rawIvmReplaced} times after hitting its memory limit`,
  `warm-up: every case ran for ${WARM_MS} ms (at least 5 samples; Docker's cases 5 samples) before the rounds; the "first ${FIRST} after warm()" rows are the medians of each case's first samples, before the JIT had settled`,
  ...[
    ['quickjs 3 calls after idle', 'toolexec quickjs: 3 calls, after 5 ms idle', 'raw quickjs: 3 calls, after 5 ms idle'],
    ['quickjs 3 calls back to back', 'toolexec quickjs: 3 calls, back to back', 'raw quickjs: 3 calls, back to back'],
    ['isolated-vm 3 calls after idle', 'toolexec isolated-vm: 3 calls, after 5 ms idle', 'raw isolated-vm: 3 calls, fresh context, after 5 ms idle'],
    ['isolated-vm 3 calls back to back', 'toolexec isolated-vm: 3 calls, back to back', 'raw isolated-vm: 3 calls, fresh context, back to back'],
  ]
    .filter(([, a, b]) => firstMed[a] !== undefined && firstMed[b] !== undefined)
    .map(([label, a, b]) => `first ${FIRST} after warm(), ${label}: toolexec ${(firstMed[a] / 1000).toFixed(2)} ms, raw ${(firstMed[b] / 1000).toFixed(2)} ms (${(firstMed[a] / firstMed[b]).toFixed(2)}x); after the warm-up ${(med[a] / 1000).toFixed(2)} ms against ${(med[b] / 1000).toFixed(2)} ms`),
  ...targets.map(([label, value, ok]) => `target ${label}: ${value === undefined || Number.isNaN(value) ? 'not measured' : `${value.toFixed(2)} -> ${ok(value) ? 'met' : 'NOT met'}`}`),
];
for (const ex of Object.values(executors)) await ex.dispose();
await coldExecutor?.dispose();
isolate.dispose();
report('peers', [...rows, ...firstRows], { ratios, notes });
