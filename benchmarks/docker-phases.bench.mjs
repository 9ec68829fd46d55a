// Where a Docker sandbox's time goes, phase by phase, and how fast the warm pool refills:
//
// 1. phases of one sandbox, timed from the host exactly as the runtime does them (the
//    container options of src/runtime/docker/container.ts, the agent's protocol): create,
//    attach, start, agent ready (init → ready, the first message), the job (3 tool calls, first
//    message included), teardown (remove --force);
// 2. the execution paths: warm pool (a container ready before the call) and cold (none ready);
// 3. sustained load: clients executing back to back for a while through the default pool,
//    reporting executions per second, how many found a warm container, the time they waited
//    for one, and the pool's refill rate (containers started per second).
//
// Usage: node benchmarks/docker-phases.bench.mjs [--quick] [--runsc]
import Docker from 'dockerode';
import { loadavg } from 'node:os';
import { PassThrough } from 'node:stream';
import { report, summarize, mathAddTool, THREE_CALLS } from './lib.mjs';
import { Executor } from '../dist/code/executor.js';
import { Runner } from '../dist/run/runner.js';
import { DockerRuntime, DEFAULT_IMAGE } from '../dist/runtime/docker/index.js';
import { containerOptions } from '../dist/runtime/docker/container.js';
import { loadPrelude } from '../dist/runtime/guest.js';
import { prepareScript, closeProgram } from '../dist/code/prepare.js';
import { seedHex } from '../dist/code/entropy.js';

const quick = process.argv.includes('--quick');
const runsc = process.argv.includes('--runsc');
const SAMPLES = quick ? 4 : 12;
const SUSTAIN_MS = quick ? 4000 : 10_000;
const docker = new Docker();
try {
  await docker.ping();
  await docker.getImage(DEFAULT_IMAGE).inspect();
} catch (err) {
  console.log(`\n## docker-phases\nskipped: Docker or the image ${DEFAULT_IMAGE} is not available (${err.message}); run \`npm run sandbox:build\``);
  process.exit(0);
}
const loadStart = loadavg();
const spec = {
  image: DEFAULT_IMAGE,
  heapMb: 64,
  cpus: 1,
  pidsLimit: 64,
  runtime: runsc ? 'runsc' : 'runc',
  tmpfsMb: 16,
  fsizeMb: 8,
  nofile: 256,
  idleTtlMs: 60_000,
  maxTimeoutMs: 60_000,
};
const prelude = loadPrelude();
const prepared = prepareScript(THREE_CALLS, {});
const now = () => performance.now();
const progress = (what) => process.env.BENCH_DEBUG && console.error(`[docker-phases] ${what}`);

/** One sandbox through every phase, with the host end's own steps; returns ms per phase. */
async function phases() {
  const t = { start: now() };
  const container = await docker.createContainer(containerOptions(spec, { 'toolexec.bench': '1' }));
  t.created = now();
  const stream = await container.attach({ stream: true, stdin: false, stdout: true, stderr: true, hijack: true, _query: { stream: true, stdin: true, stdout: true, stderr: true }, _body: {} });
  t.attached = now();
  const out = new PassThrough();
  docker.modem.demuxStream(stream, out, new PassThrough());
  let buffer = '';
  let onLine = () => {};
  out.setEncoding('utf8');
  out.on('data', (chunk) => {
    buffer += chunk;
    let nl;
    while ((nl = buffer.indexOf('\n')) !== -1) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      if (line) onLine(JSON.parse(line));
    }
  });
  const next = (want) => new Promise((resolve) => (onLine = (m) => want(m) && resolve(m)));
  await container.start();
  t.started = now();
  const ready = next((m) => m.t === 'ready');
  stream.write('\n' + JSON.stringify({ t: 'init', prelude }) + '\n');
  await ready;
  t.ready = now();
  let firstOut;
  const end = next((m) => {
    if (m.t === 'out') {
      firstOut ??= now();
      for (const text of m.m) {
        const msg = JSON.parse(text);
        if (msg.op === 'run') stream.write(JSON.stringify({ t: 'reply', id: 1, m: [JSON.stringify({ id: msg.id, ok: true, value: { sum: msg.args.a + msg.args.b } })] }) + '\n');
      }
    }
    return m.t === 'end';
  });
  // The program closed as the executor closes it (flags and the per-execution environment).
  const code = closeProgram(prepared.code, false, { seed: seedHex(), now: Date.now(), durable: false });
  stream.write(JSON.stringify({ t: 'job', id: 1, job: { code, filename: 'script.js', limits: { timeoutMs: 10_000, memoryMb: 64, maxOutputBytes: 1 << 20 } } }) + '\n');
  const ended = await end;
  t.ended = now();
  // A phase table of a job that failed would time the failure: refuse it.
  if (ended.outcome?.failure || firstOut === undefined) throw new Error(`docker-phases: the job did not run its 3 calls: ${JSON.stringify(ended.outcome)}`);
  stream.destroy();
  await container.remove({ force: true });
  t.removed = now();
  return {
    create: t.created - t.start,
    attach: t.attached - t.created,
    start: t.started - t.attached,
    'agent ready (init → ready)': t.ready - t.started,
    'job: first message': firstOut - t.ready,
    'job: 3 calls to end': t.ended - t.ready,
    teardown: t.removed - t.ended,
    total: t.removed - t.start,
  };
}

