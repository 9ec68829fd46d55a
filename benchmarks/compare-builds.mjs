// Before/after in one run: the same workloads against two builds of toolexec, interleaved round
// by round so that the machine's load falls on both alike. Prints medians per build and the
// ratio (after / before), and writes benchmarks/results/compare-builds.json.
//
//   node benchmarks/compare-builds.mjs <before checkout> [<after checkout, default: this one>] [--docker]
//
// Each checkout must be built (`npm run build`); its `dist/index.js` is imported as is.
import { resolve } from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';
import { FIB_25, THOUSAND_CALLS, THREE_CALLS, mathAddTool, report, summarize } from './lib.mjs';

const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const withDocker = process.argv.includes('--docker');
const ROUNDS = Number(process.env.COMPARE_ROUNDS ?? 5);
if (!args[0]) {
  console.error('usage: node benchmarks/compare-builds.mjs <before checkout> [<after checkout>] [--docker]');
  process.exit(2);
}
const here = fileURLToPath(new URL('..', import.meta.url));
const builds = { before: resolve(args[0]), after: resolve(args[1] ?? here) };

async function load(dir) {
  const m = await import(pathToFileURL(resolve(dir, 'dist/index.js')).href);
  const runner = new m.Runner();
  runner.register(mathAddTool());
  return { m, runner };
}

const loaded = { before: await load(builds.before), after: await load(builds.after) };
const runtimes = ['quickjs', 'isolated-vm', ...(withDocker ? ['docker'] : [])];
const executors = {};
for (const side of ['before', 'after']) {
  executors[side] = {};
  for (const rt of runtimes) {
    const ex = new loaded[side].m.Executor({ runner: loaded[side].runner, runtime: rt, limits: { timeoutMs: 60_000 } });
    await ex.warm();
    executors[side][rt] = ex;
  }
}

async function timeOnce(fn) {
  const t0 = performance.now();
  await fn();
  return (performance.now() - t0) * 1000;
}

async function check(ex, script, expected) {
  const r = await ex.execute(script);
  if (!r.ok || r.value !== expected) throw new Error(`unexpected result ${JSON.stringify(r.error ?? r.value)}`);
}

/** The cases: name → (side) → one sample in µs (per call where the name says so). */
const cases = [];
for (const rt of runtimes) {
  const n = rt === 'docker' ? 4 : 20;
  cases.push([`${rt}: execute, 3 tool calls`, async (side) => timeOnce(() => check(executors[side][rt], THREE_CALLS, 10)), n]);
  if (rt !== 'docker') {
    cases.push([`${rt}: per sequential tool call (1,000-call script)`, async (side) => (await timeOnce(() => check(executors[side][rt], THOUSAND_CALLS, 1000))) / 1000, 3]);
    cases.push([`${rt}: fib(25)`, async (side) => timeOnce(() => check(executors[side][rt], FIB_25, 75025)), 3]);
  }
}
cases.push([
  'runner.run, local tool with schemas (per call)',
  async (side) => {
    const runner = loaded[side].runner;
    const t0 = performance.now();
    for (let i = 0; i < 2000; i++) await runner.run('math:add', { a: i, b: 1 });
    return ((performance.now() - t0) * 1000) / 2000;
  },
  3,
]);

const samples = new Map();
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, sample, n] of cases) {
    // Alternate which side goes first, so neither always runs on a warmer machine.
    const order = round % 2 === 0 ? ['before', 'after'] : ['after', 'before'];
    for (const side of order) {
      const key = `${name} [${side}]`;
      if (!samples.has(key)) samples.set(key, []);
      for (let i = 0; i < n; i++) samples.get(key).push(await sample(side));
    }
  }
}

const rows = [...samples].map(([name, xs]) => summarize(name, xs));
const ratios = cases.map(([name]) => [`${name}: after / before`, `${name} [after]`, `${name} [before]`]);
const { loadavg } = await import('node:os');
report('compare-builds', rows, { ratios, notes: [`before: ${builds.before}`, `after: ${builds.after}`, `rounds: ${ROUNDS}, load average at the end: ${loadavg().map((l) => l.toFixed(1)).join(' ')}`] });

for (const side of ['before', 'after']) for (const rt of runtimes) await executors[side][rt].dispose();
