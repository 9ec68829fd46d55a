/**
 * QuickJS with `isolation: 'none'` (host thread): everything the engine can enforce itself
 * still holds. The cases only a worker can stop (native builtins that ignore interrupts) are
 * deliberately not run here.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Executor } from '../../../src/code/executor.js';
import { QuickJSRuntime } from '../../../src/runtime/quickjs/index.js';
import { makeRunner } from '../../code/conformance.js';

const runtime = new QuickJSRuntime({ isolation: 'none' });
const { runner, aborted } = makeRunner();
const executor = new Executor({ runner, runtime });
afterAll(() => runtime.dispose());

describe('QuickJS in the host thread', () => {
  it('runs scripts with tool calls, concurrency and logs', async () => {
    const r = await executor.execute('console.log("hi");\nconst [a, b] = await Promise.all([tools.math.add({ a: 1, b: 2 }), run("math:add", { a: 3, b: 4 })]);\na.sum + b.sum');
    expect(r.error).toBeUndefined();
    expect(r.value).toBe(10);
    expect(r.logs.map((l) => l.message)).toEqual(['hi']);
    expect(r.toolCalls).toHaveLength(2);
  });

  it('reports errors with positions', async () => {
    const s = await executor.execute('const a = 1;\nconst b = ;');
    expect([s.error?.code, s.error?.line]).toEqual(['SYNTAX_ERROR', 2]);
    const t = await executor.execute('1;\nnull.x;');
    expect([t.error?.code, t.error?.line]).toEqual(['RUNTIME_ERROR', 2]);
    const u = await executor.execute('await run("test:fail", {});');
    expect(u.error?.code).toBe('TOOL_ERROR');
  });

  it('interrupts a busy loop, a promise-job loop and a memory bomb, then works', async () => {
    expect((await executor.execute('while (true) {}', { timeoutMs: 200 })).error?.code).toBe('TIMEOUT');
    expect((await executor.execute('async function f() { for (;;) await null; } await f();', { timeoutMs: 200 })).error?.code).toBe('TIMEOUT');
    expect((await executor.execute('const a = []; for (;;) a.push({ s: "x".repeat(100) + a.length });', { memoryMb: 16 })).error?.code).toBe('MEMORY_LIMIT');
    expect((await executor.execute('for (;;) console.log("x".repeat(100));', { maxOutputBytes: 10_000 })).error?.code).toBe('OUTPUT_LIMIT');
    expect((await executor.execute('let i = 0; for (;;) i++;', { cpuMs: 100, timeoutMs: 10_000 })).error?.message).toMatch(/CPU budget/);
    expect((await executor.execute('6 * 7')).value).toBe(42);
  });

  it('times out and cancels while waiting on a tool', async () => {
    expect((await executor.execute('await run("test:hang", { tag: "inproc-timeout" });', { timeoutMs: 150 })).error?.code).toBe('TIMEOUT');
    const ac = new AbortController();
    const p = executor.execute('await run("test:hang", { tag: "inproc-cancel" });', { signal: ac.signal });
    setTimeout(() => ac.abort(), 50);
    expect((await p).error?.code).toBe('CANCELLED');
    expect(aborted).toEqual(expect.arrayContaining(['inproc-timeout', 'inproc-cancel']));
  });

  it('a job that comes before the last one was cleaned up waits for the clean-up, not the other way round', async () => {
    const one = new QuickJSRuntime({ isolation: 'none', maxWorkers: 1, minIdle: 0 });
    try {
      const limits = { timeoutMs: 5_000, memoryMb: 64, maxOutputBytes: 100_000 };
      const first = one.start({ code: '__toolexec_start(async function () {\nreturn 1;\n});', filename: 'a.js', limits }, () => {});
      // Started from the first job's end, before the event loop turns: the pool hands it the same
      // sandbox, whose next context was to be built once the host is idle. Its heap must survive
      // that build: it awaits a reply that comes only after the loop has turned.
      const second = first.done.then(() => {
        const texts: string[] = [];
        const session = one.start(
          { code: '__toolexec_start(async function () {\nconst a = Array.from({ length: 20000 }, (_, i) => ({ i }));\nconst r = await run("t:x", {});\nreturn a.reduce((s, o) => s + o.i, 0) + r.v;\n});', filename: 'b.js', limits },
          (text) => {
            texts.push(text);
            const m = JSON.parse(text) as { op?: string; id?: number };
            if (m.op === 'run') setTimeout(() => session.send(`[${m.id},{"v":1}]`), 20);
          },
        );
        return session.done.then((outcome) => ({ outcome, texts }));
      });
      expect((await first.done).failure).toBeUndefined();
      const { outcome, texts } = await second;
      expect(outcome.failure).toBeUndefined();
      expect(texts.at(-1)).toBe('{"op":"done","ok":true,"value":199990001}');
    } finally {
      await one.dispose();
    }
  });

  it('leaks nothing between executions', async () => {
    await executor.execute('globalThis.x = 1; Object.prototype.y = 2; 0');
    expect((await executor.execute('[typeof x, typeof ({}).y]')).value).toEqual(['undefined', 'undefined']);
  });
});
