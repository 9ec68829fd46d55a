/**
 * The supervisor alone, with a far side that has no engine (test/fixtures/runtime/plain-far-side.cjs
 * in real worker threads): what is under test is the lifecycle and the classification rules, not
 * isolation. The runtime contract suite (contract.ts) covers the same promises on every real runtime.
 */
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { Supervisor, type SupervisorOptions } from '../../src/runtime/supervisor.js';
import { checkRuntimeOptions } from '../../src/runtime/options.js';
import type { HostToSandbox, RuntimeDriver, RuntimeOutcome, SandboxToHost, SandboxWorker, WorkerEvents } from '../../src/runtime/types.js';

const FAR_SIDE = fileURLToPath(new URL('../fixtures/runtime/plain-far-side.cjs', import.meta.url));
const LIMITS = { timeoutMs: 5_000, memoryMb: 16, maxOutputBytes: 10_000 };

/** What a plain worker says of its readiness after a job: nothing (as isolated-vm and Docker), ready, about to be, or not soon. */
type Readiness = 'silent' | 'ready' | 'soon' | 'slow';

class PlainWorker implements SandboxWorker {
  private readonly worker: Worker;
  private readonly ready: Promise<void>;
  private readonly exited: Promise<void>;
  prepared: boolean | undefined;
  readySoon: boolean | undefined;
  constructor(events: WorkerEvents, failStart: boolean, readiness: Readiness = 'silent') {
    if (readiness !== 'silent') this.prepared = true;
    this.worker = new Worker(FAR_SIDE, { workerData: { failStart } });
    this.ready = new Promise((resolve, reject) => {
      this.worker.once('message', (m: { t: string; message?: string }) => {
        if (m.t === 'ready') resolve();
        else reject(Object.assign(new Error(m.message ?? 'failed'), { permanent: permanentFailures }));
      });
    });
    this.ready.catch(() => {});
    this.worker.on('message', (m: SandboxToHost | { t: 'ready' }) => {
      if (m.t === 'end' && readiness !== 'silent' && readiness !== 'ready') {
        this.prepared = false;
        this.readySoon = readiness === 'soon';
      }
      if (m.t === 'out' || m.t === 'end') events.message(m);
    });
    this.exited = new Promise((resolve) =>
      this.worker.once('exit', () => {
        events.exit({ code: 'SANDBOX_CRASHED', message: 'the plain worker exited' });
        resolve();
      }),
    );
  }
  start(): Promise<void> {
    return this.ready;
  }
  send(message: HostToSandbox): void {
    this.worker.postMessage(message);
  }
  stop(): Promise<void> {
    void this.worker.terminate();
    return this.exited;
  }
  get threadId(): number {
    return this.worker.threadId;
  }
}

let permanentFailures = false;

function plainDriver(options: { trustsFarSide?: boolean; failStart?: () => boolean; shapeOf?: RuntimeDriver['shapeOf']; readiness?: Readiness } = {}) {
  const spawned: string[] = [];
  const driver: RuntimeDriver = {
    name: 'plain',
    enforces: { memoryMb: false, cpuMs: false },
    trustsFarSide: options.trustsFarSide ?? true,
    ...(options.shapeOf ? { shapeOf: options.shapeOf } : {}),
    createWorker(shape, events) {
      spawned.push(shape);
      return new PlainWorker(events, options.failStart?.() ?? false, options.readiness);
    },
  };
  return { driver, spawned };
}

const pools: Supervisor[] = [];
function pool(driver: RuntimeDriver, options: SupervisorOptions = {}): Supervisor {
  const p = new Supervisor(driver, options);
  pools.push(p);
  return p;
}
afterEach(async () => {
  permanentFailures = false;
  await Promise.all(pools.splice(0).map((p) => p.dispose()));
});

function run(p: Supervisor, code: string, over: { memoryMb?: number; timeoutMs?: number } = {}): { messages: string[]; done: Promise<RuntimeOutcome>; send: (m: string) => void } {
  const messages: string[] = [];
  const session = p.start({ code, filename: 'job.js', limits: { ...LIMITS, ...over } }, (m) => messages.push(m));
  return { messages, done: session.done, send: (m) => session.send(m) };
}

const DONE = 'io.post(JSON.stringify({ op: "done", ok: true, value: io.threadId })); io.end();';

