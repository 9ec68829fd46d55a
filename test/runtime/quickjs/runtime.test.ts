import { afterAll, describe, expect, it } from 'vitest';
import { QuickJSRuntime } from '../../../src/runtime/quickjs/index.js';
import type { RuntimeLimits, RuntimeOutcome } from '../../../src/runtime/types.js';

const runtime = new QuickJSRuntime({ minIdle: 1 });
afterAll(() => runtime.dispose());

const limits: RuntimeLimits = { timeoutMs: 10_000, memoryMb: 32, maxOutputBytes: 1 << 20 };

/** Runs a body (inside `__toolexec_start(async () => { ... })`) with a host that echoes `run` args. */
async function go(body: string, over: Partial<RuntimeLimits> = {}, signal?: AbortSignal) {
  const messages: any[] = [];
  const code = `__toolexec_start(async function () {\n${body}\n});`;
  let session: ReturnType<typeof runtime.start>;
  session = runtime.start({ code, filename: 'script.js', limits: { ...limits, ...over }, signal }, (text) => {
    const m = JSON.parse(text);
    messages.push(m);
    if (m.op === 'run') {
      setImmediate(() => session.send(JSON.stringify(m.toolId === 'fail' ? { id: m.id, ok: false, error: { code: 'EXECUTION', message: 'nope' } } : { id: m.id, ok: true, value: { echo: m.args } })));
    }
  });
  const outcome: RuntimeOutcome = await session.done;
  return { outcome, messages, done: messages.find((m) => m.op === 'done') };
}

describe('QuickJS runtime (worker-isolated)', () => {
  it('runs the prelude and code, carries run() round trips and returns the value', async () => {
    const r = await go('console.log("hi", { a: 1 }); const x = await run("math:add", { a: 2 }); return x.echo.a + 1;');
    expect(r.outcome.failure).toBeUndefined();
    expect(r.done).toEqual({ op: 'done', ok: true, value: 3 });
    expect(r.messages[0]).toEqual({ op: 'log', level: 'log', message: 'hi { a: 1 }' });
  });

  it('reports syntax errors at their line in the program (the executor maps it to the user script)', async () => {
    const r = await go('const a = 1;\nlet = = 2;');
    expect(r.outcome.failure?.code).toBe('SYNTAX_ERROR');
    // Line 2 of the body is line 3 of the program behind the one-line wrapper.
    expect(r.outcome.failure?.line).toBe(3);
  });

  it('stops a busy loop at the deadline and then runs the next job', async () => {
    const r = await go('while (true) {}', { timeoutMs: 200 });
    expect(r.outcome.failure?.code).toBe('TIMEOUT');
    const ok = await go('return 1');
    expect(ok.done?.value).toBe(1);
  });

  it('kills a huge native join that ignores interrupts', async () => {
    const r = await go('const a = new Array(2e7).fill("abcdefgh"); return a.join("").length', { timeoutMs: 300, memoryMb: 512 });
    expect(['TIMEOUT', 'MEMORY_LIMIT']).toContain(r.outcome.failure?.code);
    const ok = await go('return 2');
    expect(ok.done?.value).toBe(2);
  });

  it('classifies a memory bomb', async () => {
    const r = await go('const a = []; while (true) a.push("x".repeat(1000) + a.length);', { memoryMb: 16, timeoutMs: 20_000 });
    expect(r.outcome.failure?.code, JSON.stringify(r.outcome)).toBe("MEMORY_LIMIT");
    expect(r.outcome.failure?.code === 'MEMORY_LIMIT' || /out of memory/.test(r.done?.error?.message)).toBe(true);
  });
});

