/**
 * The runtime contract, run against every runtime through the `Runtime` interface alone (no
 * executor): what the supervisor promises the same way everywhere. Each runtime's file supplies
 * how to make one, how to crash a sandbox from outside, and how to count what of ours is alive
 * (from the OS or the engine), so "nothing leaks" is checked where leaks would show.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import type { PoolOptions, Runtime, RuntimeLimits, RuntimeOutcome, RuntimeSession, SandboxWorker } from '../../src/runtime/types.js';

export interface ContractRuntime extends Runtime {
  stats(): { starting: number; idle: number; busy: number; stopping: number; queued: number; alive: number };
  workers(): SandboxWorker[];
  drain(): Promise<void>;
}

export interface ContractTarget {
  name: string;
  /** Why the suite cannot run here (the engine is missing), or undefined. */
  skip?: () => Promise<string | undefined>;
  create(options: PoolOptions & { prelude?: string }): ContractRuntime;
  /** Makes one running sandbox die without the supervisor asking (as a crash would). */
  crash(runtime: ContractRuntime): Promise<void>;
  /** Identifiers of the OS or engine resources of ours alive now (threads, processes, containers). */
  resources(runtime: ContractRuntime): Promise<string[]>;
  /** Scale for waits on slow runtimes (Docker starts containers). */
  slow?: number;
}

export const LIMITS: RuntimeLimits = { timeoutMs: 10_000, memoryMb: 64, maxOutputBytes: 1 << 20 };

interface Job {
  session: RuntimeSession;
  messages: Array<Record<string, unknown>>;
  outcome: Promise<RuntimeOutcome>;
  /** The `done` message the guest sent, once it did. */
  done(): Record<string, unknown> | undefined;
}

/**
 * Starts a job whose body runs inside the prelude's `__toolexec_start`. The host answers `run`:
 * `echo` with its arguments, `wait` after `args.ms`, `hang` never.
 */
