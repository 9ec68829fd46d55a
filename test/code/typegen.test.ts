import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { declarationsWithinBudget, generateTypes, trimDescription } from '../../src/code/typegen.js';
import { Runner } from '../../src/run/runner.js';
import { typecheck } from './tsc.js';
// @ts-expect-error plain JavaScript tool module
import exampleTools from '../../examples/tools.mjs';

const wrapMain = (lines: string[]) => ['async function main() {', ...lines.map((l) => `  ${l}`), '}', 'void main;'].join('\n');

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
  // Spellings the generic run() mapping must get right: hyphens, dots, a leading digit, a
  // collision of two names on one JavaScript spelling, and a version.
  runner.register({ namespace: 'my-server', name: 'get.item', inputSchema: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] }, outputSchema: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] }, handler: async () => ({ name: 'x' }) });
  runner.register({ namespace: '3d', name: 'render', inputSchema: { type: 'object', properties: { scene: { type: 'string' } }, required: ['scene'] }, outputSchema: { type: 'object', properties: { png: { type: 'string' } }, required: ['png'] }, handler: async () => ({ png: '' }) });
  runner.register({ namespace: 'dup', name: 'a-b', inputSchema: { type: 'object', properties: { dash: { type: 'boolean' } }, required: ['dash'] }, handler: async () => 1 });
  runner.register({ namespace: 'dup', name: 'a_b', inputSchema: { type: 'object', properties: { underscore: { type: 'boolean' } }, required: ['underscore'] }, handler: async () => 2 });
  runner.register({ namespace: 'v', name: 'tool', version: '2.0', inputSchema: { type: 'object', properties: { n: { type: 'number' } }, required: ['n'] }, handler: async () => 3 });
  return runner.index;
}

