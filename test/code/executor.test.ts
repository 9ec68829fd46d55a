import { afterAll, describe, expect, it } from 'vitest';
import { Executor, DEFAULT_EXECUTE_LIMITS } from '../../src/code/executor.js';
import { prepareScript } from '../../src/code/prepare.js';
import { Runner } from '../../src/run/runner.js';
import { QuickJSRuntime } from '../../src/runtime/quickjs/index.js';

const runtime = new QuickJSRuntime();
afterAll(() => runtime.dispose());

function makeRunner() {
  const runner = new Runner();
  runner.register({ namespace: 'math', name: 'add', handler: async ({ a, b }: { a: number; b: number }) => ({ sum: a + b }) });
  runner.register({ namespace: 'github', name: 'get', handler: async () => ({ ok: true }) });
  return runner;
}

describe('Executor limits and API', () => {
  it('applies defaults, then per-call values, capped by maxLimits', async () => {
    const executor = new Executor({ runner: makeRunner(), runtime, limits: { timeoutMs: 4000 }, maxLimits: { timeoutMs: 5000, maxToolCalls: 10 } });
    const r = await executor.execute('1', { timeoutMs: 60_000, maxToolCalls: 1_000_000, memoryMb: 32 });
    expect(r.limits).toMatchObject({ timeoutMs: 5000, maxToolCalls: 10, memoryMb: 32, maxOutputBytes: DEFAULT_EXECUTE_LIMITS.maxOutputBytes });
    const d = await executor.execute('1');
    expect(d.limits.timeoutMs).toBe(4000);
  });

  it('a per-call allow-list only narrows the executor one', async () => {
    const executor = new Executor({ runner: makeRunner(), runtime, limits: { allowedTools: ['math:*'] } });
    const widen = await executor.execute('await run("github:get", {})', { allowedTools: ['*'] });
    expect(widen.error?.code).toBe('TOOL_NOT_ALLOWED');
    const narrow = await executor.execute('try { await run("math:add", { a: 1, b: 1 }); return "ran"; } catch (e) { return e.code }', { allowedTools: ['github:*'] });
    expect(narrow.value).toBe('TOOL_NOT_ALLOWED');
    const ok = await executor.execute('(await run("math:add", { a: 1, b: 1 })).sum');
    expect(ok.value).toBe(2);
  });

  it('throws for misuse, never for what a script does', async () => {
    const executor = new Executor({ runner: makeRunner(), runtime });
    await expect(executor.execute(42 as never)).rejects.toThrow(TypeError);
    await expect(executor.execute('1', { timeoutMs: -1 })).rejects.toThrow(/timeoutMs must be a positive number/);
    await expect(executor.execute('1', { allowedTools: 'math:*' as never })).rejects.toThrow(/allowedTools/);
    expect(() => new Executor({} as never)).toThrow(/runner/);
    expect(() => new Executor({ runner: makeRunner(), runtime: {} as never })).toThrow(/runtime must be/);
    const bad = await executor.execute('}{');
    expect(bad.ok).toBe(false);
    await executor.dispose();
    await expect(executor.execute('1')).rejects.toThrow(/disposed/);
  });
});

describe('script preparation', () => {
  it('keeps line numbers and returns the last expression', () => {
    const p = prepareScript('const a = 1;\n\n(a + 1);');
    expect(p.ok).toBe(true);
    if (p.ok) {
      expect(p.code.split('\n')[3]).toBe('return ((a + 1));');
      expect(p.lineOffset).toBe(1);
    }
  });
  it('does not rewrite a script that ends in a declaration', () => {
    const q = prepareScript('function f() { return 1 }');
    expect(q.ok && q.code.includes('return (')).toBe(false);
    const c = prepareScript('const done = "yes";');
    expect(c.ok && c.code.includes('return (')).toBe(false);
  });
  it('returns a final string literal, even where it reads as a directive', () => {
    const p = prepareScript('"use strict";');
    expect(p.ok && p.code).toContain('return ("use strict");');
  });
  it('strips TypeScript and says so', () => {
    const p = prepareScript('const a: number = 1;\ntype T = { x: string };\na as number');
    expect(p.ok && p.typescript).toBe(true);
  });
  it('reports a hashbang line as a comment, keeping lines', () => {
    const p = prepareScript('#!/usr/bin/env toolexec\n1 + 1');
    expect(p.ok).toBe(true);
  });
  it('an unclosed brace is reported at the end of the script', () => {
    const p = prepareScript('if (true) {\n  1');
    expect(p.ok).toBe(false);
    if (!p.ok) expect(p.error.message).toMatch(/end of the script|line/);
  });
});
