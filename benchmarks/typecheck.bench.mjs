// The type check of `execute(script, { typecheck: true })`: a 50-line script against the
// declarations of 30 tools, cold (a new checker: worker start, TypeScript load, lib files
// parsed) and warm (the same checker, a new script text each time, as every execution brings
// its own), for JavaScript and TypeScript. Build first: npx tsc -p tsconfig.build.json
import { Runner } from '../dist/run/runner.js';
import { generateTypes } from '../dist/code/typegen.js';
import { sandboxLibDeclarations } from '../dist/code/sandbox-globals.js';
import { TypeChecker } from '../dist/code/typecheck.js';
import { report, summarize } from './lib.mjs';

/** 30 tools in three namespaces, shaped like real MCP tools (a few properties, half with output schemas). */
export function thirtyTools() {
  const tools = [];
  const entity = { type: 'object', properties: { id: { type: 'string' }, name: { type: 'string' }, tags: { type: 'array', items: { type: 'string' } }, score: { type: 'number' } }, required: ['id', 'name'] };
  for (const ns of ['crm', 'issues', 'files']) {
    for (let i = 0; i < 10; i++) {
      tools.push({
        namespace: ns,
        name: `op-${i}`,
        description: `Operation ${i} of ${ns}: does something useful with the given items and returns what changed.`,
        inputSchema: {
          type: 'object',
          properties: {
            query: { type: 'string', description: 'What to look for' },
            limit: { type: 'integer', minimum: 1, maximum: 100, default: 10 },
            mode: { enum: ['fast', 'thorough'] },
            items: { type: 'array', items: entity },
          },
          required: ['query'],
        },
        ...(i % 2 === 0 ? { outputSchema: { type: 'object', properties: { items: { type: 'array', items: entity }, total: { type: 'integer' } }, required: ['items', 'total'] } } : {}),
        handler: async () => ({ items: [], total: 0 }),
      });
    }
  }
  return tools;
}

/** A 50-line agent script using several of those tools: loops, Promise.all, a helper, error handling. */
export const FIFTY_LINES = `const found = await tools.crm.op_0({ query: "acme", limit: 20 });
const names = found.items.map((e) => e.name);
let total = found.total;
const details = await Promise.all(
  found.items.slice(0, 5).map((e) => tools.crm.op_2({ query: e.id, mode: "fast" })),
);
for (const d of details) {
  total += d.total;
  for (const item of d.items) {
    if (item.tags && item.tags.includes("vip")) names.push(item.name.toUpperCase());
  }
}
function summarize(list) {
  const counts = {};
  for (const n of list) counts[n] = (counts[n] || 0) + 1;
  return Object.entries(counts).sort((a, b) => b[1] - a[1]).slice(0, 10);
}
const top = summarize(names);
const issues = await run("issues:op-4", { query: "open", limit: 50 });
const byScore = issues.items.filter((i) => (i.score ?? 0) > 0.5);
let pages = 0;
let cursor = issues.total;
while (cursor > 0 && pages < 3) {
  const page = await tools.issues.op_6({ query: "open", limit: 10, items: byScore.slice(0, 2) });
  cursor -= page.items.length || cursor;
  pages++;
}
const notes = [];
try {
  const r = await tools.files.op_1({ query: "report.md" });
  notes.push(typeof r === "string" ? r.slice(0, 100) : JSON.stringify(r).slice(0, 100));
} catch (e) {
  notes.push(\`files failed: \${e.code} \${e.message}\`);
}
const extra = await tools.files.op_8({ query: "archive", mode: "thorough" });
const merged = [...byScore, ...extra.items].map((i) => ({ id: i.id, name: i.name, tags: i.tags ?? [] }));
const unique = new Map();
for (const m of merged) if (!unique.has(m.id)) unique.set(m.id, m);
const report = { total, pages, top, notes, items: [...unique.values()].slice(0, 20) };
console.log("found", names.length, "names");
if (report.items.length === 0) console.warn("nothing found");
const ranked = report.items
  .map((i) => ({ ...i, weight: i.tags.length + (i.name.length % 7) }))
  .sort((a, b) => b.weight - a.weight);
const best = ranked[0];
if (best) notes.push(\`best: \${best.name} (\${best.weight})\`);
const when = new Date(0).toISOString();
const final = await run("crm:op-0", { query: "done", limit: 1 });
report.done = final.total;
return report;`;

const runner = new Runner();
for (const t of thirtyTools()) runner.register(t);
const declarations = generateTypes(runner.index, undefined, { docs: false });
const lib = sandboxLibDeclarations('quickjs');
const lines = FIFTY_LINES.split('\n').length;
if (lines !== 50) throw new Error(`the script has ${lines} lines, not 50`);
const ts = FIFTY_LINES.replace('function summarize(list) {', 'function summarize(list: string[]): [string, number][] {').replace('const counts = {};', 'const counts: Record<string, number> = {};').replace('report.done = final.total;', 'Object.assign(report, { done: final.total });');

async function once(checker, script, typescript, i) {
  const t0 = performance.now();
  const r = await checker.check({ script: `${script}\n// execution ${i}`, typescript, declarations, lib, timeoutMs: 60_000 });
  if (r.diagnostics.length) throw new Error(`the benchmark script does not type-check: ${JSON.stringify(r.diagnostics)}`);
  return (performance.now() - t0) * 1000;
}

const coldSamples = [];
for (let i = 0; i < 7; i++) {
  const checker = new TypeChecker();
  coldSamples.push(await once(checker, FIFTY_LINES, false, i));
  await checker.close();
}
const checker = new TypeChecker();
await once(checker, FIFTY_LINES, false, -1);
const warmJs = [];
const warmTs = [];
for (let i = 0; i < 30; i++) {
  warmJs.push(await once(checker, FIFTY_LINES, false, i));
  warmTs.push(await once(checker, ts, true, i));
}
await checker.close();
report(
  'typecheck',
  [
    summarize('cold: new checker, 50-line JS, 30 tools', coldSamples),
    summarize('warm: 50-line JS, 30 tools', warmJs),
    summarize('warm: 50-line TS, 30 tools', warmTs),
  ],
  { notes: [`declarations: ${declarations.length} characters`, 'cold includes starting the worker thread and loading TypeScript'] },
);
