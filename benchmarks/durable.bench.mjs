// Durable executions (QuickJS, warm pool), in one run:
// 1. The cost of journaling an ordinary execution (no call needs approval) against journaling
//    off: per execution (the 3-call script: create + complete of the execution, one journaled
//    reply per call) and per call (the 1,000-call script, divided), with the memory store, and
//    with SQLite (synchronous=FULL: every write fsynced; NORMAL: survives process crashes).
//    The configurations are measured in interleaved rounds, so load drifts hit them alike.
// 2. Replay: a script that made 100 calls to a 1 ms tool, then suspended at a gated call; the
//    resume replays the 100 from the journal before it runs the approved call. Replay time is
//    the resumed part's `stats.replayMs` (claim, journal read, sandbox, 100 deliveries), against
//    the first part's duration.
// Build first: npx tsc -p tsconfig.build.json
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Executor } from '../dist/code/executor.js';
import { Runner } from '../dist/run/runner.js';
import { MemoryExecutionStore } from '../dist/store/memory.js';
import { SqliteExecutionStore } from '../dist/store/sqlite.js';
import { measure, report, summarize, mathAddTool, THREE_CALLS, THOUSAND_CALLS } from './lib.mjs';

const quick = process.argv.includes('--quick');
const ROUNDS = quick ? 2 : 5;
const dir = mkdtempSync(join(tmpdir(), 'toolexec-durable-bench-'));

const runner = new Runner();
runner.register(mathAddTool());
runner.register({ namespace: 'slow', name: 'read', description: 'Takes 1 ms', handler: () => new Promise((r) => setTimeout(() => r({ ok: true }), 1)) });
runner.register({ namespace: 'ops', name: 'deploy', description: 'Needs approval', handler: async () => ({ deployed: true }) });

const limits = { maxToolCalls: 5000, timeoutMs: 120_000 };
const memory = new MemoryExecutionStore({ maxJournalBytes: 2 ** 30, maxExecutions: 1_000_000 });
const full = await SqliteExecutionStore.open({ path: join(dir, 'full.db'), synchronous: 'full', maxJournalBytes: 2 ** 30 });
const normal = await SqliteExecutionStore.open({ path: join(dir, 'normal.db'), synchronous: 'normal', maxJournalBytes: 2 ** 30 });
const configs = [
  ['journaling off', new Executor({ runner, limits })],
  ['journaled, memory store', new Executor({ runner, limits, durable: true, store: memory })],
  ['journaled, sqlite normal', new Executor({ runner, limits, durable: true, store: normal })],
  ['journaled, sqlite full', new Executor({ runner, limits, durable: true, store: full })],
];
for (const [, ex] of configs) await ex.warm();

async function run(ex, script, expected) {
  const r = await ex.execute(script);
  if (!r.ok || r.value !== expected) throw new Error(`unexpected result ${JSON.stringify(r.error ?? r.value)}`);
}

// ---- 1. journaling cost, interleaved rounds ----
const per = new Map(configs.map(([name]) => [name, { three: [], thousand: [] }]));
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, ex] of configs) {
    const three = await measure(`${name}: 3 calls`, () => run(ex, THREE_CALLS, 10), { samples: quick ? 20 : 60, warmup: 5 });
    const thousand = await measure(`${name}: 1,000 calls`, () => run(ex, THOUSAND_CALLS, 1000), { samples: quick ? 3 : 6, warmup: 1 });
    per.get(name).three.push(three.medianUs);
    per.get(name).thousand.push(thousand.medianUs);
  }
}
const rows = [];
for (const [name] of configs) {
  const p = per.get(name);
  rows.push({ ...summarize(`${name}: execution of 3 calls`, p.three), samples: p.three.length });
  const perCall = summarize(`${name}: per call (1,000-call script / 1,000)`, p.thousand.map((us) => us / 1000));
  rows.push({ ...perCall, samples: p.thousand.length });
}

// ---- 2. replay of 100 calls to a 1 ms tool ----
const REPLAY_SCRIPT = 'for (let i = 0; i < 100; i++) await run("slow:read", { i });\nconst d = await run("ops:deploy", {});\nd.deployed';
const replayRows = [];
const replayNotes = [];
for (const [label, store] of [
  ['memory', memory],
  ['sqlite full', full],
]) {
  const ex = new Executor({ runner, limits, store, approve: ['ops:deploy'] });
  await ex.warm();
  const firsts = [];
  const replays = [];
  const resumes = [];
  for (let i = 0; i < (quick ? 3 : 10); i++) {
    const first = await ex.execute(REPLAY_SCRIPT);
    if (first.status !== 'suspended') throw new Error(`expected a suspension, got ${JSON.stringify(first.error)}`);
    const t0 = performance.now();
    const done = await ex.resume(first.executionId, { approve: [first.pending[0].callId] });
    const resumeMs = performance.now() - t0;
    if (!done.ok || done.stats.replayedCalls !== 100) throw new Error(`unexpected resume ${JSON.stringify(done.error ?? done.stats)}`);
    firsts.push(first.stats.durationMs * 1000);
    replays.push(done.stats.replayMs * 1000);
    resumes.push(resumeMs * 1000);
  }
  await ex.dispose();
  const f = summarize(`${label}: first part (100 calls of 1 ms, then suspend)`, firsts);
  const r = summarize(`${label}: replay of the 100 calls on resume`, replays);
  const whole = summarize(`${label}: whole resume (replay + approved call + complete)`, resumes);
  replayRows.push(f, r, whole);
  replayNotes.push(`${label}: replay costs ${((r.medianUs / f.medianUs) * 100).toFixed(1)}% of the original run (aim: under 10%)`);
}

const ratios = [];
for (const [name] of configs.slice(1)) {
  ratios.push([`${name} / off, per execution (3 calls)`, `${name}: execution of 3 calls`, 'journaling off: execution of 3 calls']);
  ratios.push([`${name} / off, per call`, `${name}: per call (1,000-call script / 1,000)`, 'journaling off: per call (1,000-call script / 1,000)']);
}
const computed = report('durable', [...rows, ...replayRows], {
  ratios,
  notes: [
    `medians of ${ROUNDS} interleaved rounds; QuickJS worker pool; sqlite full fsyncs every write (two per sequential tool call: before the call runs for a tool that is not idempotent, and its result before the script sees it), normal survives process crashes only`,
    'ordinary executions with no approval policy (and durable unset) are not journaled at all: the "journaling off" rows are what they cost',
    ...replayNotes,
  ],
});
for (const c of computed) console.log(`overhead ${c.label}: ${((c.ratio - 1) * 100).toFixed(1)}%`);

for (const [, ex] of configs) await ex.dispose();
await memory.close();
await full.close();
await normal.close();
