// Script preparation on its own: bounded before any limit starts, honest about positions
// (Node is the oracle: the same text compiled by V8), and impossible to escape the wrapper.
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import { closeProgram, DEFAULT_MAX_SCRIPT_BYTES, preparationCount, prepareScript, wrapperShapeProblem } from '../../src/code/prepare.js';

/** Where Node reports a syntax error in `text`: a plain script, or the body of an async function. */
function nodeSyntaxError(text: string, asyncBody = false): { line: number; column: number; message: string } | undefined {
  try {
    new vm.Script(asyncBody ? `(async function () {\n${text}\n})` : text, { filename: 'oracle.js', lineOffset: asyncBody ? -1 : 0 });
    return undefined;
  } catch (e) {
    // Node's compile errors start with `file:line`, the source line, and a caret line.
    const [first, , caret = ''] = String((e as Error).stack).split('\n');
    const at = caret.indexOf('^');
    return { line: Number(first!.slice('oracle.js:'.length)), column: at >= 0 ? at + 1 : caret.length + 1, message: (e as Error).message };
  }
}

function failureOf(source: string) {
  const p = prepareScript(source);
  if (p.ok) throw new Error(`expected ${JSON.stringify(source)} to fail preparation`);
  return p.error;
}

/** Arrow functions nested in default parameters: `(a = (a = 0) => 0) => 0`. */
function nestedArrows(depth: number): string {
  let s = '0';
  for (let i = 0; i < depth; i++) s = `(a = ${s}) => 0`;
  return s;
}

describe('syntax errors are where Node puts them', () => {
  const scripts = [
    'const total = 3;\nconst parts = [1, 2,;\n',
    'let count = 0\nfor (;;) {\n  count++\n  if (count > 2) break\n',
    'const label = "unterminated\nfoo()',
    'function area(w, h) {\n  return w * h;\n}}\n',
    'const msg = `value: ${1 + }`;',
    'const o = { a: 1 b: 2 };',
    'if (ready {\n  go();\n}',
    'class Box { #x; get() { return this.#y } }',
    'const [first, ...rest,] = list;',
    'let v = 09.5n;',
    'x = a ?? b || c;',
    'const dup = 1;\nlet dup = 2;',
    'const re = /(/;',
    'label: { break missing; }',
    'const t = `abc\n  def',
    'const x;',
    'foo(1, 2',
    'const ü = "é";\nconst ü = 2;',
  ];
  for (const script of scripts) {
    it(JSON.stringify(script), () => {
      const node = nodeSyntaxError(script)!;
      expect(node, 'Node accepts it').toBeDefined();
      const error = failureOf(script);
      expect(error.code).toBe('SYNTAX_ERROR');
      expect({ line: error.line, column: error.column }).toEqual({ line: node.line, column: node.column });
      expect(error.message).toContain(node.message);
    });
  }

  it('with top-level await and return, as the body of an async function', () => {
    for (const script of ['const r = await fetchIt();\nconst y = [;', 'if (await ok()) return 1\nelse return 2 +* 3']) {
      const node = nodeSyntaxError(script, true)!;
      const error = failureOf(script);
      expect({ line: error.line, column: error.column, message: error.message }).toMatchObject({ line: node.line, column: node.column });
      expect(error.message).toContain(node.message);
    }
  });

  it('TypeScript errors point at the TypeScript mistake, not at the first annotation', () => {
    const error = failureOf('const limit: number = 10;\nconst items: string[] = [;');
    expect(error.code).toBe('SYNTAX_ERROR');
    expect([error.line, error.column]).toEqual([2, 26]);
  });
});

describe('TypeScript is stripped, positions kept', () => {
  it('replaces types with whitespace, line for line and column for column', () => {
    const source = 'interface Point { x: number; y: number }\nconst p: Point = { x: 1, y: 2 } as Point;\nconst id = <T,>(v: T): T => v;\nid<number>(p.x)';
    const p = prepareScript(source);
    expect(p.ok && p.typescript).toBe(true);
    if (!p.ok) return;
    const lines = p.code.split('\n').slice(1, 5);
    expect(lines.slice(0, 3).map((l) => l.length)).toEqual(source.split('\n').slice(0, 3).map((l) => l.length));
    expect(lines[1]).toBe('const p        = { x: 1, y: 2 }         ;');
    expect(lines[3]).toBe('return (id        (p.x));');
  });

  it('refuses TypeScript that needs code generation, saying what to write instead', () => {
    const e = failureOf('enum Level { Low, High }\nLevel.High');
    expect(e.code).toBe('SYNTAX_ERROR');
    expect(e.message).toMatch(/enum/);
    expect(e.message).toMatch(/as const/);
    expect(e.line).toBe(1);
    expect(failureOf('namespace Util { export const k = 1 }').message).toMatch(/namespace.*plain object/);
    expect(failureOf('class P { constructor(private n: number) {} }').message).toMatch(/parameter propert.*constructor/);
  });
});

