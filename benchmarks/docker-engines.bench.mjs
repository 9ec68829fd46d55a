// The Docker runtime over several engines, on the test bed of `.ci/docker-engines.sh` (two extra
// dockerd in their own network namespaces, reached over TCP with mutual TLS, on this machine):
// - warm: Executor.execute() of the 3-tool-call script on a warm container, local socket vs one
//   bed engine over TLS (the pool is refilled, untimed, before each sample);
// - throughput: executions per second, 4 at a time, with one bed engine and with two; on a
//   2-core machine both engines share the same cores, so this shows that work is spread (the
//   placement counts), not that capacity grows;
// - rotation: how long an engine stays in rotation after its dockerd is killed (SIGKILL), with
//   warm containers attached (their streams break) and with none (only the health ping sees
//   it), and how long it takes to be back in rotation after it answers again.
// Skips with the reason when the test bed or the local engine is not there.
import { existsSync, readFileSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { report, summarize, mathAddTool, THREE_CALLS } from './lib.mjs';
import { Executor } from '../dist/code/executor.js';
import { Runner } from '../dist/run/runner.js';
import { DockerRuntime, DEFAULT_IMAGE, DEFAULT_HEALTH_INTERVAL_MS } from '../dist/runtime/docker/index.js';

const quick = process.argv.includes('--quick');
const WARM_SAMPLES = quick ? 8 : 20;
const THROUGHPUT_ROUNDS = quick ? 2 : 3;
const THROUGHPUT_JOBS = quick ? 16 : 24;
const CONCURRENCY = 4;
const KILL_SAMPLES = quick ? 2 : 3;

const bedFile = process.env.TOOLEXEC_DOCKER_ENGINES ?? '/var/lib/toolexec-engines/engines.json';
function skip(why) {
  console.log(`\n## docker-engines\nskipped: ${why}`);
  process.exit(0);
}
if (!existsSync(bedFile)) skip(`no multi-engine test bed (${bedFile}); start it with \`sudo bash .ci/docker-engines.sh up --keep\``);
const bed = JSON.parse(readFileSync(bedFile, 'utf8'));
try {
  const local = new Docker();
  await local.ping();
  await local.getImage(DEFAULT_IMAGE).inspect();
} catch (err) {
  skip(`the local engine or the image ${DEFAULT_IMAGE} is not available (${err.message}); run \`sudo bash .ci/docker-setup.sh\``);
}
const engine = (name) => {
  const e = bed.engines.find((x) => x.name === name);
  return { name, host: e.host, tls: bed.certs.client };
};
for (const name of ['a', 'b']) {
  const probe = new DockerRuntime({ engines: [engine(name)], minIdle: 0, onError: () => {} });
  try {
    await probe.connect();
  } catch (err) {
    skip(`test bed engine ${name} is not usable: ${err.message}`);
  } finally {
    await probe.dispose();
  }
}

const runner = new Runner();
runner.register(mathAddTool());
// Asynchronous: a synchronous child would stop this process's timers (the runtime's probes among them).
const sh = (...args) => promisify(execFile)('bash', [bed.script, ...args]);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function execOnce(executor, script = THREE_CALLS, expected = 10) {
  const r = await executor.execute(script);
  if (!r.ok || r.value !== expected) throw new Error(`unexpected result ${JSON.stringify(r.error ?? r.value)}`);
}
// Every sequential tool call is one round trip over the container's attach stream to the engine.
const CALLS = 50;
const MANY_CALLS = `let s = 0;\nfor (let i = 0; i < ${CALLS}; i++) s = (await tools.math.add({ a: s, b: 1 })).sum;\ns`;

// ---- warm pool: local socket vs TLS ----
async function warmSamples(runtime) {
  const executor = new Executor({ runner, runtime });
  await runtime.warm();
  await execOnce(executor);
  const us = [];
  const manyUs = [];
  for (let i = 0; i < WARM_SAMPLES; i++) {
    for (const [script, expected, into] of [[THREE_CALLS, 10, us], [MANY_CALLS, CALLS, manyUs]]) {
      await runtime.warm();
      await runtime.drain();
      const t0 = performance.now();
      await execOnce(executor, script, expected);
      into.push((performance.now() - t0) * 1000);
    }
  }
  await executor.dispose();
  await runtime.dispose();
  return { us, manyUs };
}
const rows = [];
const localName = 'warm pool, local socket: execute, 3 tool calls';
const tlsName = 'warm pool, engine over TCP + mutual TLS: execute, 3 tool calls';
// Interleaved halves, so machine load drifts over both alike.
const local = { us: [], manyUs: [] };
const tls = { us: [], manyUs: [] };
for (let half = 0; half < 2; half++) {
  for (const [into, runtime] of [[local, new DockerRuntime({ minIdle: 2 })], [tls, new DockerRuntime({ engines: [engine('a')], minIdle: 2 })]]) {
    const got = await warmSamples(runtime);
    into.us.push(...got.us);
    into.manyUs.push(...got.manyUs);
  }
}
const localManyName = `warm pool, local socket: execute, ${CALLS} sequential tool calls`;
const tlsManyName = `warm pool, engine over TCP + mutual TLS: execute, ${CALLS} sequential tool calls`;
rows.push(summarize(localName, local.us));
rows.push(summarize(tlsName, tls.us));
rows.push(summarize(localManyName, local.manyUs));
rows.push(summarize(tlsManyName, tls.manyUs));
const median = (name) => rows.find((r) => r.name === name).medianUs;
const perCall = (many, three) => (median(many) - median(three)) / (CALLS - 3);

// ---- throughput: one engine vs two ----
async function throughput(engines) {
  const runtime = new DockerRuntime({ engines, minIdle: 2 });
  const executor = new Executor({ runner, runtime });
  await runtime.warm();
  await execOnce(executor);
  const perExecUs = [];
  for (let round = 0; round < THROUGHPUT_ROUNDS; round++) {
    await runtime.warm();
    await runtime.drain();
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < THROUGHPUT_JOBS) {
          next++;
          await execOnce(executor);
        }
      }),
    );
    perExecUs.push(((performance.now() - t0) * 1000) / THROUGHPUT_JOBS);
  }
  const placed = runtime.engines().map((e) => `${e.name}: ${e.placed}`).join(', ');
  await executor.dispose();
  await runtime.dispose();
  return { perExecUs, placed };
}
const one = await throughput([engine('a')]);
const two = await throughput([engine('a'), engine('b')]);
const oneName = `throughput, 1 engine, ${CONCURRENCY} at a time (time per execution)`;
const twoName = `throughput, 2 engines, ${CONCURRENCY} at a time (time per execution)`;
rows.push(summarize(oneName, one.perExecUs));
rows.push(summarize(twoName, two.perExecUs));

