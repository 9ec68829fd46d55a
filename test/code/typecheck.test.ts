// Type errors before side effects: `execute(script, { typecheck: true })` runs the real
// TypeScript compiler (in its worker) over the script against the declarations of the tools
// the script may call, and stops with TYPE_ERROR before any tool runs.
import { afterAll, describe, expect, it } from 'vitest';
import { Executor } from '../../src/code/executor.js';
import { TypeChecker, TypeCheckError } from '../../src/code/typecheck.js';
import { generateTypes } from '../../src/code/typegen.js';
import { sandboxLibDeclarations } from '../../src/code/sandbox-globals.js';
import { EXECUTE_ERROR_CODES } from '../../src/code/types.js';
import { Runner } from '../../src/run/runner.js';

const calls: string[] = [];
const runner = new Runner();
runner.register({
  namespace: 'math',
  name: 'add',
  description: 'Add two numbers',
  inputSchema: { type: 'object', properties: { a: { type: 'number' }, b: { type: 'number' } }, required: ['a', 'b'] },
  outputSchema: { type: 'object', properties: { sum: { type: 'number' } }, required: ['sum'] },
  handler: async ({ a, b }: { a: number; b: number }) => {
    calls.push('math:add');
    return { sum: a + b };
  },
});
runner.register({
  namespace: 'notes',
  name: 'save-note',
  description: 'Saves a note; returns a text confirmation',
  inputSchema: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] },
  handler: async ({ text }: { text: string }) => {
    calls.push('notes:save-note');
    return `saved ${text}`;
  },
});

const checker = new TypeChecker();
const executor = new Executor({ runner, typeChecker: checker });
afterAll(async () => {
  await executor.dispose();
  await checker.close();
});

async function check(script: string, options: Parameters<Executor['execute']>[1] = {}) {
  calls.length = 0;
  return executor.execute(script, { typecheck: true, ...options });
}

