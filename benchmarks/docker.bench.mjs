// The Docker runtime, in one run:
// - warm: Executor.execute() of a script making 3 tool calls, on a container from the warm pool
//   (the pool is refilled, untimed, before each sample: this is the latency a caller sees when
//   the pool keeps up);
// - cold: the same execution with no pool (create + attach + start + run; removal happens after
//   the result, as in normal use);
// - bare: a `docker run --rm <image> node -e 0` equivalent through dockerode (create, start,
//   wait, remove), doing nothing.
// When Docker is unreachable (or the image is missing) it says so and exits 0.
import Docker from 'dockerode';
import { report, summarize, mathAddTool, THREE_CALLS } from './lib.mjs';
import { Executor } from '../dist/code/executor.js';
import { Runner } from '../dist/run/runner.js';
import { DockerRuntime, DEFAULT_IMAGE } from '../dist/runtime/docker/index.js';

const quick = process.argv.includes('--quick');
const WARM_SAMPLES = quick ? 8 : 20;
const COLD_SAMPLES = quick ? 4 : 10;
const runsc = process.argv.includes('--runsc');

const docker = new Docker();
try {
  await docker.ping();
  await docker.getImage(DEFAULT_IMAGE).inspect();
} catch (err) {
  console.log(`\n## docker\nskipped: Docker or the image ${DEFAULT_IMAGE} is not available (${err.message}); run \`sudo bash .ci/docker-setup.sh\``);
  process.exit(0);
}

const runner = new Runner();
runner.register(mathAddTool());

const runtimeKind = runsc ? 'runsc' : 'runc';
const warmRuntime = new DockerRuntime({ minIdle: 2, runtime: runtimeKind });
const coldRuntime = new DockerRuntime({ minIdle: 0, runtime: runtimeKind });
const warmExec = new Executor({ runner, runtime: warmRuntime });
const coldExec = new Executor({ runner, runtime: coldRuntime });

async function execOnce(executor) {
  const r = await executor.execute(THREE_CALLS);
  if (!r.ok || r.value !== 10) throw new Error(`unexpected result ${JSON.stringify(r.error ?? r.value)}`);
}

async function sample(n, before, fn) {
  const us = [];
  for (let i = 0; i < n; i++) {
    await before();
    const t0 = performance.now();
    await fn();
    us.push((performance.now() - t0) * 1000);
  }
  return us;
}

const settle = (runtime) => async () => {
  await runtime.warm();
  await runtime.drain();
};

// Warm-up (JIT on the host side, image layers in the page cache).
await settle(warmRuntime)();
await execOnce(warmExec);
await execOnce(coldExec);

const rows = [];
rows.push(summarize(`warm pool: execute, 3 tool calls (${runtimeKind})`, await sample(WARM_SAMPLES, settle(warmRuntime), () => execOnce(warmExec))));
rows.push(summarize(`cold container: execute, 3 tool calls (${runtimeKind})`, await sample(COLD_SAMPLES, () => coldRuntime.drain(), () => execOnce(coldExec))));

async function bareRun() {
  const c = await docker.createContainer({
    Image: DEFAULT_IMAGE,
    Cmd: ['-e', '0'],
    HostConfig: { NetworkMode: 'none', ...(runsc ? { Runtime: 'runsc' } : {}) },
  });
  await c.start();
  const { StatusCode } = await c.wait();
  await c.remove({ force: true });
  if (StatusCode !== 0) throw new Error(`node -e 0 exited with ${StatusCode}`);
}
rows.push(summarize(`bare docker run node -e 0 (${runtimeKind})`, await sample(COLD_SAMPLES, async () => {}, bareRun)));

await warmExec.dispose();
await coldExec.dispose();
await warmRuntime.dispose();
await coldRuntime.dispose();

const [warm, cold, bare] = rows.map((r) => r.name);
report(`docker${runsc ? '-runsc' : ''}`, rows, {
  ratios: [
    ['cold container / warm pool', cold, warm],
    ['bare docker run / warm pool', bare, warm],
  ],
  notes: [
    'warm: the pool is refilled (untimed) before each sample; a container serves one execution and is then removed',
    'cold: includes create, attach and start; the removal runs after the result is returned',
    'bare: create + start + wait + remove of the image running node -e 0',
  ],
});