describe('QuickJS memory limits per job', () => {
  it("a job's memory limit does not depend on what the previous job on the same worker used", async () => {
    const one = new QuickJSRuntime({ minIdle: 0, maxWorkers: 1 });
    try {
      // How many 1 KB strings a job can keep before it runs out.
      const fill = async (memoryMb: number) => {
        const messages: string[] = [];
        const s = one.start(
          { code: `__toolexec_start(async function () {\nconst a = []; try { for (;;) a.push("x".repeat(1000) + a.length); } catch (e) { return a.length; }\n});`, filename: 'script.js', limits: { ...limits, memoryMb } },
          (m) => messages.push(m),
        );
        const outcome = await s.done;
        const done = messages.map((m) => JSON.parse(m)).find((m) => m.op === 'done');
        return { outcome, kept: done?.ok ? (done.value as number) : undefined };
      };
      const fresh = await fill(8);
      // A big job grows the worker's WebAssembly memory far past 8 MB...
      const big = await fill(128);
      // ...and the next small job still gets what a small job gets.
      const after = await fill(8);
      for (const r of [fresh, big, after]) expect(r.outcome.failure?.code ?? 'ok', JSON.stringify(r.outcome)).toMatch(/ok|MEMORY_LIMIT/);
      const keptFresh = fresh.kept ?? 0;
      const keptAfter = after.kept ?? 0;
      expect(big.kept ?? Infinity).toBeGreaterThan(keptFresh * 5);
      expect(keptAfter).toBeLessThan(keptFresh * 1.5);
      // And about what was asked for: 8 MB plus the engine's small fixed slack, not 16 or 80.
      expect(keptFresh * 1000).toBeLessThan(12 * 1024 * 1024);
    } finally {
      await one.dispose();
    }
  });
});

describe('QuickJS engine crashes', () => {
  it('a host stack overflow inside the engine is SANDBOX_CRASHED and the worker is replaced', async () => {
    // Without QuickJS's own stack limit, deep guest recursion overflows the worker thread's
    // stack inside WebAssembly: the engine's state is then unknown and the worker must go.
    const unguarded = new QuickJSRuntime({ minIdle: 1, maxStackBytes: 0, maxWorkers: 1 });
    try {
      const run = async (body: string) => {
        const messages: string[] = [];
        const s = unguarded.start(
          { code: `__toolexec_start(async function () {\n${body}\n});`, filename: 'script.js', limits },
          (m) => messages.push(m),
        );
        return { outcome: await s.done, messages };
      };
      const crashed = await run('function f(n) { return f(n + 1) + 1; } return f(0);');
      expect(crashed.outcome.failure?.code).toBe('SANDBOX_CRASHED');
      const next = await run('return 7');
      expect(next.outcome.failure).toBeUndefined();
      expect(JSON.parse(next.messages.at(-1)!)).toEqual({ op: 'done', ok: true, value: 7 });
    } finally {
      await unguarded.dispose();
    }
  });
});

describe('QuickJS through the executor', () => {
  it('enforces cpuMs separately from the wall clock, and says so', async () => {
    const { Executor } = await import('../../../src/code/executor.js');
    const { Runner } = await import('../../../src/run/runner.js');
    const executor = new Executor({ runner: new Runner(), runtime });
    const r = await executor.execute('let i = 0; while (true) i++;', { cpuMs: 150, timeoutMs: 20_000 });
    expect(r.error?.code).toBe('TIMEOUT');
    expect(r.error?.message).toMatch(/CPU budget of 150 ms/);
    expect(r.limits.cpuMs).toBe(150);
    expect(r.limits.enforced.cpuMs).toBe(true);
    expect(r.stats.cpuMs).toBeGreaterThan(0);
    const ok = await executor.execute('6 * 7', { cpuMs: 150 });
    expect(ok.value).toBe(42);
  });

  it('an unknown runtime name is refused with the known ones', async () => {
    const { Executor } = await import('../../../src/code/executor.js');
    const { Runner } = await import('../../../src/run/runner.js');
    const { loadRuntime } = await import('../../../src/runtime/load.js');
    expect(() => new Executor({ runner: new Runner(), runtime: 'v8' as never })).toThrow(/known runtimes: quickjs, isolated-vm, docker/);
    await expect(loadRuntime('nope')).rejects.toThrow(/known runtimes: quickjs, isolated-vm, docker/);
  });
});