describe('modules', () => {
  it('a static import or export says modules are not available and how tools are reached', () => {
    for (const [source, line] of [['import fs from "node:fs";', 1], ['const a = 1;\nexport default a;', 2], ['const n: number = 1;\nimport { x } from "y";', 2]] as const) {
      const e = failureOf(source);
      expect(e.code).toBe('SYNTAX_ERROR');
      expect(e.message).toMatch(/(import|export)` is not available in the sandbox/);
      expect(e.message).toContain('run("namespace:tool", args)');
      expect([e.line, e.column]).toEqual([line, 1]);
    }
  });

  it('import() is renamed to the prelude stand-in of the same length: no column moves', () => {
    const p = prepareScript('const m = await import("node:fs");\nm');
    expect(p.ok).toBe(true);
    if (p.ok) expect(p.code.split('\n')[1]).toBe('const m = await $__imp("node:fs");');
  });
});

describe('the wrapper cannot be closed from inside', () => {
  const escapes = [
    '}, 0, async function () {\nreturn 1',
    '});\n__toolexec_start(async function () {\nreturn 2',
    '}) || (async function () {',
    '1 });\n(async () => {',
  ];
  for (const source of escapes) {
    it(JSON.stringify(source), () => {
      const e = failureOf(source);
      expect(e.code).toBe('SYNTAX_ERROR');
      expect(e.line).toBe(1);
    });
  }

  it('the wrapped program is checked again: a crafted one is refused', () => {
    const user = '}, 0, async function () {\nreturn 1';
    // The prepared text stops before `, <flags>, <env>);`, which the executor appends per execution.
    expect(wrapperShapeProblem(`__toolexec_start(async function () {\n${user}\n}`, user.length)).toMatch(/closes the executor's wrapper/);
    expect(wrapperShapeProblem('__toolexec_start(async function () {\nreturn 1\n}', 'return 1'.length)).toBeUndefined();
    expect(wrapperShapeProblem('__toolexec_start(async function () {\nreturn 1\n}, 1', 'return 1'.length)).toMatch(/wrapper/);
  });
  it('closeProgram appends the flags and the environment as JSON', () => {
    const env = { seed: 'ab'.repeat(32), now: 1_700_000_000_000, durable: false };
    const p = prepareScript('1');
    expect(p.ok && closeProgram(p.code, true, env)).toBe(`__toolexec_start(async function () {\nreturn (1);\n}, 1, {"seed":"${env.seed}","now":1700000000000,"durable":false});\n`);
    expect(p.ok && closeProgram(p.code, false, { ...env, durable: true })).toMatch(/\}, 0, \{"seed":"(ab)+","now":1700000000000,"durable":true\}\);\n$/);
  });
  it('closeProgram with egress sets flag 2 (3 with an input)', () => {
    const env = { seed: 'cd'.repeat(32), now: 1, durable: false };
    const p = prepareScript('1');
    expect(p.ok && closeProgram(p.code, true, env, true)).toMatch(/\}, 3, \{"seed":"(cd)+","now":1,"durable":false\}\);\n$/);
    expect(p.ok && closeProgram(p.code, false, env, true)).toContain('}, 2, {');
  });
});

describe('the value of a script', () => {
  it('a final string literal is returned, even where it reads as a directive', () => {
    const p = prepareScript('"checked"');
    expect(p.ok && p.code).toBe('__toolexec_start(async function () {\nreturn ("checked");\n}');
    const q = prepareScript("'use strict';\nconst n = 1;\n'last'");
    expect(q.ok && q.code.split('\n')[3]).toBe("return ('last');");
  });
});

describe('preparation is bounded before any limit starts', () => {
  it('nested arrow functions with default parameters prepare in linear time, then a plain script', () => {
    // 2^40 steps for a parser that re-reads each parenthesised list at every `=>`.
    const ts = prepareScript(`const x: number = 1;\nconst f = ${nestedArrows(40)};\nf()`);
    expect(ts.ok && ts.typescript).toBe(true);
    const broken = failureOf(`const f = ${nestedArrows(40)};\nconst y = {;`);
    expect([broken.code, broken.line]).toEqual(['SYNTAX_ERROR', 2]);
    expect(prepareScript('const plain: string = "ok";\nplain').ok).toBe(true);
  });

  it('a script too deep for the parsers is a SYNTAX_ERROR, and TypeScript keeps working after it', () => {
    for (const source of [`let v: number = ${'('.repeat(4000)}1${')'.repeat(4000)}`, `let w = ${'['.repeat(50_000)}`, `let s: number = 1${' + 1'.repeat(30_000)}`]) {
      const e = failureOf(source);
      expect(e.code).toBe('SYNTAX_ERROR');
      expect(e.message).toMatch(/nests too deeply|Unexpected/);
      // The WebAssembly stripper is rebuilt after a trap: the next TypeScript still strips.
      const next = prepareScript(`const after: number = ${Math.random()};\nafter`);
      expect(next.ok && next.typescript).toBe(true);
    }
  });

  it('a script over maxScriptBytes is refused before parsing, naming the limit', () => {
    const e = failureOf('x'.repeat(DEFAULT_MAX_SCRIPT_BYTES + 1));
    expect(e.code).toBe('SCRIPT_TOO_LARGE');
    expect(e.message).toContain('maxScriptBytes');
    // Bytes, not characters: 'é' is two bytes in UTF-8.
    const wide = `"${'é'.repeat(700)}"`;
    const tooWide = prepareScript(wide, { maxScriptBytes: 1000 });
    expect(tooWide.ok || tooWide.error.code).toBe('SCRIPT_TOO_LARGE');
    expect(prepareScript(wide, { maxScriptBytes: 1402 }).ok).toBe(true);
    expect(prepareScript('1 + 1').ok).toBe(true);
  });

  it('a script sent again is not prepared again', () => {
    const source = `const again = ${Math.random()};\nagain`;
    const before = preparationCount();
    for (let i = 0; i < 5; i++) expect(prepareScript(source).ok).toBe(true);
    expect(preparationCount() - before).toBe(1);
  });
});