export function startJob(
  runtime: Runtime,
  body: string,
  options: { limits?: Partial<RuntimeLimits>; queueTimeoutMs?: number; signal?: AbortSignal; env?: Record<string, unknown>; replyTime?: number } = {},
): Job {
  const messages: Array<Record<string, unknown>> = [];
  let session!: RuntimeSession;
  session = runtime.start(
    {
      code: `__toolexec_start(async function () {\n${body}\n}${options.env ? `, 0, ${JSON.stringify(options.env)}` : ''});`,
      filename: 'script.js',
      limits: { ...LIMITS, ...options.limits },
      ...(options.queueTimeoutMs !== undefined ? { queueTimeoutMs: options.queueTimeoutMs } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    },
    (text) => {
      const m = JSON.parse(text) as Record<string, unknown>;
      messages.push(m);
      if (m.op !== 'run') return;
      const reply = (value: unknown) => session.send(JSON.stringify({ id: m.id, ok: true, value, ...(options.replyTime !== undefined ? { t: options.replyTime } : {}) }));
      const args = (m.args ?? {}) as { ms?: number };
      if (m.toolId === 'echo') setImmediate(() => reply({ echo: m.args }));
      else if (m.toolId === 'wait') setTimeout(() => reply('waited'), args.ms ?? 0);
    },
  );
  return { session, messages, outcome: session.done, done: () => messages.find((m) => m.op === 'done') };
}

async function until(check: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function defineRuntimeContractSuite(target: ContractTarget): void {
  describe(`runtime contract: ${target.name}`, () => {
    let skipReason: string | undefined;
    let runtime: ContractRuntime;
    const slow = target.slow ?? 1;
    beforeAll(async () => {
      skipReason = await target.skip?.();
      if (skipReason) return;
      runtime = target.create({ minIdle: 1, maxWorkers: 2 });
    });
    afterAll(async () => {
      await runtime?.dispose();
    });
    const test = (title: string, fn: () => Promise<void>, timeout = 60_000) =>
      it(title, async (ctx) => {
        if (skipReason) {
          ctx.skip(skipReason);
          return;
        }
        await fn();
      }, timeout);

    test('runs a job and carries messages both ways', async () => {
      const job = startJob(runtime, 'console.log("hi"); const r = await run("echo", { n: 1 }); return r.echo.n + 1;');
      const outcome = await job.outcome;
      expect(outcome.failure).toBeUndefined();
      expect(job.done()).toEqual({ op: 'done', ok: true, value: 2 });
      expect(job.messages[0]).toEqual({ op: 'log', level: 'log', message: 'hi' });
      expect(outcome.enforced.timeoutMs).toBe(true);
    });

    test('done never rejects: syntax errors, throws and hostile code all settle with a failure or a value', async () => {
      const jobs = [
        startJob(runtime, 'let = = 1;'),
        startJob(runtime, 'throw new Error("boom")'),
        startJob(runtime, 'return undefined'),
      ];
      const outcomes = await Promise.allSettled(jobs.map((j) => j.outcome));
      expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);
      expect((outcomes[0] as PromiseFulfilledResult<RuntimeOutcome>).value.failure?.code).toBe('SYNTAX_ERROR');
      expect(jobs[1]!.done()).toMatchObject({ op: 'done', ok: false });
      expect(jobs[2]!.done()).toMatchObject({ op: 'done', ok: true });
    });

    test("the deadline starts when a sandbox takes the job: waiting in the queue is not the script's time", async () => {
      const single = target.create({ minIdle: 0, maxWorkers: 1 });
      try {
        await startJob(single, 'return 0').outcome; // a sandbox exists from here on
        const first = startJob(single, 'await run("wait", { ms: 1500 }); return 1', { limits: { timeoutMs: 20_000 * slow } });
        const second = startJob(single, 'return 2', { limits: { timeoutMs: 700 }, queueTimeoutMs: 60_000 });
        const [a, b] = await Promise.all([first.outcome, second.outcome]);
        expect(a.failure).toBeUndefined();
        expect(b.failure, JSON.stringify(b)).toBeUndefined();
        expect(second.done()).toEqual({ op: 'done', ok: true, value: 2 });
        // It waited longer than its own time limit, and that did not count.
        expect(b.stats.queuedMs).toBeGreaterThan(700);
      } finally {
        await single.dispose();
      }
    });

    test('a job that cannot get a sandbox within queueTimeoutMs ends as TIMEOUT without running', async () => {
      const single = target.create({ minIdle: 0, maxWorkers: 1 });
      try {
        const busy = startJob(single, 'await run("hang", {}); return 1', { limits: { timeoutMs: 60_000 } });
        const queued = startJob(single, 'return 2', { queueTimeoutMs: 300 });
        const outcome = await queued.outcome;
        expect(outcome.failure?.code).toBe('TIMEOUT');
        expect(outcome.failure?.message).toMatch(/did not run/);
        expect(outcome.stats.durationMs).toBe(0);
        expect(queued.messages).toEqual([]);
        busy.session.terminate({ code: 'CANCELLED', message: 'test over' });
        expect((await busy.outcome).failure?.code).toBe('CANCELLED');
      } finally {
        await single.dispose();
      }
    });

    test('terminate ends a job waiting on a tool with the given failure, and the runtime goes on', async () => {
      const job = startJob(runtime, 'await run("hang", {}); return 1');
      await until(() => job.messages.some((m) => m.op === 'run'), 30_000 * slow, 'the run request');
      job.session.terminate({ code: 'TIMEOUT', message: 'host deadline' });
      const outcome = await job.outcome;
      expect(outcome.failure).toMatchObject({ code: 'TIMEOUT', message: 'host deadline' });
      const next = startJob(runtime, 'return 3');
      expect((await next.outcome).failure).toBeUndefined();
      expect(next.done()).toMatchObject({ value: 3 });
    });

    test('a busy loop ends at its deadline, killed after the grace period if it must be', async () => {
      const job = startJob(runtime, 'console.log("about to spin"); while (true) {}', { limits: { timeoutMs: 400 } });
      const outcome = await job.outcome;
      expect(outcome.failure?.code).toBe('TIMEOUT');
      // What the guest logged before is kept.
      expect(job.messages).toContainEqual({ op: 'log', level: 'log', message: 'about to spin' });
      const next = startJob(runtime, 'return 4');
      expect((await next.outcome).failure).toBeUndefined();
    });

    test('an abort signal ends a running job and a queued one as CANCELLED', async () => {
      const single = target.create({ minIdle: 0, maxWorkers: 1 });
      try {
        const ac = new AbortController();
        const running = startJob(single, 'await run("hang", {}); return 1', { signal: ac.signal });
        const queued = startJob(single, 'return 2', { signal: ac.signal, queueTimeoutMs: 60_000 });
        await until(() => running.messages.some((m) => m.op === 'run'), 30_000 * slow, 'the run request');
        ac.abort();
        const [a, b] = await Promise.all([running.outcome, queued.outcome]);
        expect(a.failure?.code).toBe('CANCELLED');
        expect(b.failure?.code).toBe('CANCELLED');
        const late = startJob(single, 'return 3', { signal: ac.signal });
        expect((await late.outcome).failure?.message).toMatch(/before it started/);
      } finally {
        await single.dispose();
      }
    });

    test('a sandbox that dies under a job is SANDBOX_CRASHED, and the runtime replaces it', async () => {
      const job = startJob(runtime, 'await run("hang", {}); return 1');
      await until(() => job.messages.some((m) => m.op === 'run'), 30_000 * slow, 'the run request');
      await target.crash(runtime);
      const outcome = await job.outcome;
      expect(outcome.failure?.code, JSON.stringify(outcome)).toBe('SANDBOX_CRASHED');
      const next = startJob(runtime, 'return 5');
      expect((await next.outcome).failure).toBeUndefined();
      expect(next.done()).toMatchObject({ value: 5 });
    });

    test('every job runs with the prelude the runtime was made with; a broken one fails each job as SANDBOX_CRASHED', async () => {
      const prelude = readFileSync(new URL('../../runtimes/prelude.js', import.meta.url), 'utf8');
      const tagged = target.create({ minIdle: 0, maxWorkers: 1, prelude: `globalThis.preludeVersion = 2;\n${prelude}` });
      const broken = target.create({ minIdle: 0, maxWorkers: 1, prelude: 'throw new Error("prelude exploded")' });
      try {
        for (let i = 0; i < 2; i++) {
          const job = startJob(tagged, 'return globalThis.preludeVersion');
          expect((await job.outcome).failure).toBeUndefined();
          expect(job.done()).toMatchObject({ value: 2 });
        }
        const plain = startJob(runtime, 'return typeof globalThis.preludeVersion');
        await plain.outcome;
        expect(plain.done()).toMatchObject({ value: 'undefined' });
        const failed = await startJob(broken, 'return 1').outcome;
        expect(failed.failure?.code).toBe('SANDBOX_CRASHED');
        expect(failed.failure?.message).toMatch(/prelude failed.*prelude exploded/);
      } finally {
        await Promise.all([tagged.dispose(), broken.dispose()]);
      }
    });

    test('warm() starts minIdle sandboxes ahead of use', async () => {
      const warm = target.create({ minIdle: 2, maxWorkers: 3 });
      try {
        await warm.warm!();
        expect(warm.stats().idle).toBeGreaterThanOrEqual(2);
      } finally {
        await warm.dispose();
      }
    });

    test('dispose ends running and queued jobs as CANCELLED, leaves nothing behind, and refuses new jobs', async () => {
      const doomed = target.create({ minIdle: 0, maxWorkers: 1 });
      const running = startJob(doomed, 'await run("hang", {}); return 1');
      const queued = startJob(doomed, 'return 2', { queueTimeoutMs: 60_000 });
      await until(() => running.messages.some((m) => m.op === 'run'), 30_000 * slow, 'the run request');
      expect((await target.resources(doomed)).length).toBeGreaterThan(0);
      await doomed.dispose();
      const [a, b] = await Promise.all([running.outcome, queued.outcome]);
      expect(a.failure?.code).toBe('CANCELLED');
      expect(b.failure?.code).toBe('CANCELLED');
      expect(a.failure?.message).toMatch(/disposed/);
      await until(async () => (await target.resources(doomed)).length === 0, 10_000 * slow, 'resources to go');
      expect(() => startJob(doomed, 'return 1')).toThrow(/disposed/);
    });

    test('many jobs through a small pool all end, each with its own answer', async () => {
      const jobs = Array.from({ length: 6 }, (_, i) => startJob(runtime, `const r = await run("echo", { i: ${i} }); return r.echo.i;`, { queueTimeoutMs: 120_000 }));
      const outcomes = await Promise.all(jobs.map((j) => j.outcome));
      expect(outcomes.map((o) => o.failure)).toEqual(Array(6).fill(undefined));
      expect(jobs.map((j) => j.done()?.value)).toEqual([0, 1, 2, 3, 4, 5]);
    }, 180_000);

    test("a durable execution's clock moves only to the t of the host's replies, and its randomness comes from the seed", async () => {
      const body = [
        'const t0 = [Date.now(), new Date().getTime(), performance.now(), performance.timeOrigin];',
        'const r = [Math.random(), crypto.randomUUID()];',
        'await run("echo", {});',
        'const t1 = [Date.now(), new Date().toISOString(), performance.now(), typeof Date(), new Date(5).getTime(), new Date() instanceof Date];',
        'return { t0, t1, r };',
      ].join('\n');
      const env = { seed: '0123456789abcdef'.repeat(4), now: 1_700_000_000_000, durable: true };
      const a = startJob(runtime, body, { env, replyTime: 1_700_000_000_500 });
      const b = startJob(runtime, body, { env, replyTime: 1_700_000_000_500 });
      const c = startJob(runtime, body, { env: { ...env, seed: 'f'.repeat(64) }, replyTime: 1_700_000_000_500 });
      await Promise.all([a.outcome, b.outcome, c.outcome]);
      const va = a.done()?.value as { t0: unknown[]; t1: unknown[]; r: unknown[] };
      expect(va.t0).toEqual([1_700_000_000_000, 1_700_000_000_000, 0, 1_700_000_000_000]);
      expect(va.t1).toEqual([1_700_000_000_500, new Date(1_700_000_000_500).toISOString(), 500, 'string', 5, true]);
      // The same seed, the same values; another seed, others.
      expect(b.done()?.value).toEqual(va);
      expect((c.done()?.value as typeof va).r).not.toEqual(va.r);
    });

    test('timer callbacks run in the order they are due, whatever order the host answers in', async () => {
      // The host answers three timer requests only when all three have come, last first (and at
      // once, whatever their delay). The delays are far apart: a container throttled by its CPU
      // quota may pause between two lines, and a 0 ms timer set 400 ms after a 400 ms one is due
      // after it, in Node too.
      const timers: number[] = [];
      const messages: Array<Record<string, unknown>> = [];
      let session!: RuntimeSession;
      session = runtime.start(
        {
          code: `__toolexec_start(async function () {\nconst order = [];\nsetTimeout(() => { order.push('40'); Promise.resolve().then(() => order.push('40 micro')); }, 400);\nsetTimeout(() => order.push('40 too'), 400);\nsetTimeout(() => order.push('0'), 0);\nawait new Promise((r) => setTimeout(r, 450));\nreturn order;\n}, 0, ${JSON.stringify({ seed: 'b'.repeat(64), now: Date.now(), durable: false })});`,
          filename: 'script.js',
          limits: LIMITS,
        },
        (text) => {
          const m = JSON.parse(text) as Record<string, unknown>;
          messages.push(m);
          if (m.op !== 'timer') return;
          timers.push(m.id as number);
          if (timers.length === 3) for (const id of [...timers].reverse()) session.send(JSON.stringify({ id, ok: true, value: null }));
          else if (timers.length === 4) session.send(JSON.stringify({ id: m.id, ok: true, value: null }));
        },
      );
      const outcome = await session.done;
      expect(outcome.failure).toBeUndefined();
      expect(messages.find((m) => m.op === 'done')?.value).toEqual(['0', '40', '40 micro', '40 too']);
    });

    test('without durable, the clock is the real one and Math.random the engine\'s own', async () => {
      const job = startJob(runtime, 'return [Math.abs(Date.now() - performance.timeOrigin) < 60000, String(Math.random).includes("native code")]', { env: { seed: 'a'.repeat(64), now: Date.now(), durable: false } });
      await job.outcome;
      expect(job.done()?.value).toEqual([true, true]);
    });

    test('without durable, each execution draws other Math.random values', async () => {
      const env = { seed: 'a'.repeat(64), now: Date.now(), durable: false };
      const values: unknown[] = [];
      for (let i = 0; i < 3; i++) {
        const job = startJob(runtime, 'return Math.random()', { env });
        await job.outcome;
        values.push(job.done()?.value);
      }
      expect(new Set(values).size).toBe(3);
    });
  });
}