// ---- rotation: from SIGKILL of dockerd to out of rotation, and back ----
async function killCycle(minIdle) {
  const runtime = new DockerRuntime({ engines: [engine('a'), engine('b')], minIdle, onError: () => {} });
  await runtime.warm();
  const b = () => runtime.engines()[1];
  const pid = Number(readFileSync(bed.engines.find((e) => e.name === 'b').pidfile, 'utf8'));
  const t0 = performance.now();
  process.kill(pid, 'SIGKILL');
  while (b().state === 'up') {
    if (performance.now() - t0 > 60_000) throw new Error('engine b stayed in rotation for a minute after its death');
    await sleep(2);
  }
  const ejectedMs = performance.now() - t0;
  await sh('kill', 'b'); // what the dead dockerd left (containerd, shims)
  // Back: from the first moment the engine answers a ping of our own to the runtime's readmission.
  const starting = sh('start', 'b');
  const watcher = new Docker({ host: new URL(bed.engines[1].host.replace('tcp:', 'https:')).hostname, port: 2376, protocol: 'https', ca: readFileSync(bed.certs.client.ca), cert: readFileSync(bed.certs.client.cert), key: readFileSync(bed.certs.client.key) });
  let answeredAt;
  while (answeredAt === undefined) {
    try {
      await watcher.ping();
      answeredAt = performance.now();
    } catch {
      await sleep(10);
    }
  }
  while (b().state !== 'up') await sleep(5);
  const backMs = performance.now() - answeredAt;
  await starting;
  const t1 = answeredAt;
  await runtime.dispose();
  return { ejectedMs, backMs, deadMs: t1 - t0 };
}
const deadMs = [];
const withPool = [];
const withoutPool = [];
const back = [];
for (let i = 0; i < KILL_SAMPLES; i++) {
  const w = await killCycle(1);
  withPool.push(w.ejectedMs * 1000);
  deadMs.push(w.deadMs);
  back.push(w.backMs * 1000);
  const n = await killCycle(0);
  withoutPool.push(n.ejectedMs * 1000);
  deadMs.push(n.deadMs);
  back.push(n.backMs * 1000);
}
const poolName = 'dead engine in rotation, warm containers attached (SIGKILL → ejected)';
const idleName = `dead engine in rotation, nothing attached (SIGKILL → ejected; ping every ${DEFAULT_HEALTH_INTERVAL_MS} ms)`;
const backName = 'engine answers again → back in rotation (the rest of the backoff, checks, clean-up)';
rows.push(summarize(poolName, withPool));
rows.push(summarize(idleName, withoutPool));
rows.push(summarize(backName, back));

const oneRate = 1e6 / rows.find((r) => r.name === oneName).medianUs;
const twoRate = 1e6 / rows.find((r) => r.name === twoName).medianUs;
report('docker-engines', rows, {
  ratios: [
    ['TLS engine / local socket (warm pool)', tlsName, localName],
    [`TLS engine / local socket (warm pool, ${CALLS} calls)`, tlsManyName, localManyName],
    ['time per execution, 2 engines / 1 engine', twoName, oneName],
  ],
  notes: [
    `per sequential tool call (from the ${CALLS}-call and 3-call medians): ${perCall(localManyName, localName).toFixed(0)} µs on the local socket, ${perCall(tlsManyName, tlsName).toFixed(0)} µs over TLS`,
    `executions per second, ${CONCURRENCY} at a time: ${oneRate.toFixed(1)} with one engine, ${twoRate.toFixed(1)} with two (placed: ${two.placed})`,
    'both bed engines run on this machine and share its cores: the two-engine figure shows that executions are spread over both, not that capacity grows; on separate hosts each engine brings its own cores',
    'the TLS engine is in its own network namespace behind a veth pair and a bridge: the ratio is TLS plus one local network hop, not a real network',
    'throughput counts container creation for the refills: a container serves one execution and is replaced in the background',
    'rotation: with warm containers the attach streams break when dockerd dies, and the next call to the engine fails at once; with none, the health ping finds it (interval plus the failed ping)',
    `back in rotation: an ejected engine is tried after 0.5 s, 1 s, 2 s ... (at most 30 s); engine b was down for ${(deadMs.reduce((a, x) => a + x, 0) / deadMs.length / 1000).toFixed(1)} s on average, so the wait is the rest of the current backoff`,
  ],
});