describe('execute with typecheck', () => {
  it('TYPE_ERROR is an execute error code', () => {
    expect(EXECUTE_ERROR_CODES).toContain('TYPE_ERROR');
  });

  it('stops a script with type errors before any tool runs, with lines and columns in the script', async () => {
    const script = ['const first = await tools.notes.save_note({ text: "side effect" });', 'const r = await tools.math.add({ a: 1, b: "2" });', 'return r.summ;'].join('\n');
    const r = await check(script);
    expect(r.ok).toBe(false);
    expect(r.error?.code).toBe('TYPE_ERROR');
    expect(calls).toEqual([]);
    expect(r.toolCalls).toEqual([]);
    expect(r.error?.line).toBe(2);
    expect(r.error?.column).toBe(40);
    expect(r.error?.diagnostics).toEqual([
      { line: 2, column: 40, code: 'TS2322', message: "Type 'string' is not assignable to type 'number'." },
      { line: 3, column: 10, code: 'TS2551', message: "Property 'summ' does not exist on type '{ sum: number; }'. Did you mean 'sum'?" },
    ]);
    expect(r.error?.message).toMatch(/^The script does not type-check \(2 errors\); nothing ran:\nline 2, column 40: Type 'string'/);
    expect(r.stats.typecheckMs).toBeGreaterThan(0);
    // Without the check, the same script has its side effect before it fails.
    calls.length = 0;
    const unchecked = await executor.execute(script);
    expect(unchecked.error?.code).toBe('TOOL_ERROR');
    expect(calls).toEqual(['notes:save-note']);
  });

  it('runs a script that type-checks, top-level await and return included', async () => {
    const js = await check('const r = await tools.math.add({ a: 1, b: 2 });\nif (r.sum > 2) return r.sum * 2;\nreturn 0;');
    expect(js).toMatchObject({ ok: true, value: 6 });
    expect(js.stats.typecheckMs).toBeGreaterThan(0);
    const ts = await check('interface Pair { a: number; b: number }\nconst p: Pair = { a: 2, b: 3 };\nconst { sum } = await run("math:add", p);\nreturn sum satisfies number;');
    expect(ts).toMatchObject({ ok: true, value: 5 });
    const text = await check('const t = await tools.notes.save_note({ text: "x" });\nreturn typeof t === "string" ? t.toUpperCase() : t;');
    expect(text).toMatchObject({ ok: true, value: 'SAVED X' });
    expect(await check('await tools.math.add({ a: 1, b: 1 })')).toMatchObject({ ok: true, value: { sum: 2 } });
    expect(await check('return')).toMatchObject({ ok: true });
  });

  it('checks TypeScript as TypeScript', async () => {
    const r = await check('const n: number = "one";\nreturn n;');
    expect(r.error?.code).toBe('TYPE_ERROR');
    expect(r.error?.diagnostics?.[0]).toMatchObject({ line: 1, column: 7, code: 'TS2322' });
  });

  it('lets JavaScript be JavaScript: no implicit-any or expando noise', async () => {
    const script = [
      'const report = { total: 0 };',
      'report.items = [];',
      'function add(x, y) { return x + y; }',
      'add(1);',
      'const started = new Date();',
      'const elapsed = new Date() - started;',
      'let note = null;',
      'try { await tools.math.add({ a: 1, b: 2 }); } catch (e) { note = e.code; }',
      'const parsed = JSON.parse("{\\"a\\":{\\"b\\":1}}");',
      'const counts = {};',
      'for (const k of ["a", "b", "a"]) counts[k] = (counts[k] || 0) + 1;',
      'return { report, elapsed: elapsed >= 0, note, deep: parsed.a.b, counts };',
    ].join('\n');
    const r = await check(script);
    expect(r.error).toBeUndefined();
    expect(r.value).toEqual({ report: { total: 0, items: [] }, elapsed: true, note: null, deep: 1, counts: { a: 2, b: 1 } });
  });

  it('names the globals the sandbox lacks and the modules it never has', async () => {
    // The standard library is declared (setTimeout, URL); what the sandbox never has is named.
    const r = await check('setTimeout(() => 0, 10); new URL("https://a.test").searchParams.get("x");\nconst fs = require("fs");\nconst res = await fetch("https://example.com");\nprocess.exit(1);');
    const messages = r.error?.diagnostics?.map((d) => `${d.line}: ${d.message}`);
    expect(messages).toEqual([
      "2: Cannot use module 'fs': there are no modules; tools are reached with run()",
      "3: Cannot find name 'fetch': there is no network access; call tools with run()",
      "4: Cannot find name 'process': there is no process; the script sees only its tools",
    ]);
    expect(calls).toEqual([]);
  });

  it('knows which tools exist and which are allowed', async () => {
    const typo = await check('return await run("math:ad", { a: 1, b: 2 });');
    expect(typo.error?.diagnostics?.[0]?.message).toBe('No tool "math:ad" is available to this script; did you mean "math:add"?');
    const member = await check('return await tools.math.subtract({ a: 1, b: 2 });');
    expect(member.error?.diagnostics?.[0]?.message).toMatch(/Property 'subtract' does not exist/);
    // Declarations follow allowedTools: a tool the script may not call is not declared.
    const denied = await check('await tools.notes.save_note({ text: "x" });\nreturn 1;', { allowedTools: ['math:*'] });
    expect(denied.error?.code).toBe('TYPE_ERROR');
    expect(denied.error?.diagnostics?.[0]?.message).toMatch(/Property 'notes' does not exist/);
    expect(calls).toEqual([]);
    // A computed ID is not the checker's business: it runs (and fails at run time if wrong).
    const computed = await check('const id = ["math", "add"].join(":");\nreturn (await run(id, { a: 2, b: 2 })).sum;');
    expect(computed).toMatchObject({ ok: true, value: 4 });
  });

  it('knows the input global when the execution has an input', async () => {
    expect(await check('return input.n * 2;', { input: { n: 21 } })).toMatchObject({ ok: true, value: 42 });
    const without = await check('return input;');
    expect(without.error?.diagnostics?.[0]?.message).toMatch(/Cannot find name 'input'/);
  });

  it('reports syntax errors as SYNTAX_ERROR, before the checker', async () => {
    const r = await check('const y = {;');
    expect(r.error?.code).toBe('SYNTAX_ERROR');
    expect(r.stats.typecheckMs).toBeUndefined();
  });

  it('bounds what it reports', async () => {
    const script = Array.from({ length: 30 }, (_, i) => `const v${i}: number = "${i}";`).join('\n');
    const r = await check(script);
    expect(r.error?.diagnostics).toHaveLength(20);
    expect(r.error?.message).toMatch(/\(30 errors\)/);
    expect(r.error?.message).toMatch(/… and 10 more$/);
  });

  it('reads no file but its own: references and imports of host paths find nothing', async () => {
    const r = await check('/// <reference path="/etc/passwd" />\ntype T = typeof import("/etc/hostname");\nreturn 1;');
    const text = JSON.stringify(r.error);
    expect(r.error?.code).toBe('TYPE_ERROR');
    expect(text).not.toMatch(/root:|daemon:/);
    expect(r.error?.diagnostics?.map((d) => d.code)).toEqual(['TS2792']);
  });

  it('is cancelled by the signal', async () => {
    const ac = new AbortController();
    ac.abort();
    const r = await check('return 1', { signal: ac.signal });
    expect(r.error?.code).toBe('CANCELLED');
  });
});