describe('supervisor', () => {
  it('retires a sandbox after maxJobsPerWorker jobs and replaces it', async () => {
    const { driver } = plainDriver();
    const p = pool(driver, { maxWorkers: 1, minIdle: 0, maxJobsPerWorker: 2 });
    const threads: unknown[] = [];
    for (let i = 0; i < 4; i++) {
      const r = run(p, DONE);
      expect((await r.done).failure).toBeUndefined();
      threads.push(JSON.parse(r.messages[0]!).value);
    }
    expect(threads[0]).toBe(threads[1]);
    expect(threads[2]).toBe(threads[3]);
    expect(threads[1]).not.toBe(threads[2]);
  });

  it('retires a sandbox whose far side asks for it', async () => {
    const { driver, spawned } = plainDriver();
    const p = pool(driver, { maxWorkers: 1, minIdle: 0 });
    await run(p, 'io.end({}, true)').done;
    await run(p, 'io.end({})').done;
    expect(spawned).toHaveLength(2);
  });

  it("believes a trusted far side's classification, and only what a guest could say of itself from an untrusted one", async () => {
    const claim = 'io.end({ failure: { code: "MEMORY_LIMIT", message: "I ran out of memory, honestly" } })';
    const trusted = pool(plainDriver({ trustsFarSide: true }).driver, { minIdle: 0 });
    expect((await run(trusted, claim).done).failure?.code).toBe('MEMORY_LIMIT');
    const untrusted = pool(plainDriver({ trustsFarSide: false }).driver, { minIdle: 0 });
    const f = (await run(untrusted, claim).done).failure;
    expect(f?.code).toBe('SANDBOX_CRASHED');
    expect(f?.message).toMatch(/reported "MEMORY_LIMIT"/);
    expect((await run(untrusted, 'io.end({ failure: { code: "RUNTIME_ERROR", message: "TypeError: x" } })').done).failure?.code).toBe('RUNTIME_ERROR');
    // Made-up codes are no better.
    expect((await run(trusted, 'io.end({ failure: { code: "PWNED", message: "x" } })').done).failure?.code).toBe('SANDBOX_CRASHED');
  });

  it("caps a far side's failure message and stack, and appends its note", async () => {
    const p = pool(plainDriver().driver, { minIdle: 0 });
    const f = (await run(p, 'io.end({ failure: { code: "RUNTIME_ERROR", message: "m".repeat(1e6), stack: "s".repeat(1e6) }, note: "n".repeat(10) })').done).failure!;
    expect(f.message.length).toBeLessThan(20_000);
    expect(f.message).toMatch(/more characters cut/);
    expect(f.message).toMatch(/; nnnnnnnnnn$/);
    expect(f.stack!.length).toBeLessThan(20_000);
  });

  it("the host's own reason wins over the far side's", async () => {
    const p = pool(plainDriver().driver, { minIdle: 0 });
    const messages: string[] = [];
    // This far side answers the abort with a failure of its own choosing; the host's stands.
    const s = p.start({ code: 'io.onReply = () => {};', filename: 'job.js', limits: LIMITS }, (m) => messages.push(m));
    await new Promise((r) => setTimeout(r, 50));
    s.terminate({ code: 'OUTPUT_LIMIT', message: 'host says so' });
    expect((await s.done).failure).toEqual({ code: 'OUTPUT_LIMIT', message: 'host says so' });
  });

  it('a sandbox stuck where it cannot hear the abort is killed after graceMs, and done waits until it is gone', async () => {
    const { driver, spawned } = plainDriver();
    const p = pool(driver, { minIdle: 0, graceMs: 50 });
    const r = run(p, 'io.post("spinning"); for (;;) {}', { timeoutMs: 200 });
    const outcome = await r.done;
    expect(outcome.failure?.code).toBe('TIMEOUT');
    expect(r.messages).toEqual(['spinning']);
    // The killed sandbox is gone by the time done settles.
    expect(p.stats().alive).toBe(0);
    expect((await run(p, DONE).done).failure).toBeUndefined();
    expect(spawned).toHaveLength(2);
  });

  it('a sandbox that cannot start ends every job waiting for it as RUNTIME_UNAVAILABLE, and does not spin', async () => {
    const { driver, spawned } = plainDriver({ failStart: () => true });
    const p = pool(driver, { minIdle: 2, maxWorkers: 2 });
    const outcomes = await Promise.all([run(p, DONE).done, run(p, DONE).done, run(p, DONE).done]);
    for (const o of outcomes) expect(o.failure).toMatchObject({ code: 'RUNTIME_UNAVAILABLE', message: expect.stringMatching(/refuses to start/) });
    await new Promise((r) => setTimeout(r, 300));
    // One start per waiting job at most, and no background refill loop after the failure.
    expect(spawned.length).toBeLessThanOrEqual(3);
    await expect(p.warm()).rejects.toThrow(/refuses to start/);
  });

  it('a start failure whose worker reports its exit at once does not loop starting replacements', async () => {
    // Like a container that could not even be created: nothing to stop, so the exit comes
    // synchronously from stop().
    let spawned = 0;
    const driver: RuntimeDriver = {
      name: 'instant-fail',
      enforces: { memoryMb: false, cpuMs: false },
      trustsFarSide: true,
      createWorker(_shape, events) {
        spawned++;
        return {
          start: () => Promise.reject(new Error('the engine said no')),
          send() {},
          stop: async () => events.exit({ code: 'SANDBOX_CRASHED', message: 'gone' }),
        };
      },
    };
    const p = pool(driver, { minIdle: 1, maxWorkers: 2 });
    const outcome = await run(p, DONE).done;
    expect(outcome.failure).toMatchObject({ code: 'RUNTIME_UNAVAILABLE', message: 'the engine said no' });
    await new Promise((r) => setTimeout(r, 100));
    expect(spawned).toBe(1);
  });

  it('a permanent start failure is remembered: later jobs fail at once without starting anything', async () => {
    permanentFailures = true;
    const { driver, spawned } = plainDriver({ failStart: () => true });
    const p = pool(driver, { minIdle: 0, maxWorkers: 1 });
    expect((await run(p, DONE).done).failure?.code).toBe('RUNTIME_UNAVAILABLE');
    const before = spawned.length;
    expect((await run(p, DONE).done).failure?.code).toBe('RUNTIME_UNAVAILABLE');
    expect(spawned.length).toBe(before);
  });

  it('keeps sandboxes of different shapes apart, and retires idle ones of a shape nobody asks for', async () => {
    const { driver, spawned } = plainDriver({ shapeOf: (job) => String(job.limits.memoryMb) });
    const p = pool(driver, { minIdle: 0, maxWorkers: 1 });
    const a = run(p, DONE, { memoryMb: 16 });
    await a.done;
    const b = run(p, DONE, { memoryMb: 32 });
    await b.done;
    expect(spawned).toEqual(['16', '32']);
    expect(JSON.parse(a.messages[0]!).value).not.toBe(JSON.parse(b.messages[0]!).value);
  });

  it('fills minIdle spares only once the pool is in use (warm, or a second job)', async () => {
    const { driver, spawned } = plainDriver();
    const p = pool(driver, { minIdle: 2, maxWorkers: 4 });
    await run(p, DONE).done;
    await new Promise((r) => setTimeout(r, 100));
    expect(spawned).toHaveLength(1);
    await run(p, DONE).done;
    const until = Date.now() + 20_000;
    while (p.stats().idle < 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    expect(p.stats().idle).toBeGreaterThanOrEqual(2);
  });

  it('the next job goes to the sandbox that ran the last one when it is ready or about to be, else to the oldest ready one', async () => {
    const threadsOf = async (readiness: Readiness) => {
      const { driver } = plainDriver({ readiness });
      const p = pool(driver, { minIdle: 1, maxWorkers: 2 });
      await p.warm();
      const first = run(p, DONE);
      await first.done;
      const until = Date.now() + 20_000;
      while (p.stats().idle < 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      expect(p.stats().idle).toBe(2);
      const threads = [JSON.parse(first.messages[0]!).value];
      // Back to back, as an agent's scripts or a benchmark's: each starts as soon as the last ended.
      for (let i = 0; i < 3; i++) {
        const r = run(p, DONE);
        await r.done;
        threads.push(JSON.parse(r.messages[0]!).value);
      }
      return threads;
    };
    for (const readiness of ['ready', 'soon'] as const) {
      const threads = await threadsOf(readiness);
      expect(new Set(threads).size, readiness).toBe(1);
    }
    // A sandbox with something slow ahead (a new engine instance to build): the other takes the job.
    const threads = await threadsOf('slow');
    expect(threads[1]).not.toBe(threads[0]);
  });

  it('a job whose sandbox died before any of it came back runs again on another one, once', async () => {
    const { driver, spawned } = plainDriver();
    const p = pool(driver, { minIdle: 0, maxWorkers: 1 });
    // This job kills its own thread before it says anything: the guest cannot have acted.
    const r = run(p, 'process.exit(1)');
    const outcome = await r.done;
    expect(outcome.failure?.code).toBe('SANDBOX_CRASHED');
    expect(spawned).toHaveLength(2);
    // Once something came back, a death is the job's.
    const s = run(p, 'io.post("hello"); setTimeout(() => process.exit(1), 20)');
    expect((await s.done).failure?.code).toBe('SANDBOX_CRASHED');
    expect(spawned).toHaveLength(3);
  });

  it('checks its options and names the problem', () => {
    const { driver } = plainDriver();
    expect(() => new Supervisor(driver, { minIdle: 3, maxWorkers: 2 })).toThrow(/minIdle \(3\) is larger than maxWorkers \(2\)/);
    expect(() => new Supervisor(driver, { maxWorkers: 0 })).toThrow(/maxWorkers must be an integer >= 1/);
    expect(() => new Supervisor(driver, { graceMs: -1 })).toThrow(/graceMs must be a number >= 0/);
    expect(() => checkRuntimeOptions('quickjs', { maxWorker: 2 }, [])).toThrow(/unknown option "maxWorker" \(did you mean "maxWorkers"\?\)/);
    expect(() => checkRuntimeOptions('docker', { pool: { size: 2 } }, [])).toThrow(/"pool" is now minIdle and maxWorkers/);
    expect(() => checkRuntimeOptions('isolated-vm', { warmProcesses: 2 }, [])).toThrow(/"warmProcesses" is now minIdle/);
  });
});
