import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { generateTypes } from '../../src/code/typegen.js';
import { Runner } from '../../src/run/runner.js';
// @ts-expect-error plain JavaScript tool module
import exampleTools from '../../examples/tools.mjs';

/** Type-checks `script` against the declarations with the real TypeScript compiler; returns the diagnostics. */
function typecheck(decls: string, script: string): string[] {
  const files: Record<string, string> = { 'decls.d.ts': decls, 'script.ts': `export {};\n${script}` };
  const options: ts.CompilerOptions = { strict: true, noEmit: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ES2022, lib: ['lib.es2022.d.ts'], types: [] };
  const host = ts.createCompilerHost(options);
  const orig = host.getSourceFile.bind(host);
  host.getSourceFile = (name, lang, ...rest) => (name in files ? ts.createSourceFile(name, files[name]!, lang) : orig(name, lang, ...rest));
  host.fileExists = (name) => name in files || ts.sys.fileExists(name);
  host.readFile = (name) => files[name] ?? ts.sys.readFile(name);
  const program = ts.createProgram(Object.keys(files), options, host);
  return ts.getPreEmitDiagnostics(program).map((d) => `${d.file?.fileName ?? ''}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
}

function makeIndex() {
  const runner = new Runner();
  for (const tool of exampleTools) runner.register(tool);
  runner.register({
    namespace: 'shapes',
    name: 'kitchen-sink',
    title: 'Every schema feature',
    description: 'Exercises refs, enums, unions, tuples, nullables and maps. */ must be escaped',
    inputSchema: {
      type: 'object',
      $defs: {
        point: { type: 'object', properties: { x: { type: 'number' }, y: { type: 'number' } }, required: ['x', 'y'] },
        tree: { type: 'object', properties: { value: { type: 'string' }, children: { type: 'array', items: { $ref: '#/$defs/tree' } } }, required: ['value'] },
      },
      properties: {
        at: { $ref: '#/$defs/point', description: 'Where' },
        tree: { $ref: '#/$defs/tree' },
        mode: { enum: ['fast', 'slow'] },
        kind: { const: 'fixed' },
        either: { anyOf: [{ type: 'string' }, { type: 'integer', minimum: 0 }] },
        maybe: { type: ['string', 'null'] },
        legacy: { type: 'string', nullable: true },
        pair: { type: 'array', prefixItems: [{ type: 'string' }, { type: 'number' }], items: false },
        list: { type: 'array', items: { anyOf: [{ type: 'string' }, { type: 'null' }] } },
        counts: { type: 'object', additionalProperties: { type: 'integer' } },
        'odd-name': { type: 'boolean' },
        both: { allOf: [{ type: 'object', properties: { a: { type: 'string' } }, required: ['a'] }, { type: 'object', properties: { b: { type: 'number' } } }] },
      },
      required: ['at', 'mode'],
      additionalProperties: false,
    },
    handler: async () => ({}),
  });
  runner.register({ name: 'bare', description: 'A tool without a namespace', handler: async () => 1 });
  return runner.index;
}

describe('generateTypes', () => {
  const index = makeIndex();
  const decls = generateTypes(index);

  it('declares tools by namespace with JSDoc, plus run, searchTools and describeTool', () => {
    expect(decls).toContain('declare const tools: {');
    expect(decls).toContain('  github: {');
    expect(decls).toMatch(/\/\*\*[\s\S]*Create an issue\. Returns the new issue with its number\.[\s\S]*\*\/\n\s+create_issue\(args: \{/);
    expect(decls).toContain('kitchen_sink(args: {');
    expect(decls).toContain('bare(args?: Record<string, unknown>): Promise<unknown>;');
    expect(decls).toContain('declare function searchTools(query: string, limit?: number)');
    expect(decls).toContain('declare function describeTool(toolId: string)');
    expect(decls).toContain('declare function run(toolId: "github:create_issue", args: {');
    expect(decls).toContain('*\\/ must be escaped');
  });

  it('is valid TypeScript and types a correct script', () => {
    const script = [
      'async function main() {',
      '  const issue = await tools.github.create_issue({ title: "x" });',
      '  const n: number = issue.number;',
      '  const labels: string[] = (await tools.github.add_labels({ number: n, labels: ["bug"] })).labels;',
      '  const listed = await run("github:list_issues", { label: "bug" });',
      '  const state: "open" | "closed" = listed.issues[0]!.state;',
      '  await tools.shapes.kitchen_sink({ at: { x: 1, y: 2 }, mode: "fast", tree: { value: "r", children: [{ value: "c" }] }, either: 3, maybe: null, legacy: null, pair: ["a", 1], list: ["a", null], counts: { a: 1 }, "odd-name": true, both: { a: "x", b: 2 } });',
      '  const hits = await searchTools("issue", 3);',
      '  const d = await describeTool(hits[0]!.id);',
      '  const other: unknown = await run("anything:else", {});',
      '  return [labels, state, d.inputSchema, other];',
      '}',
      'void main;',
    ].join('\n');
    expect(typecheck(decls, script)).toEqual([]);
  });

  it('rejects a script that breaks the schemas', () => {
    const errors = typecheck(decls, 'async function main() {\n  await tools.github.create_issue({ titel: "typo" });\n  await tools.shapes.kitchen_sink({ at: { x: 1, y: 2 }, mode: "medium" });\n}\nvoid main;');
    expect(errors.join('\n')).toMatch(/titel/);
    expect(errors.join('\n')).toMatch(/"medium"/);
  });

  it('filters by ID patterns or a predicate', () => {
    const only = generateTypes(index, 'github:*');
    expect(only).toContain('create_issue(');
    expect(only).not.toContain('kitchen_sink');
    const pred = generateTypes(index, (t) => t.id === 'bare');
    expect(pred).toContain('bare(');
    expect(pred).not.toContain('github');
    expect(typecheck(only, 'void tools.github.get_issue;')).toEqual([]);
  });
});
