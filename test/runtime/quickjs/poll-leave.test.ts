// The leave to poll for replies (control word SPIN_OK) follows the number of running jobs: a
// thread that got it when its job started loses it once the other cores are taken, and gets it
// back when a job ends. Polling is forced on (spare-core.ts reads the mode once, at load), so the
// only thing that decides is how many jobs run against how many cores.
import { availableParallelism } from 'node:os';
import { afterAll, describe, expect, it } from 'vitest';

process.env.TOOLEXEC_SANDBOX_POLL = 'always';
const { QuickJSRuntime } = await import('../../../src/runtime/quickjs/index.js');
const { CTRL } = await import('../../../src/runtime/quickjs/ring.js');
const { startJob } = await import('../contract.js');

const CORES = availableParallelism();

describe('QuickJS threads: the leave to poll', () => {
  const runtime = new QuickJSRuntime({ minIdle: 0, maxWorkers: CORES });
  afterAll(() => runtime.dispose());

  const leaves = () =>
    runtime
      .workers()
      .map((w) => w as unknown as { ctrl: Int32Array; busy: boolean })
      .filter((w) => w.busy)
      .map((w) => Atomics.load(w.ctrl, CTRL.SPIN_OK));

  const running = async (job: ReturnType<typeof startJob>) => {
    const deadline = Date.now() + 20_000;
    while (!job.messages.some((m) => m.op === 'run') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  };

  it('is taken back from running threads once every core runs a job, and given back when one ends', { timeout: 60_000 }, async () => {
    const aborts = Array.from({ length: CORES }, () => new AbortController());
    const first = startJob(runtime, 'await run("hang", {}); return 1', { signal: aborts[0]!.signal });
    await running(first);
    // One job on a machine of several cores: it may poll (one core is this thread's).
    if (CORES > 1) expect(leaves()).toEqual([1]);
    const rest = aborts.slice(1).map((a) => startJob(runtime, 'await run("hang", {}); return 1', { signal: a.signal }));
    for (const j of rest) await running(j);
    // Every core runs a job now: none may poll, the first one included.
    expect(leaves()).toEqual(Array.from({ length: CORES }, () => 0));
    aborts[CORES - 1]!.abort();
    await (rest.at(-1) ?? first).outcome;
    if (CORES > 1) expect(leaves()).toEqual(Array.from({ length: CORES - 1 }, () => 1));
    for (const a of aborts) a.abort();
    await Promise.all([first, ...rest].map((j) => j.outcome));
    expect(leaves()).toEqual([]);
  });
});
