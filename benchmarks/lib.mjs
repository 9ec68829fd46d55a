// Shared measurement helpers for the benchmark scripts: warm-up, repeated samples,
// medians and percentiles, a printed table, and a JSON file per benchmark.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import os from 'node:os';

const here = dirname(fileURLToPath(import.meta.url));

/**
 * Times `fn` (sync or async). `batch` calls make one sample, so per-op figures are
 * meaningful for sub-microsecond work. Returns per-op statistics in microseconds.
 */
export async function measure(name, fn, { samples = 30, batch = 1, warmup = 5, minTimeMs = 0 } = {}) {
  for (let i = 0; i < warmup; i++) for (let j = 0; j < batch; j++) await fn();
  const perOp = [];
  const started = performance.now();
  for (let s = 0; s < samples || performance.now() - started < minTimeMs; s++) {
    const t0 = performance.now();
    for (let j = 0; j < batch; j++) await fn();
    perOp.push(((performance.now() - t0) * 1000) / batch);
    if (s > samples * 20) break;
  }
  return summarize(name, perOp);
}

/**
 * Times calls that each follow a short idle gap (not timed), as an agent's scripts do: the pool
 * then has its next sandbox built before the call.
 */
export async function measureWithGap(name, fn, { samples, gapMs = 5 }) {
  const perOp = [];
  for (let i = 0; i < samples; i++) {
    await new Promise((r) => setTimeout(r, gapMs));
    const t0 = performance.now();
    await fn();
    perOp.push((performance.now() - t0) * 1000);
  }
  return summarize(name, perOp);
}

/** Same as `measure` but for functions that must not be awaited per call (pure sync loops). */
export function measureSync(name, fn, { samples = 30, batch = 1000, warmup = 3 } = {}) {
  for (let i = 0; i < warmup; i++) for (let j = 0; j < batch; j++) fn();
  const perOp = [];
  for (let s = 0; s < samples; s++) {
    const t0 = performance.now();
    for (let j = 0; j < batch; j++) fn();
    perOp.push(((performance.now() - t0) * 1000) / batch);
  }
  return summarize(name, perOp);
}

export function summarize(name, perOpUs) {
  const sorted = [...perOpUs].sort((a, b) => a - b);
  const q = (p) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
  return { name, samples: sorted.length, medianUs: q(0.5), p10Us: q(0.1), p90Us: q(0.9), minUs: sorted[0] };
}

function fmt(us) {
  if (us >= 1000) return `${(us / 1000).toFixed(2)} ms`;
  return `${us.toFixed(us < 10 ? 3 : 1)} µs`;
}

/**
 * Prints rows as a table and writes `benchmarks/results/<bench>.json`. `ratios` is a list of
 * `[label, numeratorRowName, denominatorRowName]` computed on medians.
 */
export function report(bench, rows, { ratios = [], notes = [] } = {}) {
  const byName = new Map(rows.map((r) => [r.name, r]));
  const computed = ratios
    .filter(([, a, b]) => byName.has(a) && byName.has(b))
    .map(([label, a, b]) => ({ label, numerator: a, denominator: b, ratio: byName.get(a).medianUs / byName.get(b).medianUs }));
  const width = Math.max(...rows.map((r) => r.name.length), 10);
  console.log(`\n## ${bench}`);
  console.log(`${'case'.padEnd(width)}  ${'median'.padStart(11)}  ${'p10'.padStart(11)}  ${'p90'.padStart(11)}  samples`);
  for (const r of rows) {
    console.log(`${r.name.padEnd(width)}  ${fmt(r.medianUs).padStart(11)}  ${fmt(r.p10Us).padStart(11)}  ${fmt(r.p90Us).padStart(11)}  ${r.samples}`);
  }
  for (const c of computed) console.log(`ratio ${c.label}: ${c.ratio.toFixed(2)}x`);
  for (const n of notes) console.log(`note: ${n}`);
  const out = join(here, 'results', `${bench}.json`);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(
    out,
    JSON.stringify(
      { bench, at: new Date().toISOString(), node: process.version, cpus: os.cpus().length, cpu: os.cpus()[0]?.model, rows, ratios: computed, notes },
      null,
      2,
    ),
  );
  return computed;
}

// ---- the workload every executor benchmark runs, so their figures compare ----

/** The tool the executor benchmarks call: math:add with input and output schemas. */
export function mathAddTool(handler = async ({ a, b }) => ({ sum: a + b })) {
  return {
    namespace: 'math',
    name: 'add',
    description: 'Add two numbers',
    inputSchema: { type: 'object', properties: { a: { type: 'number' }, b: { type: 'number' } }, required: ['a', 'b'] },
    outputSchema: { type: 'object', properties: { sum: { type: 'number' } }, required: ['sum'] },
    handler,
  };
}

/** A script making three dependent tool calls. */
export const THREE_CALLS = 'const a = await tools.math.add({ a: 1, b: 2 });\nconst b = await tools.math.add({ a: a.sum, b: 3 });\nconst c = await tools.math.add({ a: b.sum, b: 4 });\nc.sum';
/** A script making 1,000 sequential tool calls. */
export const THOUSAND_CALLS = 'let s = 0;\nfor (let i = 0; i < 1000; i++) s = (await tools.math.add({ a: s, b: 1 })).sum;\ns';
/** A CPU-bound script. */
export const FIB_25 = 'function fib(n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }\nfib(25)';

/**
 * The raw baseline of the QuickJS benchmarks: plain quickjs-emscripten, a fresh runtime and
 * context per run, and a promise bridge `call(..., argsJson)` whose last argument is the JSON of
 * `handler`'s arguments, answered with its result's JSON. Throws unless the script returns `expected`.
 */
export async function rawQuickJS(QuickJS, body, handler, expected) {
  const rt = QuickJS.newRuntime();
  rt.setMemoryLimit(64 * 1024 * 1024);
  const ctx = rt.newContext();
  const call = ctx.newFunction('call', (...handles) => {
    const args = JSON.parse(ctx.getString(handles[handles.length - 1]));
    const d = ctx.newPromise();
    handler(args).then((v) => {
      const s = ctx.newString(JSON.stringify(v));
      d.resolve(s);
      s.dispose();
      d.dispose();
      rt.executePendingJobs();
    });
    return d.handle;
  });
  ctx.setProp(ctx.global, 'call', call);
  call.dispose();
  const promise = ctx.unwrapResult(ctx.evalCode(`(async () => {\n${body}\n})()`, 'raw.js'));
  rt.executePendingJobs();
  const settling = ctx.resolvePromise(promise);
  // resolvePromise attaches its callbacks inside the guest: run them even when nothing is pending.
  rt.executePendingJobs();
  const settled = await settling;
  promise.dispose();
  const value = ctx.dump(ctx.unwrapResult(settled));
  ctx.dispose();
  rt.dispose();
  if (value !== expected) throw new Error(`raw quickjs: unexpected result ${value}`);
}
