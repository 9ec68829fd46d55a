// The sandbox's standard library: what it costs a script that uses none of it (cold executions
// of a plain script, to compare with a build without it: TOOLEXEC_DIST=/other/checkout/dist), and
// what the first use of one of its globals costs (its library compiled in the fresh context).
// QuickJS compiles every byte it is given, so this is where the lazy install shows.
import { measure as measureRaw, measureWithGap, report, mathAddTool, THREE_CALLS } from './lib.mjs';

const dist = process.env.TOOLEXEC_DIST ? new URL(`file://${process.env.TOOLEXEC_DIST.replace(/\/?$/, '/')}`) : new URL('../dist/', import.meta.url);
const { Executor } = await import(new URL('code/executor.js', dist).href);
const { Runner } = await import(new URL('run/runner.js', dist).href);
const quick = process.argv.includes('--quick');
const S = (n) => (quick ? Math.max(5, Math.floor(n / 4)) : n);
const measure = (name, fn, o) => measureRaw(name, fn, o);

const runner = new Runner();
runner.register(mathAddTool(async ({ a, b }) => ({ sum: a + b })));

const gap = (name, fn, samples, gapMs = 5) => measureWithGap(name, fn, { samples, gapMs });

const FIRST_USE = {
  URL: 'const u = new URL("https://example.com/a?b=1"); u.searchParams.get("b")',
  Intl: 'new Intl.NumberFormat("en-US").format(1234.5)',
  toLocaleString: '(1234.5).toLocaleString("de-DE")',
  TextEncoder: 'new TextEncoder().encode("hello").length',
  setTimeout: 'await new Promise((r) => setTimeout(r, 0)); 1',
  structuredClone: 'structuredClone({ a: [1, 2] }).a.length',
  AbortController: 'new AbortController().signal.aborted',
};

const rows = [];
for (const runtime of ['quickjs', 'isolated-vm']) {
  const ex = new Executor({ runner, runtime, limits: { timeoutMs: 60_000 } });
  await ex.warm();
  const te = async (script) => {
    const r = await ex.execute(script);
    if (!r.ok) throw new Error(`${runtime}: ${JSON.stringify(r.error)}`);
  };
  for (let i = 0; i < (quick ? 50 : 200); i++) await te(THREE_CALLS);
  rows.push(await gap(`${runtime} plain script, 3 calls (5 ms idle before)`, () => te(THREE_CALLS), S(200)));
  rows.push(await gap(`${runtime} plain script, empty (5 ms idle before)`, () => te('1'), S(200)));
  rows.push(await measure(`${runtime} plain script, empty (back to back)`, () => te('1'), { samples: S(200), warmup: 20 }));
  if (!process.env.TOOLEXEC_DIST) {
    for (const [name, script] of Object.entries(FIRST_USE)) {
      rows.push(await gap(`${runtime} first use of ${name} (5 ms idle before)`, () => te(script), S(100)));
    }
  }
  await ex.dispose();
}
report(process.env.TOOLEXEC_DIST ? 'stdlib-baseline' : 'stdlib', rows, {
  ratios: [
    ['quickjs first URL / empty', 'quickjs first use of URL (5 ms idle before)', 'quickjs plain script, empty (5 ms idle before)'],
    ['quickjs first Intl / empty', 'quickjs first use of Intl (5 ms idle before)', 'quickjs plain script, empty (5 ms idle before)'],
    ['isolated-vm first URL / empty', 'isolated-vm first use of URL (5 ms idle before)', 'isolated-vm plain script, empty (5 ms idle before)'],
  ],
  notes: ['each execution is a fresh context: "first use" is what a script pays the first time it touches a global (its library compiled in the guest), every time', 'TOOLEXEC_DIST=<dist of another build> measures the plain-script rows of that build (the baseline)'],
});
