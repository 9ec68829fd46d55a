/**
 * The shared worker pool and supervisor, with a minimal in-worker engine that runs job code
 * as plain JavaScript (no sandbox: what is under test is the lifecycle, not isolation).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { WorkerPool } from '../../src/runtime/worker-pool.js';
import { buildWorkerSource } from '../../src/runtime/worker-source.js';
import type { Engine, EngineIO, WorkerJob } from '../../src/runtime/worker-protocol.js';
import type { RuntimeLimits } from '../../src/runtime/types.js';

function plainEngine(): Engine {
  return {
    enforced: { memoryMb: false },
    start(job: WorkerJob & { prelude: string }, io: EngineIO) {
      let failure: { code: 'RUNTIME_ERROR'; message: string } | undefined;
      try {
        new Function('io', job.code)(io);
      } catch (e) {
        failure = { code: 'RUNTIME_ERROR', message: String(e) };
      }
      return {
        get failure() {
          return failure;
        },
        deliver(messages: string[]) {
          for (const m of messages) io.post(`{"op":"done","ok":true,"value":${JSON.stringify(m)}}`);
        },
        finish() {
          return {};
        },
      };
    },
  };
}

const limits: RuntimeLimits = { timeoutMs: 5000, memoryMb: 16, maxOutputBytes: 10_000 };
const pool = new WorkerPool({ name: 'test-pool', source: buildWorkerSource(plainEngine, null), resourceLimits: { maxOldGenerationSizeMb: 32 }, maxWorkers: 2, graceMs: 100 });
afterAll(() => pool.dispose());

function run(code: string, over: Partial<RuntimeLimits> = {}, onMessage?: (m: string, send: (r: string) => void) => void, signal?: AbortSignal) {
  const messages: string[] = [];
  const session = pool.start({ prelude: '', code, filename: 'job.js', lineOffset: 0, limits: { ...limits, ...over }, signal }, (m) => {
    messages.push(m);
    onMessage?.(m, (r) => session.send(r));
  });
  return { session, messages, done: session.done };
}

const DONE = 'io.post(\'{"op":"done","ok":true,"value":1}\')';

describe('worker pool and supervision', () => {
  it('runs a job and carries messages both ways', async () => {
    const r = run('io.post(\'{"id":1,"op":"run"}\')', {}, (m, send) => {
      if (m.includes('"run"')) send('reply-1');
    });
    const outcome = await r.done;
    expect(outcome.failure).toBeUndefined();
    expect(r.messages).toEqual(['{"id":1,"op":"run"}', '{"op":"done","ok":true,"value":"reply-1"}']);
  });

  it('ends a job whose guest waits past the deadline with TIMEOUT', async () => {
    const outcome = await run('io.post(\'{"id":1,"op":"run"}\')', { timeoutMs: 100 }).done;
    expect(outcome.failure?.code).toBe('TIMEOUT');
  });

  it('hard-kills a worker stuck where it cannot be interrupted, and replaces it', async () => {
    const outcome = await run('for (;;) {}', { timeoutMs: 100 }).done;
    expect(outcome.failure?.code).toBe('TIMEOUT');
    expect((await run(DONE).done).failure).toBeUndefined();
  });

  it('classifies a worker that exits as SANDBOX_CRASHED', async () => {
    const outcome = await run('process.exit(3)').done;
    expect(outcome.failure?.code).toBe('SANDBOX_CRASHED');
    expect((await run(DONE).done).failure).toBeUndefined();
  });

  it('classifies a worker that exhausts its heap as MEMORY_LIMIT', async () => {
    const outcome = await run('const a = []; for (;;) a.push(new Array(1e5).fill(a.length));', { timeoutMs: 20_000 }).done;
    expect(outcome.failure?.code).toBe('MEMORY_LIMIT');
    expect((await run(DONE).done).failure).toBeUndefined();
  });

  it('cuts a flood of output at maxOutputBytes inside the worker', async () => {
    const r = run('for (let i = 0; i < 1e6; i++) io.post(\'{"op":"log","level":"log","message":"xxxxxxxxxxxxxxxxxxxx"}\')', { maxOutputBytes: 5000 });
    const outcome = await r.done;
    expect(outcome.failure?.code).toBe('OUTPUT_LIMIT');
    expect(r.messages.join('').length).toBeLessThanOrEqual(5000);
  });

  it('terminate() ends a wedged job with the given reason', async () => {
    const r = run('for (;;) {}', { timeoutMs: 60_000 });
    setTimeout(() => r.session.terminate({ code: 'CANCELLED', message: 'stop' }), 50);
    expect((await r.done).failure).toEqual({ code: 'CANCELLED', message: 'stop' });
  });

  it('an AbortSignal cancels a job', async () => {
    const ac = new AbortController();
    const r = run('io.post(\'{"id":1,"op":"run"}\')', { timeoutMs: 60_000 }, undefined, ac.signal);
    setTimeout(() => ac.abort(), 50);
    expect((await r.done).failure?.code).toBe('CANCELLED');
  });

  it('queues jobs beyond maxWorkers and runs them all', async () => {
    const outcomes = await Promise.all([1, 2, 3, 4, 5].map(() => run(DONE).done));
    expect(outcomes.every((o) => o.failure === undefined)).toBe(true);
    expect(pool.stats().busy + pool.stats().idle + pool.stats().starting).toBeLessThanOrEqual(2);
  });

  it('reports a guest-side engine failure', async () => {
    const outcome = await run('throw new Error("nope")').done;
    expect(outcome.failure).toMatchObject({ code: 'RUNTIME_ERROR' });
  });

  it('dispose ends running jobs and refuses new ones', async () => {
    const p2 = new WorkerPool({ name: 'test-pool-2', source: buildWorkerSource(plainEngine, null) });
    const s = p2.start({ prelude: '', code: 'for (;;) {}', filename: 'x.js', lineOffset: 0, limits: { ...limits, timeoutMs: 60_000 } }, () => {});
    await new Promise((r) => setTimeout(r, 200));
    await p2.dispose();
    expect((await s.done).failure?.code).toBe('SANDBOX_CRASHED');
    expect(() => p2.start({ prelude: '', code: '', filename: 'x.js', lineOffset: 0, limits }, () => {})).toThrow(/disposed/);
  });
});