describe('generateTypes', () => {
  const index = makeIndex();
  const decls = generateTypes(index);

  it('declares each tool once, in tools, with one-line JSDoc from its description', () => {
    expect(decls).toContain('declare const tools: {');
    expect(decls).toContain('  github: {');
    expect(decls).toMatch(/\/\*\* Create an issue\. Returns the new issue with its number\. \*\/\n\s+create_issue\(args: \{/);
    for (const name of ['create_issue', 'kitchen_sink', 'get_item', 'render', 'a_b']) expect(decls.match(new RegExp(`\\b${name}\\(args\\??: `, "g")), name).toHaveLength(1);
    // The tools that `tools` cannot reach by their own spelling are declared by ID instead.
    const runOnly = decls.slice(decls.indexOf('interface RunOnly {'), decls.indexOf('\n}\n', decls.indexOf('interface RunOnly {')));
    expect(runOnly).toContain('"dup:a-b"(args: { dash: boolean }): Promise<Unstructured>;');
    expect(runOnly).toContain('"v:tool:2.0"(args: { n: number }): Promise<Unstructured>;');
    expect(runOnly).toContain('"3d:render": Tools["_3d"]["render"];');
    // run() is one generic declaration, not one overload per tool.
    expect(decls.match(/declare function run\b/g)).toHaveLength(1);
    expect(decls).not.toContain('declare function run(toolId: "');
    expect(decls).toContain('bare(args?: Record<string, unknown>): Promise<Unstructured>;');
    expect(decls).toContain('declare function searchTools(query: string, limit?: number)');
    expect(decls).toContain('declare function describeTool(toolId: string)');
    expect(decls).toContain('*\\/ must be escaped');
  });

  it('says what an untyped result is: a single text item arrives as a string', () => {
    expect(decls).toContain('type Unstructured = any;');
    expect(decls).toMatch(/single text item\s*\n?\s*\*?\s*arrives as that string/);
    // A tool with an output schema says its type instead.
    expect(decls).toMatch(/get_item\(args: \{ id: string \}\): Promise<\{ name: string \}>;/);
  });

  it('has the sandbox paragraph: globals present and absent, no modules, no state, no network', () => {
    expect(decls).toMatch(/\/\/ The sandbox: ECMAScript 2023 built-ins/);
    expect(decls).toMatch(/Never available: `import` and `require`/);
    expect(decls).toMatch(/no `fetch`/);
    expect(decls).toMatch(/no variable, global or module state survives between executions/);
  });

  it('trims descriptions to their first paragraph and a budget; constraints become notes', () => {
    expect(trimDescription('First sentence. Second one.\n\nA whole other paragraph.', 100)).toBe('First sentence. Second one.');
    expect(trimDescription('One. Two is a much longer sentence that goes on and on.', 30)).toBe('One. Two is a much longer…');
    expect(trimDescription('Alpha beta gamma. Delta epsilon zeta eta theta.', 30)).toBe('Alpha beta gamma.');
    expect(trimDescription('Alpha beta. Gamma delta epsilon zeta eta theta.', 30)).toBe('Alpha beta. Gamma delta…');
    const runner = new Runner();
    runner.register({
      namespace: 'n',
      name: 'long',
      description: `${'word '.repeat(200)}\n\nSecond paragraph nobody reads.`,
      inputSchema: { type: 'object', properties: { count: { type: 'integer', minimum: 1, maximum: 10, default: 3, description: 'How many' } } },
      handler: async () => 1,
    });
    const text = generateTypes(runner.index, undefined, { toolDocChars: 80 });
    const doc = /\/\*\* (word[^*]*) \*\/\n\s+long\(/.exec(text)![1]!;
    expect(doc.length).toBeLessThanOrEqual(80);
    expect(doc.endsWith('…')).toBe(true);
    expect(text).not.toContain('Second paragraph');
    expect(text).toContain('/** How many (1..10, default 3) */ count?: number;');
    const bare = generateTypes(runner.index, undefined, { docs: false });
    expect(bare).not.toContain('How many');
    expect(bare).not.toContain('word word');
  });

  it('is valid TypeScript and types a correct script, through tools and through run', () => {
    const script = wrapMain([
      'const issue = await tools.github.create_issue({ title: "x" });',
      'const n: number = issue.number;',
      'const labels: string[] = (await tools.github.add_labels({ number: n, labels: ["bug"] })).labels;',
      'const listed = await run("github:list_issues", { label: "bug" });',
      'const state: "open" | "closed" = listed.issues[0]!.state;',
      'await tools.shapes.kitchen_sink({ at: { x: 1, y: 2 }, mode: "fast", tree: { value: "r", children: [{ value: "c" }] }, either: 3, maybe: null, legacy: null, pair: ["a", 1], list: ["a", null], counts: { a: 1 }, "odd-name": true, both: { a: "x", b: 2 } });',
      // Real IDs and their JavaScript spellings are typed alike.
      'const a: string = (await run("my-server:get.item", { id: "1" })).name;',
      'const b: string = (await run("my_server:get_item", { id: "1" })).name;',
      'const c: string = (await tools.my_server.get_item({ id: "1" })).name;',
      'const png: string = (await run("3d:render", { scene: "s" })).png;',
      'const png2: string = (await tools._3d.render({ scene: "s" })).png;',
      'await run("dup:a-b", { dash: true });',
      'await run("dup:a_b", { underscore: true });',
      'await tools.dup.a_b({ underscore: true });',
      'await run("v:tool:2.0", { n: 1 });',
      'await run("shapes:kitchen-sink", { at: { x: 1, y: 2 }, mode: "slow" });',
      'const hits = await searchTools("issue", 3);',
      'const d = await describeTool(hits[0]!.id);',
      // A computed ID is not checked.
      'const id: string = "any:thing";',
      'const other: unknown = await run(id, {});',
      'const tmpl = await run(`github:${id}`, {});',
      'return [labels, state, d.inputSchema, other, tmpl, a, b, c, png, png2];',
    ]);
    expect(typecheck(decls, script)).toEqual([]);
  });

  it('rejects a script that breaks the schemas, through tools and through run', () => {
    const errors = typecheck(
      decls,
      wrapMain([
        'await tools.github.create_issue({ titel: "typo" });',
        'await tools.shapes.kitchen_sink({ at: { x: 1, y: 2 }, mode: "medium" });',
        'await run("my-server:get.item", { id: 1 });',
        'await run("github:create_issu", { title: "x" });',
        'await run("dup:a-b", { underscore: true });',
        'const x: number = (await run("3d:render", { scene: "s" })).png;',
        'await tools.github.no_such_tool({});',
      ]),
    ).join('\n');
    expect(errors).toMatch(/:2: .*titel/);
    expect(errors).toMatch(/:3: .*"medium"/);
    expect(errors).toMatch(/:4: .*'number' is not assignable to type 'string'/);
    expect(errors).toMatch(/:5: .*"github:create_issu".*not assignable to parameter of type 'ToolId'/);
    expect(errors).toMatch(/:6: .*underscore/);
    expect(errors).toMatch(/:7: .*'string' is not assignable to type 'number'/);
    expect(errors).toMatch(/:8: .*no_such_tool/);
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

  it("the README's declaration example is what generateTypes writes for examples/tools.mjs", () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const at = readme.indexOf('**Type declarations for prompts.**');
    const block = /```ts\n([\s\S]*?)\n```/.exec(readme.slice(at))![1]!;
    expect(generateTypes(index, 'github:create_issue', { preamble: false }).trim()).toBe(block);
  });

  it('without the preamble: one tool as describe_tool shows it', () => {
    const one = generateTypes(index, (t) => t.id === 'github:get_issue', { preamble: false });
    expect(one.trim().startsWith('declare const tools: {')).toBe(true);
    expect(one).toContain('get_issue(args: {');
    expect(one).not.toContain('declare function run');
  });
});

describe('declarationsWithinBudget', () => {
  // Three namespaces of ten documented tools each.
  const runner = new Runner();
  for (const ns of ['alpha', 'beta', 'gamma']) {
    for (let i = 0; i < 10; i++) {
      runner.register({
        namespace: ns,
        name: `tool_${i}`,
        description: `Does thing ${i} in ${ns}. ${'It is described at length. '.repeat(ns === 'gamma' ? 8 : 2)}`,
        inputSchema: {
          type: 'object',
          properties: {
            query: { type: 'string', description: 'What to look for, in plain words' },
            limit: { type: 'integer', minimum: 1 },
            sort: { enum: ['newest', 'oldest', 'relevance'] },
            filters: { type: 'object', properties: { owner: { type: 'string' }, label: { type: 'string' }, since: { type: 'string', format: 'date-time' } } },
          },
          required: ['query'],
        },
        outputSchema: { type: 'object', properties: { items: { type: 'array', items: { type: 'string' } } }, required: ['items'] },
        handler: async () => ({ items: [] }),
      });
    }
  }
  const index = runner.index;
  const full = declarationsWithinBudget(index, 1_000_000);

  it('keeps everything when it fits', () => {
    expect(full.levels).toEqual({ full: 30, signature: 0, listed: 0, namespace: 0 });
    expect(full.fits).toBe(true);
    expect(full.text).toContain('Does thing 3 in beta.');
  });

  it('degrades step by step as the budget shrinks: docs, then signatures, then namespaces', () => {
    let previous = full;
    const seen = new Set<string>();
    for (let budget = full.text.length - 1, step = 0; budget > 1_500; budget = Math.floor(budget * 0.93), step++) {
      const r = declarationsWithinBudget(index, budget);
      if (r.fits) expect(r.text.length).toBeLessThanOrEqual(budget);
      // Never more detail for less room (a namespace shown as a count gives room back to the others).
      expect(r.levels.namespace).toBeGreaterThanOrEqual(previous.levels.namespace);
      if (r.levels.namespace === previous.levels.namespace) {
        expect(r.levels.full).toBeLessThanOrEqual(previous.levels.full);
        expect(r.levels.full + r.levels.signature).toBeLessThanOrEqual(previous.levels.full + previous.levels.signature);
      }
      seen.add(Object.entries(r.levels).filter(([, n]) => n > 0).map(([k]) => k).join('+'));
      // Every few steps: still valid TypeScript that scripts can use.
      if (step % 8 === 0) expect(typecheck(r.text, 'void tools; void run;')).toEqual([]);
      previous = r;
    }
    // Mixed levels appear on the way: the cliff is gone.
    expect(seen).toContain('full+signature');
    expect(seen).toContain('signature+listed');
    expect([...seen].some((s) => s.includes('namespace'))).toBe(true);
  });

  it('takes docs from the longest declarations first', () => {
    const r = declarationsWithinBudget(index, full.text.length - 500);
    expect(r.levels.signature).toBeGreaterThan(0);
    // gamma's long descriptions go first; alpha and beta keep all of theirs.
    expect(r.text.match(/Does thing \d in gamma/g)?.length ?? 0).toBeLessThan(10);
    expect(r.text.match(/Does thing \d in (alpha|beta)/g)).toHaveLength(20);
  });

  it('lists what it leaves out, with how to get it', () => {
    const listed = declarationsWithinBudget(index, 4_000);
    expect(listed.text).toMatch(/\/\/ More tools \(their types: describeTool\(id\) in a script, describe_tool outside\):/);
    const counted = declarationsWithinBudget(index, 2_200);
    expect(counted.text).toMatch(/\/\/   (alpha|beta|gamma): 10 tools/);
    // Below the fixed part, the counts stay: dropping them would not make it fit.
    const tiny = declarationsWithinBudget(index, 100);
    expect(tiny.fits).toBe(false);
    expect(tiny.text).toMatch(/alpha: 10 tools/);
  });

  it('refuses a budget that is not a positive number', () => {
    expect(() => declarationsWithinBudget(index, 0)).toThrow(/positive number/);
    expect(() => declarationsWithinBudget(index, Number.NaN)).toThrow(/positive number/);
  });
});