const byPhase = new Map();
progress('phases');
await phases(); // warm-up: image layers in the page cache
for (let i = 0; i < SAMPLES; i++) {
  for (const [k, v] of Object.entries(await phases())) {
    if (!byPhase.has(k)) byPhase.set(k, []);
    byPhase.get(k).push(v * 1000);
  }
}
const rows = [...byPhase].map(([k, v]) => summarize(`phase: ${k}`, v));

// ---- the execution paths ----
const runner = new Runner();
runner.register(mathAddTool());
const warmRt = new DockerRuntime({ minIdle: 2, runtime: spec.runtime });
const coldRt = new DockerRuntime({ minIdle: 0, runtime: spec.runtime });
const warm = new Executor({ runner, runtime: warmRt });
const cold = new Executor({ runner, runtime: coldRt });
const check = async (ex) => {
  const r = await ex.execute(THREE_CALLS);
  if (!r.ok || r.value !== 10) throw new Error(JSON.stringify(r.error ?? r.value));
  return r;
};
progress('paths');
await warmRt.warm();
await check(warm);
await check(cold);
const warmUs = [];
const coldUs = [];
for (let i = 0; i < SAMPLES; i++) {
  // The pool has refilled (untimed), as between an agent's scripts.
  await warmRt.warm();
  await warmRt.drain();
  let t0 = now();
  await check(warm);
  warmUs.push((now() - t0) * 1000);
  await coldRt.drain();
  t0 = now();
  await check(cold);
  coldUs.push((now() - t0) * 1000);
}
rows.push(summarize(`warm pool: execute, 3 tool calls (${spec.runtime})`, warmUs));
rows.push(summarize(`cold container: execute, 3 tool calls (${spec.runtime})`, coldUs));
await warm.dispose();
await cold.dispose();

// ---- sustained load through the default pool ----
const notes = [];
for (const clients of [1, 4]) {
  progress(`sustained ${clients}`);
  const rt = new DockerRuntime({ runtime: spec.runtime });
  const ex = new Executor({ runner, runtime: rt });
  await rt.warm();
  const started = rt.poolOptions;
  let spawned = 0;
  const seen = new Set();
  const poll = setInterval(() => {
    for (const w of rt.workers()) {
      if (!seen.has(w)) {
        seen.add(w);
        spawned++;
      }
    }
  }, 5);
  const waits = [];
  const latency = [];
  let done = 0;
  let warmHits = 0;
  const until = now() + SUSTAIN_MS;
  const t0 = now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (now() < until) {
        const s = now();
        const r = await check(ex);
        latency.push((now() - s) * 1000);
        waits.push((r.stats.queuedMs ?? 0) * 1000);
        if ((r.stats.queuedMs ?? 0) < 5) warmHits++;
        done++;
      }
    }),
  );
  const seconds = (now() - t0) / 1000;
  clearInterval(poll);
  rows.push(summarize(`sustained, ${clients} client(s): execution latency`, latency));
  rows.push(summarize(`sustained, ${clients} client(s): wait for a container`, waits));
  notes.push(
    `sustained ${clients} client(s) for ${seconds.toFixed(1)} s, pool minIdle ${started.minIdle} maxWorkers ${started.maxWorkers}: ${(done / seconds).toFixed(1)} executions/s, ${warmHits}/${done} found a warm container (waited < 5 ms), refill rate ${((spawned - 2) / seconds).toFixed(1)} containers started/s`,
  );
  await ex.dispose();
}

const loadEnd = loadavg();
report(`docker-phases${runsc ? '-runsc' : ''}`, rows, {
  ratios: [['cold / warm', `cold container: execute, 3 tool calls (${spec.runtime})`, `warm pool: execute, 3 tool calls (${spec.runtime})`]],
  notes: [
    ...notes,
    'phases: create, attach and start are the engine API calls; agent ready is node starting in the container until it answers the init; the job includes three round trips over the attach stream; teardown is remove --force',
    `load average at start ${loadStart.map((l) => l.toFixed(1)).join(' ')}, at end ${loadEnd.map((l) => l.toFixed(1)).join(' ')}`,
  ],
});
