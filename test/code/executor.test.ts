import { afterAll, describe, expect, it } from 'vitest';
import { Executor, DEFAULT_EXECUTE_LIMITS } from '../../src/code/executor.js';
import { prepareScript, type PrepareFailure, type PreparedScript } from '../../src/code/prepare.js';
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
    expect(bad.error).toMatchObject({ code: 'SYNTAX_ERROR', line: 1 });
    await executor.dispose();
    await expect(executor.execute('1')).rejects.toThrow(/disposed/);
  });
});

/** The prepared script, failing the test (with the reason) when preparation failed. */
function prepared(source: string): PreparedScript {
  const p = prepareScript(source);
  if (!p.ok) throw new Error(`expected ${JSON.stringify(source)} to prepare, got ${p.error.message}`);
  return p;
}

/** The preparation failure, failing the test when preparation succeeded. */
function refused(source: string): PrepareFailure['error'] {
  const p = prepareScript(source);
  if (p.ok) throw new Error(`expected ${JSON.stringify(source)} to be refused`);
  return p.error;
}

describe('script preparation', () => {
  it('keeps line numbers and returns the last expression', () => {
    const p = prepared('const a = 1;\n\n(a + 1);');
    expect(p.code.split('\n')[3]).toBe('return ((a + 1));');
    expect(p.lineOffset).toBe(1);
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
  it('strips TypeScript and says so, keeping every line', async () => {
    const p = prepared('const a: number = 1;\ntype T = { x: string };\na as number');
    expect(p.typescript).toBe(true);
    expect(p.code).not.toMatch(/: number|type T|as number/);
    expect(p.code.split('\n')[3]).toMatch(/^return \(a\);\s*$/);
    const executor = new Executor({ runner: makeRunner(), runtime });
    expect((await executor.execute('const a: number = 1;\ntype T = { x: string };\na as number')).value).toBe(1);
  });
  it('reports a hashbang line as a comment, keeping lines', async () => {
    const p = prepared('#!/usr/bin/env toolexec\n1 + 1');
    const lines = p.code.split('\n');
    // Line 1 of the program is the wrapper; the user's line 1 (the hashbang) is a comment on
    // line 2 and the user's line 2 is line 3, so positions still map back by one.
    expect(lines[1]).toBe('///usr/bin/env toolexec');
    expect(lines[2]).toBe('return (1 + 1);');
    expect(p.lineOffset).toBe(1);
    expect(p.returnInsertedAt).toEqual({ line: 2, column: 1 });
    const executor = new Executor({ runner: makeRunner(), runtime });
    expect((await executor.execute('#!/usr/bin/env toolexec\n1 + 1')).value).toBe(2);
    const failed = await executor.execute('#!/usr/bin/env toolexec\nconst x = 1;\nnull.boom;');
    expect(failed.error).toMatchObject({ code: 'RUNTIME_ERROR', line: 3 });
  });
  it('an unclosed brace is reported at the end of the script, where Node reports it', () => {
    const error = refused('if (true) {\n  1');
    expect(error).toMatchObject({ code: 'SYNTAX_ERROR', line: 2, column: 4 });
    expect(error.message).toMatch(/^SyntaxError: Unexpected end of input \(line 2, column 4\)$/);
  });
  it('a mistake inside the script is reported at its line and column', () => {
    const error = refused('const a = 1;\nconst = 2;');
    expect(error).toMatchObject({ code: 'SYNTAX_ERROR', line: 2, column: 7 });
    expect(error.message).toMatch(/\(line 2, column 7\)$/);
  });
});