describe('TypeChecker', () => {
  const declarations = generateTypes(runner.index, undefined, { docs: false });
  const lib = sandboxLibDeclarations('quickjs');

  it('stays warm between checks', async () => {
    const c = new TypeChecker();
    try {
      const first = await c.check({ script: 'return 1', typescript: false, declarations, lib });
      expect(first.cold).toBe(true);
      expect(c.warm).toBe(true);
      const second = await c.check({ script: 'return 2', typescript: false, declarations, lib });
      expect(second.cold).toBe(false);
      expect(second.diagnostics).toEqual([]);
    } finally {
      await c.close();
    }
  });

  it('a type-level bomb is TIMEOUT at its deadline, and the next check works', async () => {
    const c = new TypeChecker();
    try {
      await c.warmUp();
      // One line that keeps the compiler busy for many seconds (a 10,000-member union, distributed).
      const bomb = "type D = '0'|'1'|'2'|'3'|'4'|'5'|'6'|'7'|'8'|'9'; type N = `${D}${D}${D}${D}`; type M<T> = T extends any ? { v: T; w: [T, T] } : never; const y: M<N> = { v: 'zz', w: ['1', '2'] };";
      await expect(c.check({ script: bomb, typescript: true, declarations, lib, timeoutMs: 500 })).rejects.toMatchObject({ code: 'TIMEOUT', message: 'The type check did not finish within 500 ms' });
      const next = await c.check({ script: 'const x: string = 1;', typescript: true, declarations, lib });
      expect(next.diagnostics.map((d) => d.code)).toEqual(['TS2322']);
      // Cancelled while the compiler is busy with it: the worker goes, the next check gets another.
      const ac = new AbortController();
      const busy = c.check({ script: bomb, typescript: true, declarations, lib, timeoutMs: 60_000, signal: ac.signal });
      await new Promise((r) => setTimeout(r, 50));
      ac.abort();
      await expect(busy).rejects.toMatchObject({ code: 'CANCELLED' });
      expect((await c.check({ script: 'return 1', typescript: false, declarations, lib })).diagnostics).toEqual([]);
      // Through the executor: the execution ends with TIMEOUT before any tool runs.
      const ex = new Executor({ runner, typeChecker: c });
      try {
        calls.length = 0;
        const r = await ex.execute(`await tools.notes.save_note({ text: "x" });\n${bomb}`, { typecheck: true, timeoutMs: 500 });
        expect(r.error?.code).toBe('TIMEOUT');
        expect(calls).toEqual([]);
      } finally {
        await ex.dispose();
      }
    } finally {
      await c.close();
    }
  });

  it('a checker out of memory is MEMORY_LIMIT, and the host stays up', async () => {
    // The lib files alone need more than this heap.
    const c = new TypeChecker({ memoryMb: 8 });
    try {
      const err = await c.check({ script: 'return 1', typescript: false, declarations, lib }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TypeCheckError);
      expect((err as TypeCheckError).code).toBe('MEMORY_LIMIT');
    } finally {
      await c.close();
    }
  });

  it('without TypeScript: RUNTIME_UNAVAILABLE that says how to install it', async () => {
    const missing = new TypeChecker({ typescript: 'typescript-that-is-not-installed' });
    const ex = new Executor({ runner, typeChecker: missing });
    try {
      const r = await ex.execute('return 1', { typecheck: true });
      expect(r.error?.code).toBe('RUNTIME_UNAVAILABLE');
      expect(r.error?.message).toMatch(/Type checking needs TypeScript, which is not installed .*npm install typescript/);
      // Without typecheck the same executor runs the script.
      expect(await ex.execute('return 1')).toMatchObject({ ok: true, value: 1 });
    } finally {
      await ex.dispose();
      await missing.close();
    }
  });
});
