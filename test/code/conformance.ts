/**
 * The executor conformance suite: one set of behaviours every runtime must show, run against
 * a real Runner with real local tools. Each runtime adds a one-line test file:
 *
 *   defineConformanceSuite('quickjs');
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Executor } from '../../src/code/executor.js';
import type { ExecuteOptions, ExecuteResult } from '../../src/code/types.js';
import { Runner } from '../../src/run/runner.js';
import type { RuntimeName } from '../../src/runtime/types.js';
import { defineDurableConformance } from './durable-conformance.js';
import { STDLIB_CASES } from './stdlib-cases.js';

const AsyncFunction = Object.getPrototypeOf(async function () {}).constructor as new (body: string) => () => Promise<unknown>;

/** What Node gives for the same script, as the JSON the sandbox would return. */
async function inNode(script: string): Promise<unknown> {
  const value = await new AsyncFunction(script)();
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
}

export interface ConformanceOptions {
  /** Options passed to the runtime loader. */
  runtimeOptions?: Record<string, unknown>;
  /** Scale for time limits of hostile cases (slow runtimes such as Docker need more). */
  timeScale?: number;
}

/** Real local tools with observable side effects, shared by the suite. */
export function makeRunner(): { runner: Runner; events: string[]; aborted: string[] } {
  const runner = new Runner();
  const events: string[] = [];
  const aborted: string[] = [];
  const issues = new Map<number, { number: number; title: string; body: string; labels: string[] }>();
  runner.register({
    namespace: 'math',
    name: 'add',
    description: 'Add two numbers',
    inputSchema: { type: 'object', properties: { a: { type: 'number' }, b: { type: 'number' } }, required: ['a', 'b'], additionalProperties: false },
    outputSchema: { type: 'object', properties: { sum: { type: 'number' } }, required: ['sum'] },
    handler: async ({ a, b }: { a: number; b: number }) => ({ sum: a + b }),
  });
  runner.register({
    namespace: 'github',
    name: 'create_issue',
    description: 'Create an issue in the tracker',
    inputSchema: { type: 'object', properties: { title: { type: 'string' }, body: { type: 'string' } }, required: ['title'] },
    handler: async ({ title, body }: { title: string; body?: string }) => {
      const issue = { number: issues.size + 1, title, body: body ?? '', labels: [] as string[] };
      issues.set(issue.number, issue);
      return issue;
    },
  });
  runner.register({
    namespace: 'github',
    name: 'add_labels',
    description: 'Add labels to an issue',
    inputSchema: { type: 'object', properties: { number: { type: 'integer' }, labels: { type: 'array', items: { type: 'string' } } }, required: ['number', 'labels'] },
    handler: async ({ number, labels }: { number: number; labels: string[] }) => {
      const issue = issues.get(number);
      if (!issue) throw new Error(`no issue #${number}`);
      issue.labels.push(...labels);
      return issue;
    },
  });
  runner.register({
    namespace: 'test',
    name: 'sleep',
    description: 'Waits, and reports when it started and ended (host clock)',
    handler: async ({ ms, tag }: { ms: number; tag?: string }) => {
      const start = performance.now();
      events.push(`start:${tag}`);
      await new Promise((r) => setTimeout(r, ms));
      events.push(`end:${tag}`);
      return { start, end: performance.now(), tag };
    },
  });
  runner.register({
    namespace: 'test',
    name: 'hang',
    description: 'Never answers; records when it is cancelled',
    handler: ({ tag }: { tag?: string }, { signal }) =>
      new Promise((_, reject) => {
        events.push(`hang:${tag}`);
        signal.addEventListener('abort', () => {
          aborted.push(String(tag));
          reject(new Error('aborted'));
        });
      }),
  });
  runner.register({ namespace: 'test', name: 'fail', description: 'Always fails', handler: async () => { throw new Error('boom'); } });
  runner.register({ namespace: 'test', name: 'echo', description: 'Returns its arguments', handler: async (args: unknown) => args });
  runner.register({ namespace: 'test', name: 'nothing', description: 'Returns no value', handler: async () => undefined });
  // A meeting point: each call waits until `n` calls with its key are in progress at once (or 5 s
  // pass), so concurrency is shown without depending on how fast the calls are dispatched.
  const meetings = new Map<string, { arrived: number; release: Array<() => void> }>();
  runner.register({
    namespace: 'test',
    name: 'meet',
    description: 'Waits until n calls with the same key run at once',
    handler: async ({ n, key }: { n: number; key: string }) => {
      const m = meetings.get(key) ?? { arrived: 0, release: [] };
      meetings.set(key, m);
      m.arrived++;
      if (m.arrived >= n) {
        for (const release of m.release.splice(0)) release();
        return { met: true };
      }
      const met = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), 5_000);
        m.release.push(() => {
          clearTimeout(timer);
          resolve(true);
        });
      });
      return { met };
    },
  });
  runner.register({ namespace: 'test', name: 'value', description: 'Returns its argument v as the whole result', handler: async ({ v }: { v: unknown }) => v });
  runner.register({ namespace: 'my-ns', name: 'get.item', description: 'A tool whose ID is not a JavaScript identifier', handler: async () => ({ item: 42 }) });
  return { runner, events, aborted };
}

export function defineConformanceSuite(runtime: RuntimeName, options: ConformanceOptions = {}): void {
  const scale = options.timeScale ?? 1;
  describe(`executor conformance: ${runtime}`, () => {
    let executor: Executor;
    let ctx: ReturnType<typeof makeRunner>;
    beforeAll(async () => {
      ctx = makeRunner();
      executor = new Executor({ runner: ctx.runner, runtime, runtimeOptions: options.runtimeOptions, limits: { timeoutMs: 10_000 * scale } });
      await executor.warm();
    });
    afterAll(async () => {
      await executor?.dispose();
    });
    const exec = (script: string, o?: ExecuteOptions): Promise<ExecuteResult> => executor.execute(script, o);
    const expectOk = async (script: string, o?: ExecuteOptions) => {
      const r = await exec(script, o);
      expect(r.error, JSON.stringify(r.error)).toBeUndefined();
      expect(r.ok).toBe(true);
      return r;
    };
    /** After a hostile case: the very next execution must work. */
    const expectHealthy = async () => {
      const r = await expectOk('const r = await run("math:add", { a: 20, b: 22 }); r.sum');
      expect(r.value).toBe(42);
    };

    describe('globals and results', () => {
      it('returns the last expression statement', async () => {
        expect((await expectOk('const a = 2;\na * 21')).value).toBe(42);
      });
      it('returns an explicit top-level return', async () => {
        expect((await expectOk('if (true) return { a: [1, "x", null] };\n7')).value).toEqual({ a: [1, 'x', null] });
      });
      it('has no value when the script ends without an expression', async () => {
        const r = await expectOk('const a = 1;');
        expect('value' in r).toBe(false);
      });
      it('supports top-level await and run()', async () => {
        expect((await expectOk('const r = await run("math:add", { a: 2, b: 3 });\nr.sum')).value).toBe(5);
      });
      it('calls tools.<ns>.<name>() and maps JavaScript-safe names back to IDs', async () => {
        const r = await expectOk('const a = await tools.math.add({ a: 1, b: 2 });\nconst b = await tools.my_ns.get_item({});\nconst c = await tools["my-ns"]["get.item"]();\n[a.sum, b.item, c.item]');
        expect(r.value).toEqual([3, 42, 42]);
        expect(r.toolCalls.map((c) => c.toolId)).toEqual(['math:add', 'my-ns:get.item', 'my-ns:get.item']);
      });
      it('tool results arrive as the tool gave them: no value stays undefined, null stays null', async () => {
        const r = await expectOk('const out = [];\nfor (const v of [null, 0, "", false, [], {}, [null], "[1]", { id: 1, ok: false }]) out.push(await tools.test.value({ v }));\nconst none = await tools.test.nothing();\nout.push(typeof none, none === undefined);\nout');
        expect(r.value).toEqual([null, 0, '', false, [], {}, [null], '[1]', { id: 1, ok: false }, 'undefined', true]);
      });
      it('searchTools finds tools and describeTool returns schemas', async () => {
        const r = await expectOk('const hits = await searchTools("issue", 5);\nconst d = await describeTool("math:add");\n({ ids: hits.map((h) => h.id), required: d.inputSchema.required, description: d.description })');
        const v = r.value as { ids: string[]; required: string[]; description: string };
        expect(v.ids).toContain('github:create_issue');
        expect(v.required).toEqual(['a', 'b']);
        expect(v.description).toBe('Add two numbers');
      });
      it('describeTool of an unknown tool throws TOOL_NOT_FOUND', async () => {
        const r = await expectOk('try { await describeTool("nope:nothing"); return "no" } catch (e) { return e.code }');
        expect(r.value).toBe('TOOL_NOT_FOUND');
      });
      it('captures console levels and formats objects like Node', async () => {
        const r = await expectOk('console.log("a", 1, { x: [1, "s"], y: { z: null } });\nconsole.info("i");\nconsole.warn("w");\nconsole.error("e");\nconsole.debug("d %d%%", 5);\n1');
        expect(r.logs.map((l) => [l.level, l.message])).toEqual([
          ['log', "a 1 { x: [ 1, 's' ], y: { z: null } }"],
          ['info', 'i'],
          ['warn', 'w'],
          ['error', 'e'],
          ['debug', 'd 5%'],
        ]);
        expect(typeof r.logs[0]!.at).toBe('number');
        expect(r.stats.outputBytes).toBeGreaterThan(0);
      });
      it('accepts TypeScript', async () => {
        const r = await expectOk('interface Sum { sum: number }\nconst r: Sum = (await run("math:add", { a: 1, b: 2 })) as Sum;\nconst f = <T,>(x: T): T => x;\nf<number>(r.sum)');
        expect(r.value).toBe(3);
      });
      it('reports stats and the limits in force with enforcement flags', async () => {
        const r = await expectOk('1', { maxToolCalls: 7, allowedTools: ['math:*'] });
        expect(r.stats.runtime).toBe(runtime);
        expect(r.stats.durationMs).toBeGreaterThan(0);
        expect(r.limits.maxToolCalls).toBe(7);
        expect(r.limits.allowedTools).toEqual(['math:*']);
        expect(r.limits.enforced.timeoutMs).toBe(true);
        expect(r.limits.enforced.maxToolCalls).toBe(true);
        expect(r.limits.enforced.cpuMs).toBe(false);
      });
    });

    describe('errors, with positions in the user script', () => {
      it('SYNTAX_ERROR with line and column', async () => {
        const r = await exec('const a = 1;\nconst b = ;\n');
        expect(r.ok).toBe(false);
        expect(r.error?.code).toBe('SYNTAX_ERROR');
        expect(r.error?.line).toBe(2);
        expect(r.error?.column).toBe(11);
      });
      it('SYNTAX_ERROR in TypeScript input points at the user line', async () => {
        const r = await exec('const a: number = 1;\nconst b: string = ;');
        expect(r.error?.code).toBe('SYNTAX_ERROR');
        expect(r.error?.line).toBe(2);
      });
      it('SYNTAX_ERROR for a script that closes the wrapper', async () => {
        const r = await exec('1 });\n(async function () {');
        expect(r.error?.code).toBe('SYNTAX_ERROR');
      });
      it('RUNTIME_ERROR with line and column', async () => {
        const r = await exec('const a = 1;\nconst o = null;\n  o.x;');
        expect(r.error?.code).toBe('RUNTIME_ERROR');
        expect(r.error?.message).toMatch(/TypeError/);
        expect(r.error?.line).toBe(3);
        expect(r.error?.column).toBeGreaterThanOrEqual(3);
        expect(r.error?.stack).toBeTypeOf('string');
      });
      it('the stack shows user lines only: no prelude frames, no wrapper line', async () => {
        const r = await exec('function inner() {\n  throw new Error("deep");\n}\nfunction outer() { inner(); }\nouter();\n');
        expect(r.error?.code).toBe('RUNTIME_ERROR');
        expect(r.error?.stack).toMatch(/script\.js:2:/);
        expect(r.error?.stack).toMatch(/script\.js:4:/);
        expect(r.error?.stack).not.toMatch(/toolexec-prelude/);
        expect(r.error?.stack).not.toMatch(/script\.js:(0|6):/);
      });
      it('RUNTIME_ERROR after an await, in TypeScript, keeps the user line', async () => {
        const r = await exec('const n: number = 1;\nawait run("math:add", { a: 1, b: 2 });\nthrow new RangeError("bad " + n);');
        expect(r.error?.code).toBe('RUNTIME_ERROR');
        expect(r.error?.message).toBe('RangeError: bad 1');
        expect(r.error?.line).toBe(3);
      });
      it('throwing a non-Error value', async () => {
        const r = await exec('throw { reason: "x" }');
        expect(r.error?.code).toBe('RUNTIME_ERROR');
        expect(r.error?.message).toContain("reason: 'x'");
      });
      it('TOOL_ERROR for an uncaught tool failure, with the tool ID and its code', async () => {
        const r = await exec('await run("test:fail", {});');
        expect(r.error?.code).toBe('TOOL_ERROR');
        expect(r.error?.toolId).toBe('test:fail');
        expect(r.error?.toolCode).toBe('EXECUTION');
        expect(r.error?.message).toContain('boom');
      });
      it('an uncaught tool failure points at the line that made the call', async () => {
        const r = await exec('const a = 1;\nconst b = 2;\nawait tools.math.add({ a: "x", b });');
        expect(r.error?.code).toBe('TOOL_ERROR');
        expect(r.error?.toolCode).toBe('INPUT_VALIDATION');
        expect(r.error?.line).toBe(3);
      });
      it('tool errors are catchable guest Errors carrying code, toolId and failing paths', async () => {
        const r = await expectOk('try { await tools.math.add({ a: 1 }); } catch (e) { return { isError: e instanceof Error, code: e.code, toolId: e.toolId, paths: e.issues.map((i) => i.path), msg: typeof e.message } }');
        expect(r.value).toMatchObject({ isError: true, code: 'INPUT_VALIDATION', toolId: 'math:add', msg: 'string' });
      });
      it('TOOL_NOT_FOUND and INVALID_TOOL_ID are catchable', async () => {
        const r = await expectOk('const codes = [];\nfor (const id of ["nope:nothing", "bad id!", 42]) { try { await run(id, {}); } catch (e) { codes.push(e.code); } }\ncodes');
        expect(r.value).toEqual(['TOOL_NOT_FOUND', 'INVALID_TOOL_ID', 'INVALID_TOOL_ID']);
      });
      it('TIMEOUT for a script that waits on tools past its deadline', async () => {
        const r = await exec('await run("test:hang", { tag: "timeout" });', { timeoutMs: 300 * scale });
        expect(r.error?.code).toBe('TIMEOUT');
        expect(ctx.aborted).toContain('timeout');
      });
      it('TOOL_CALL_LIMIT when a script makes one call too many', async () => {
        const r = await exec('for (let i = 0; i < 10; i++) await run("math:add", { a: i, b: 1 });', { maxToolCalls: 3 });
        expect(r.error?.code).toBe('TOOL_CALL_LIMIT');
        expect(r.toolCalls).toHaveLength(3);
        await expectHealthy();
      });
      it('OUTPUT_LIMIT for a value that is too large', async () => {
        const r = await exec('"x".repeat(5000)', { maxOutputBytes: 1000 });
        expect(r.error?.code).toBe('OUTPUT_LIMIT');
      });
      it('NOT_SERIALIZABLE for a result that is not JSON', async () => {
        for (const s of ['({ f() {} })', '10n', 'const a = {}; a.self = a; a']) {
          const r = await exec(s);
          expect(r.error?.code, s).toBe('NOT_SERIALIZABLE');
        }
      });
      it('non-serializable arguments fail the call inside the guest, catchably', async () => {
        const r = await expectOk('try { await run("test:echo", { f: () => 1 }); } catch (e) { return e.code }');
        expect(r.value).toBe('NOT_SERIALIZABLE');
      });
      it('TOOL_NOT_ALLOWED outside allowedTools, recorded in the ledger', async () => {
        const r = await exec('await run("math:add", { a: 1, b: 1 });\nawait run("github:create_issue", { title: "x" });', { allowedTools: ['math:*'] });
        expect(r.error?.code).toBe('TOOL_NOT_ALLOWED');
        expect(r.toolCalls.map((c) => [c.toolId, c.ok, c.error?.code])).toEqual([
          ['math:add', true, undefined],
          ['github:create_issue', false, 'TOOL_NOT_ALLOWED'],
        ]);
      });
      it('allowedTools also hides tools from searchTools and describeTool', async () => {
        const r = await expectOk('const hits = await searchTools("issue");\nlet d; try { await describeTool("github:create_issue"); d = "visible"; } catch (e) { d = e.code; }\n({ n: hits.length, d })', { allowedTools: ['math:*'] });
        expect(r.value).toEqual({ n: 0, d: 'TOOL_NOT_FOUND' });
      });
      it('CANCELLED through an AbortSignal, cancelling the tool call in flight', async () => {
        const ac = new AbortController();
        const p = exec('await run("test:hang", { tag: "cancel" });', { signal: ac.signal });
        // Abort once the call is in flight: a sandbox may take a while to start (Docker).
        const deadline = Date.now() + 5000 * scale;
        while (!ctx.events.includes('hang:cancel') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
        ac.abort();
        const r = await p;
        expect(r.error?.code).toBe('CANCELLED');
        expect(ctx.aborted).toContain('cancel');
        await expectHealthy();
      });
      it('CANCELLED when the signal is already aborted', async () => {
        const r = await exec('1', { signal: AbortSignal.abort() });
        expect(r.error?.code).toBe('CANCELLED');
      });
      it('maxArgsBytes refuses a huge argument, catchably', async () => {
        const r = await expectOk('try { await run("test:echo", { s: "x".repeat(5000) }); } catch (e) { return [e.code, /maxArgsBytes/.test(e.message)] }', { maxArgsBytes: 1000 });
        expect(r.value).toEqual(['INPUT_VALIDATION', true]);
      });
    });

    describe('oversized bridge traffic', () => {
      it('a message far over every size limit ends the execution with OUTPUT_LIMIT', async () => {
        const r = await exec('await run("test:echo", { s: "x".repeat(300000) });', { maxArgsBytes: 10_000, maxOutputBytes: 100_000, memoryMb: 64 });
        expect(r.error?.code).toBe('OUTPUT_LIMIT');
        await expectHealthy();
      });
      it('a huge single log line is cut at maxOutputBytes', async () => {
        const r = await exec('console.log("y".repeat(200000)); 1', { maxOutputBytes: 50_000 });
        expect(r.error?.code).toBe('OUTPUT_LIMIT');
        expect(r.logs).toEqual([]);
      });
    });

    describe('ledger and concurrency', () => {
      it('records every call with args, outcome and duration', async () => {
        const r = await exec('await run("math:add", { a: 1, b: 2 });\ntry { await run("test:fail", {}); } catch {}\nawait run("test:echo", { x: [1] });\n"done"');
        expect(r.ok).toBe(true);
        expect(r.stats.toolCalls).toBe(3);
        expect(r.toolCalls.map((c) => ({ id: c.toolId, ok: c.ok, code: c.error?.code, args: c.args }))).toEqual([
          { id: 'math:add', ok: true, code: undefined, args: { a: 1, b: 2 } },
          { id: 'test:fail', ok: false, code: 'EXECUTION', args: {} },
          { id: 'test:echo', ok: true, code: undefined, args: { x: [1] } },
        ]);
        for (const c of r.toolCalls) expect(c.durationMs).toBeGreaterThanOrEqual(0);
      });
      it('runs Promise.all calls concurrently on the host', async () => {
        // Each call returns only once all three are in progress at once: run one after another,
        // the first would wait alone until the meeting's 5 s are up.
        const key = `all-${runtime}-${Date.now()}`;
        const r = await expectOk(`const rs = await Promise.all(["a", "b", "c"].map(() => run("test:meet", { n: 3, key: ${JSON.stringify(key)} })));\nrs`, { timeoutMs: 30_000 });
        expect(r.value).toEqual([{ met: true }, { met: true }, { met: true }]);
      });
      it('queues calls beyond maxConcurrentToolCalls', async () => {
        const r = await expectOk('await Promise.all(["a", "b", "c"].map((tag) => run("test:sleep", { ms: 20, tag })))', { maxConcurrentToolCalls: 1 });
        const rs = r.value as { start: number; end: number }[];
        const sorted = [...rs].sort((x, y) => x.start - y.start);
        for (let i = 1; i < sorted.length; i++) expect(sorted[i]!.start).toBeGreaterThanOrEqual(sorted[i - 1]!.end);
      });
      it('runs the orchestration journey', async () => {
        const script = [
          'const issue = await tools.github.create_issue({ title: "Crash: login fails (bug)", body: "steps" });',
          'if (issue.title !== "Crash: login fails (bug)") throw new Error("title mismatch");',
          'const labelled = /bug/i.test(issue.title) ? await tools.github.add_labels({ number: issue.number, labels: ["bug", "triage"] }) : issue;',
          'labelled',
        ].join('\n');
        const r = await expectOk(script);
        expect(r.value).toMatchObject({ title: 'Crash: login fails (bug)', labels: ['bug', 'triage'] });
        expect(r.toolCalls.map((c) => c.toolId)).toEqual(['github:create_issue', 'github:add_labels']);
      });
    });

    describe('hostile scripts: classified, and the next execution works', () => {
      const hostile: [string, string, ExecuteOptions, string[]][] = [
        ['busy loop', 'while (true) {}', { timeoutMs: 300 * scale }, ['TIMEOUT']],
        ['huge native join', 'const a = new Array(3e7).fill("abcdefgh"); a.join("").length', { timeoutMs: 300 * scale, memoryMb: 256 }, ['TIMEOUT', 'MEMORY_LIMIT']],
        ['catastrophic regex', '/^(a+)+$/.test("a".repeat(40) + "b")', { timeoutMs: 300 * scale }, ['TIMEOUT']],
        ['infinite loop in a promise job', 'Promise.resolve().then(() => { for (;;) {} }); await new Promise(() => {});', { timeoutMs: 300 * scale }, ['TIMEOUT']],
        ['endless chain of promise jobs', 'async function spin() { for (;;) await null; } await spin();', { timeoutMs: 300 * scale }, ['TIMEOUT']],
        ['memory bomb', 'const a = []; for (;;) a.push({ i: a.length, s: "x".repeat(100) + a.length });', { memoryMb: 32, timeoutMs: 5000 * scale }, ['MEMORY_LIMIT']],
        // Few allocations, each large: QuickJS's own accounting misses these (see the engine).
        ['memory bomb of large strings', 'const a = []; for (;;) a.push("x".repeat(1e6) + a.length);', { memoryMb: 32, timeoutMs: 5000 * scale }, ['MEMORY_LIMIT']],
        ['big single allocation', 'new Array(1e8).fill(1).length', { memoryMb: 32, timeoutMs: 5000 * scale }, ['MEMORY_LIMIT']],
        ['unbounded recursion', 'function f(n) { return f(n + 1) + 1; } f(0)', { timeoutMs: 5000 * scale }, ['RUNTIME_ERROR']],
        ['output flood', 'for (;;) console.log("flood ".repeat(100));', { maxOutputBytes: 100_000, timeoutMs: 5000 * scale }, ['OUTPUT_LIMIT']],
        ['script that never settles', 'await new Promise(() => {});', { timeoutMs: 200 * scale }, ['TIMEOUT']],
      ];
      for (const [name, script, o, codes] of hostile) {
        it(name, async () => {
          const r = await exec(script, o);
          expect(r.ok).toBe(false);
          expect(codes, JSON.stringify(r.error)).toContain(r.error?.code);
          await expectHealthy();
        });
      }
      it('unbounded recursion is a catchable stack error', async () => {
        const r = await expectOk('function f(n) { return f(n + 1) + 1; }\ntry { f(0); } catch (e) { return e instanceof Error }');
        expect(r.value).toBe(true);
      });
      it('an unhandled rejection does not fail a script that finishes', async () => {
        const r = await expectOk('Promise.reject(new Error("ignored"));\nrun("test:fail", {});\n"finished"');
        expect(r.value).toBe('finished');
        await expectHealthy();
      });
      it('an awaited rejection fails the script with RUNTIME_ERROR', async () => {
        const r = await exec('await Promise.reject(new TypeError("nope"));');
        expect(r.error?.code).toBe('RUNTIME_ERROR');
        expect(r.error?.message).toBe('TypeError: nope');
      });
      it('several hostile executions in parallel all end classified', async () => {
        const rs = await Promise.all([
          exec('while (true) {}', { timeoutMs: 300 * scale }),
          exec('/^(a+)+$/.test("a".repeat(40) + "b")', { timeoutMs: 300 * scale }),
          exec('const r = await run("math:add", { a: 1, b: 1 }); r.sum'),
        ]);
        expect(rs.map((r) => r.error?.code ?? r.value)).toEqual(['TIMEOUT', 'TIMEOUT', 2]);
        await expectHealthy();
      });
    });

    describe('preparation, modules and bounded host work', () => {
      /** `(a = (a = 0) => 0) => 0`, `depth` levels deep. */
      const nestedArrows = (depth: number) => {
        let s = '0';
        for (let i = 0; i < depth; i++) s = `(a = ${s}) => 0`;
        return s;
      };
      it('a final string literal is the value', async () => {
        expect((await expectOk('const n = 2;\n"two calls left"')).value).toBe('two calls left');
        expect((await expectOk("'alone'")).value).toBe('alone');
      });
      it('require() and import() fail with the same message, saying how tools are reached', async () => {
        const r = await expectOk(
          [
            'const out = [];',
            'try { require("node:child_process"); out.push("loaded"); } catch (e) { out.push(e.message); }',
            'try { await import("node:child_process"); out.push("imported"); } catch (e) { out.push(e.message); }',
            'out',
          ].join('\n'),
        );
        const [req, imp] = r.value as string[];
        expect(req).toBe('require("node:child_process") is not available in the sandbox: a script has no modules. Reach tools with `await run("namespace:tool", args)` or `tools.<namespace>.<tool>(args)`, and `return` the result');
        expect(imp).toBe(req!.replace('require', 'import'));
      });
      it('a static import is a SYNTAX_ERROR that says modules are not available', async () => {
        const r = await exec('const a = 1;\nimport { readFile } from "node:fs";');
        expect(r.error?.code).toBe('SYNTAX_ERROR');
        expect(r.error?.message).toMatch(/`import` is not available in the sandbox/);
        expect([r.error?.line, r.error?.column]).toEqual([2, 1]);
      });
      it('text that closes the wrapper is refused and runs nothing', async () => {
        for (const script of ['}, 0, async function () {\nawait run("test:echo", { escaped: 1 });', '});\nrun("test:echo", { escaped: 2 });\n(async function () {']) {
          const r = await exec(script);
          expect(r.error?.code, script).toBe('SYNTAX_ERROR');
          expect(r.error?.line).toBe(1);
          expect(r.toolCalls).toEqual([]);
        }
        await expectHealthy();
      });
      it('TypeScript that took a backtracking parser 2^depth steps prepares at once', async () => {
        const r = await exec(`const depth: number = 40;\nconst f = ${nestedArrows(40)};\n[depth, f()]`);
        expect(r.value).toEqual([40, 0]);
        const broken = await exec(`const g = ${nestedArrows(40)};\nconst y: string = {;`);
        expect([broken.error?.code, broken.error?.line]).toEqual(['SYNTAX_ERROR', 2]);
        await expectHealthy();
      });
      it('SCRIPT_TOO_LARGE before anything runs, naming maxScriptBytes', async () => {
        const r = await exec(`await run("test:echo", { big: 1 });\n// ${'pad '.repeat(100)}`, { maxScriptBytes: 200 });
        expect(r.error?.code).toBe('SCRIPT_TOO_LARGE');
        expect(r.error?.message).toContain('maxScriptBytes is 200');
        expect(r.toolCalls).toEqual([]);
        expect(r.limits.maxScriptBytes).toBe(200);
        expect(r.limits.enforced.maxScriptBytes).toBe(true);
        await expectHealthy();
      });
      it('searchTools and describeTool count against maxToolCalls', async () => {
        const searches = await exec('for (;;) await searchTools("add");', { maxToolCalls: 4 });
        expect(searches.error?.code).toBe('TOOL_CALL_LIMIT');
        const describes = await exec('await run("math:add", { a: 1, b: 2 });\nfor (;;) await describeTool("math:add");', { maxToolCalls: 3 });
        expect(describes.error?.code).toBe('TOOL_CALL_LIMIT');
        expect(describes.error?.message).toMatch(/searchTools and describeTool each count/);
        await expectHealthy();
      });
      it('an oversized search is refused, catchably, and the next search works', async () => {
        const r = await expectOk(
          [
            'const codes = [];',
            'for (const q of ["z".repeat(200000), Array.from({ length: 60 }, (_, i) => "word" + i).join(" ")]) {',
            '  try { await searchTools(q); codes.push("searched"); } catch (e) { codes.push(e.code); }',
            '}',
            'const hits = await searchTools("labels");',
            '[codes, hits.map((h) => h.id)]',
          ].join('\n'),
          { maxOutputBytes: 1_000_000 },
        );
        expect(r.value).toEqual([['INPUT_VALIDATION', 'INPUT_VALIDATION'], ['github:add_labels']]);
        await expectHealthy();
      });
      it('a did-you-mean names only tools the script may call', async () => {
        const script = 'try { await run("math:ad", { a: 1 }); } catch (e) { return e.message }';
        const open = await expectOk(script);
        expect(open.value).toMatch(/did you mean .*github:add_labels/);
        const limited = await expectOk(script, { allowedTools: ['math:*'] });
        expect(limited.value).toMatch(/did you mean math:add\?$/);
        // A JavaScript-safe spelling is mapped back only to a tool the script may call.
        const alias = await exec('await tools.my_ns.get_item({});', { allowedTools: ['math:*'] });
        expect(alias.error?.code).toBe('TOOL_NOT_ALLOWED');
        expect(JSON.stringify(alias)).not.toContain('get.item');
      });
      it('input arrives as data: a __proto__ key stays an own property', async () => {
        const input = JSON.parse('{"__proto__": {"isAdmin": true}, "n": 2}') as Record<string, unknown>;
        const script = 'const own = Object.keys(input);\n[own, input.isAdmin === undefined, Object.getPrototypeOf(input) === Object.prototype, input.n * 21]';
        const r = await expectOk(script, { input });
        expect(r.value).toEqual([['__proto__', 'n'], true, true, 42]);
        const again = await expectOk(script, { input: { n: 1 } });
        expect(again.value).toEqual([['n'], true, true, 21]);
        await expectHealthy();
      });
    });

    describe('values, the ledger and messages stay within what the host can hold', () => {
      it('a result nested deeper than the host re-serialises is NOT_SERIALIZABLE, then a plain script works', async () => {
        const r = await exec('let v = 0; for (let i = 0; i < 500; i++) v = [v]; v');
        expect(r.error?.code).toBe('NOT_SERIALIZABLE');
        expect(r.error?.message).toMatch(/nested more than 128 levels/);
        // Within the bound it is an ordinary value.
        const ok = await expectOk('let v = 0; for (let i = 0; i < 100; i++) v = { v }; JSON.stringify(v).length');
        expect(ok.value).toBeGreaterThan(100);
        await expectHealthy();
      });
      it('tool arguments nested too deep are refused, catchably, and recorded without them', async () => {
        const r = await expectOk('let v = 0; for (let i = 0; i < 500; i++) v = [v]; try { await run("test:echo", { v }); return "ran"; } catch (e) { return e.code }');
        expect(r.value).toBe('INPUT_VALIDATION');
        expect(r.toolCalls).toHaveLength(1);
        expect(r.toolCalls[0]).toMatchObject({ toolId: 'test:echo', ok: false, args: null, error: { code: 'INPUT_VALIDATION' } });
        await expectHealthy();
      });
      it('the ledger counts against maxOutputBytes, refused calls included: arguments that do not fit are left out and marked', async () => {
        const maxOutputBytes = 200_000;
        const r = await expectOk(
          'const big = "x".repeat(20_000);\nfor (let i = 0; i < 30; i++) { try { await run(i % 2 ? "test:echo" : "secret:nothing", { big, i }); } catch (e) {} }\n"done"',
          { maxOutputBytes, allowedTools: ['test:*', 'math:*'] },
        );
        expect(r.value).toBe('done');
        expect(r.toolCalls).toHaveLength(30);
        expect(JSON.stringify(r).length).toBeLessThan(maxOutputBytes + 50_000);
        expect(r.stats.outputBytes).toBeLessThanOrEqual(maxOutputBytes);
        const cut = r.toolCalls.filter((c) => c.argsTruncated !== undefined);
        expect(cut.length).toBeGreaterThan(0);
        for (const c of cut) expect(c).toMatchObject({ args: null, argsTruncated: expect.any(Number) });
        // Refused calls are in the ledger and in the budget too.
        expect(r.toolCalls.filter((c) => c.error?.code === 'TOOL_NOT_ALLOWED')).toHaveLength(15);
        await expectHealthy();
      });
      it('a flood of refused calls ends with OUTPUT_LIMIT once even their records do not fit', async () => {
        const r = await exec('for (let i = 0; i < 5000; i++) { try { await run("secret:nothing_" + i, {}); } catch (e) {} }\n"done"', { maxOutputBytes: 20_000, maxToolCalls: 10_000, allowedTools: ['math:*'] });
        expect(r.error?.code).toBe('OUTPUT_LIMIT');
        expect(JSON.stringify(r).length).toBeLessThan(200_000);
        await expectHealthy();
      });
      it("the script's own error message and stack are cut to a bound, and say so", async () => {
        const r = await exec('throw new Error("m".repeat(3_000_000))', { maxOutputBytes: 8 * 1024 * 1024 });
        expect(r.error?.code).toBe('RUNTIME_ERROR');
        expect(r.error!.message.length).toBeLessThan(20_000);
        expect(r.error!.message).toMatch(/more characters cut/);
        await expectHealthy();
      });
    });

    describe('classification comes from the host, not from what the script says about itself', () => {
      it('a script throwing an "out of memory" InternalError of its own is a RUNTIME_ERROR', async () => {
        const r = await exec('const e = new Error("out of memory"); e.name = "InternalError"; throw e;');
        expect(r.error?.code).toBe('RUNTIME_ERROR');
        const s = await exec('throw new RangeError("out of memory")');
        expect(s.error?.code).toBe('RUNTIME_ERROR');
        await expectHealthy();
      });
      it('a tool error rethrown with another code reports the code the host gave it', async () => {
        const r = await exec('try { await run("test:fail", {}); } catch (e) { e.code = "TOOL_NOT_ALLOWED"; e.toolId = "secret:vault"; throw e; }');
        expect(r.error).toMatchObject({ code: 'TOOL_ERROR', toolId: 'test:fail', toolCode: 'EXECUTION' });
        expect(r.toolCalls.map((c) => c.toolId)).toEqual(['test:fail']);
        await expectHealthy();
      });
      it('TOOL_NOT_ALLOWED only for a call the host refused', async () => {
        const forged = await exec('const e = new Error("no"); e.name = "ToolError"; e.code = "TOOL_NOT_ALLOWED"; e.toolId = "secret:vault"; throw e;');
        expect(forged.error?.code).toBe('RUNTIME_ERROR');
        const real = await exec('await run("github:create_issue", { title: "x" })', { allowedTools: ['math:*'] });
        expect(real.error).toMatchObject({ code: 'TOOL_NOT_ALLOWED', toolId: 'github:create_issue' });
        await expectHealthy();
      });
      it('Object.prototype.toJSON cannot rewrite what the prelude tells the host', async () => {
        const r = await exec('Object.prototype.toJSON = function () { return { op: "done", ok: true, value: "forged" }; };\nconsole.log("a line");\nthrow new Error("real failure")');
        expect(r.error?.code).toBe('RUNTIME_ERROR');
        expect(r.error?.message).toBe('Error: real failure');
        expect(r.logs.map((l) => l.message)).toEqual(['a line']);
        const ok = await exec('Object.prototype.toJSON = function () { return "forged"; };\nconsole.info("still", "here");\n7');
        expect(ok.value).toBe(7);
        expect(ok.logs).toMatchObject([{ level: 'info', message: 'still here' }]);
        await expectHealthy();
      });
    });

    describe('isolation between executions', () => {
      it('globals, prototypes and pending work do not leak', async () => {
        const first = await expectOk(
          [
            'globalThis.leaked = 1;',
            'Object.prototype.polluted = "yes";',
            'Array.prototype.map = () => "hijacked";',
            'JSON.stringify = () => "{}";',
            'run("test:sleep", { ms: 150, tag: "late" }).then(() => console.log("late log"));',
            '"first"',
          ].join('\n'),
        );
        expect(first.value).toBe('first');
        const second = await expectOk('[typeof leaked, typeof ({}).polluted, [1].map((x) => x + 1), JSON.stringify({ a: 1 })]');
        expect(second.value).toEqual(['undefined', 'undefined', [2], '{"a":1}']);
        await new Promise((r) => setTimeout(r, 250 * scale));
        expect(second.logs).toEqual([]);
        expect(first.logs).toEqual([]);
        expect(first.toolCalls[0]?.error?.code).toBe('CANCELLED');
        // The returned result does not change when the abandoned call settles later.
        expect(first.toolCalls[0]?.ok).toBe(false);
      });
    });

    describe('attempts to reach the host through the bridge', () => {
      it('constructor chains on returned values and errors reach only the guest', async () => {
        const r = await expectOk(
          [
            'const v = await run("test:echo", { x: 1 });',
            'const g1 = v.constructor.constructor("return this")();',
            'let g2; try { await run("test:fail", {}); } catch (e) { g2 = e.constructor.constructor("return this")(); }',
            'const p = run("math:add", { a: 1, b: 1 }); const g3 = p.constructor.constructor("return this")(); await p;',
            'const g4 = run.constructor("return this")();',
            'const g5 = tools.math.add.constructor("return this")();',
            'const names = ["process", "module", "Buffer", "__toolexec_send", "__toolexec_receive", "__toolexec_start"];',
            // `require` exists, but is the sandbox's own stub: a host require would load fs.
            'const req = (g) => { try { g.require("fs"); return "loaded"; } catch (e) { return /not available in the sandbox/.test(e.message) ? "stub" : String(e); } };',
            '[g1, g2, g3, g4, g5].map((g) => [...names.map((n) => typeof g[n]), req(g)])',
          ].join('\n'),
        );
        for (const row of r.value as string[][]) expect(row).toEqual([...Array(6).fill('undefined'), 'stub']);
      });
      it('`this` at top level is not a host object', async () => {
        const r = await expectOk('const t = this === undefined ? globalThis : this;\nlet req; try { t.require("fs"); req = "loaded"; } catch (e) { req = e.message.slice(0, 40); }\n[typeof t.process, req]');
        expect(r.value).toEqual(['undefined', 'require("fs") is not available in the sa']);
      });
      it('the prelude survives tampering with the intrinsics it relies on', async () => {
        const r = await expectOk(
          [
            'JSON.parse = () => ({ id: 1, ok: true, value: "forged" });',
            'JSON.stringify = () => "{}";',
            'Map.prototype.get = () => undefined; Map.prototype.has = () => false; Map.prototype.set = function () { return this; };',
            'Function.prototype.call = Function.prototype.apply = Function.prototype.bind = () => { throw new Error("hijacked"); };',
            'Promise.prototype.then = function () { throw new Error("hijacked then"); };',
            'Object.defineProperty = () => { throw new Error("hijacked"); };',
            'const r = await run("math:add", { a: 40, b: 2 });',
            'console.log("still logging", { r });',
            'r.sum',
          ].join('\n'),
        );
        expect(r.value).toBe(42);
        expect(r.logs[0]?.message).toBe('still logging { r: { sum: 42 } }');
      });
      it('the globals cannot be replaced or extended', async () => {
        const r = await expectOk(
          [
            // Sloppy-mode scripts: writes to frozen globals fail silently; strict code gets a TypeError.
            'globalThis.run = () => "mine";',
            'tools.math = 1;',
            'console.log = () => {};',
            'const strict = (() => { "use strict"; try { globalThis.searchTools = null; return "written"; } catch (e) { return e.name; } })();',
            'console.log("real console");',
            'const sum = (await run("math:add", { a: 1, b: 1 })).sum;',
            '[sum, typeof tools.math.add, strict, typeof tools.then, typeof tools.math.then]',
          ].join('\n'),
        );
        expect(r.value).toEqual([2, 'function', 'TypeError', 'undefined', 'undefined']);
        expect(r.logs.map((l) => l.message)).toEqual(['real console']);
      });
      it('a script cannot forge replies, results or log envelopes', async () => {
        const r = await expectOk(
          [
            'const forged = \'{"op":"done","ok":true,"value":"forged"}\';',
            'console.log(forged);',
            'const has = [typeof __toolexec_receive, typeof __toolexec_send, typeof __toolexec_start];',
            '({ has, real: (await run("math:add", { a: 1, b: 1 })).sum })',
          ].join('\n'),
        );
        expect(r.value).toEqual({ has: ['undefined', 'undefined', 'undefined'], real: 2 });
        expect(r.logs[0]?.message).toBe('{"op":"done","ok":true,"value":"forged"}');
      });
      it('tool IDs with control characters are refused', async () => {
        const r = await expectOk('try { await run("math:add\\u0000", { a: 1, b: 1 }); return "ran" } catch (e) { return e.code }');
        expect(['INVALID_TOOL_ID', 'TOOL_NOT_FOUND']).toContain(r.value);
      });
    });

    describe('the standard library, compared with Node', () => {
      for (const [name, script] of Object.entries(STDLIB_CASES)) {
        it(name, { timeout: 30_000 }, async () => {
          const [r, expected] = await Promise.all([expectOk(script), inNode(script)]);
          expect(r.value).toEqual(expected);
        });
      }
      it('a script that touches none of it compiles none of it; globals are writable like web globals', async () => {
        const r = await expectOk('const d = Object.getOwnPropertyDescriptor(globalThis, "URL"); const before = typeof d.get; URL = 5; const after = Object.getOwnPropertyDescriptor(globalThis, "URL"); [before, URL, after.writable, after.enumerable, typeof TextEncoder]');
        expect(r.value).toEqual(['function', 5, true, false, 'function']);
      });
      it('timers count against timeoutMs, and a timer past the deadline never fires', async () => {
        const r = await exec('setTimeout(() => console.log("fired"), 60000); await new Promise((r) => setTimeout(r, 60000));', { timeoutMs: 300 * scale });
        expect(r.error?.code).toBe('TIMEOUT');
        expect(r.logs).toEqual([]);
        await expectHealthy();
      });
      it('timers are not tool calls: no maxToolCalls, no ledger; more than 1000 pending is a RangeError', async () => {
        const r = await expectOk('for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 1));\nconst ids = []; let err;\ntry { for (let i = 0; i < 1001; i++) ids.push(setTimeout(() => {}, 60000)); } catch (e) { err = [e.name, e.message]; }\nfor (const id of ids) clearTimeout(id);\nawait new Promise((r) => setTimeout(r, 1));\nreturn [ids.length, err];', { maxToolCalls: 1 });
        expect(r.value).toEqual([1000, ['RangeError', 'too many timers pending at once (the most is 1000): clear the ones you no longer need, or await them in turn']]);
        expect(r.toolCalls).toEqual([]);
        expect(r.warnings).toBeUndefined();
      });
      it('an uncaught exception in a timer, a microtask or a listener ends the script with it', async () => {
        for (const s of ['setTimeout(() => { throw new TypeError("in timer"); }, 1); await new Promise(() => {});', 'queueMicrotask(() => { throw new TypeError("in timer"); }); await new Promise(() => {});', 'const t = new EventTarget(); t.addEventListener("x", () => { throw new TypeError("in timer"); }); t.dispatchEvent(new Event("x")); await new Promise(() => {});']) {
          const r = await exec(s, { timeoutMs: 5000 * scale });
          expect(r.error?.code, s).toBe('RUNTIME_ERROR');
          expect(r.error?.message).toBe('TypeError: in timer');
        }
      });
      it('a retry with back-off, as a model writes it', async () => {
        const r = await expectOk(`
async function withRetry(fn, { tries = 4, baseMs = 5 } = {}) {
  for (let attempt = 1; ; attempt++) {
    try { return await fn(attempt); } catch (e) {
      if (attempt >= tries) throw e;
      const wait = baseMs * 2 ** (attempt - 1);
      console.log(\`attempt \${attempt} failed (\${e.code}); retrying in \${wait} ms\`);
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}
const url = new URL('https://api.example.com/search');
url.searchParams.set('q', 'café au lait');
const started = performance.now();
const out = await withRetry((attempt) => attempt < 3 ? run('test:fail', {}) : run('test:echo', { url: url.href, attempt }));
return { ...out, waited: performance.now() - started >= 15 };`);
        expect(r.value).toEqual({ url: 'https://api.example.com/search?q=caf%C3%A9+au+lait', attempt: 3, waited: true });
        expect(r.logs.map((l) => l.message)).toEqual(['attempt 1 failed (EXECUTION); retrying in 5 ms', 'attempt 2 failed (EXECUTION); retrying in 10 ms']);
      });
    });

    describe('the standard library hands out nothing of the host', () => {
      it('values, errors and callbacks of every API lead back to the guest only', async () => {
        const r = await expectOk(
          [
            'const out = [];',
            'const probe = (what, v) => { const g = v.constructor.constructor("return this")(); out.push([what, typeof g.process, typeof g.__toolexec_call, typeof g.Buffer, typeof g.require === "function" && /not available/.test((() => { try { g.require("fs"); } catch (e) { return e.message; } })())]); };',
            'const errOf = (f) => { try { f(); } catch (e) { return e; } };',
            'probe("URL", new URL("https://a.test/"));',
            'probe("URL error", errOf(() => new URL("nope")));',
            'probe("searchParams", new URL("https://a.test/?a=1").searchParams);',
            'probe("searchParams entries", [...new URLSearchParams("a=1")][0]);',
            'probe("TextEncoder", new TextEncoder().encode("x"));',
            'probe("TextDecoder error", errOf(() => new TextDecoder("nope")));',
            'probe("atob error", errOf(() => atob("*")));',
            'probe("crypto", crypto.getRandomValues(new Uint8Array(2)));',
            'probe("structuredClone", structuredClone({ a: [1] }).a);',
            'probe("clone error", errOf(() => structuredClone(() => 1)));',
            'probe("AbortSignal reason", AbortSignal.abort().reason);',
            'probe("Intl parts", new Intl.NumberFormat("en").formatToParts(1)[0]);',
            'probe("Intl resolved", new Intl.DateTimeFormat("en").resolvedOptions());',
            'probe("Intl error", errOf(() => new Intl.NumberFormat("en", { style: "bogus" })));',
            'probe("Intl segment", [...new Intl.Segmenter("en").segment("ab")][0]);',
            'probe("toLocaleString", (1).toLocaleString("de").split(""));',
            'probe("performance", performance);',
            // A timer callback gets the guest's own global (or undefined) as `this`, like a browser's.
            'await new Promise((r) => setTimeout(function () { out.push(["timer this", this === undefined || this === globalThis]); probe("timer args", arguments); r(); }, 1));',
            'out.push(["hidden", typeof __toolexec_call, "__toolexec_call" in globalThis]);',
            'out',
          ].join('\n'),
        );
        const rows = r.value as unknown[][];
        for (const row of rows.slice(0, -1)) expect(row, String(row[0])).toEqual(row[0] === 'timer this' ? ['timer this', true] : [row[0], 'undefined', 'undefined', 'undefined', true]);
        expect(rows.at(-1)).toEqual(['hidden', 'undefined', false]);
      });
      it('hostile input to the services is bounded and classified, and the next execution works', async () => {
        // URL everywhere, and Intl where it is a service (QuickJS; the V8 runtimes have their own).
        const r = await expectOk('const big = "a".repeat(5 * 1024 * 1024);\nconst out = [];\nfor (const f of [() => new URL("https://a.test/" + big), () => new Intl.Segmenter("en").segment(big), () => big.localeCompare("b", "en")]) { try { f(); out.push("ran"); } catch (e) { out.push([e.name, /too large/.test(e.message)]); } }\nout', { memoryMb: 128 });
        expect(r.value).toEqual(runtime === 'quickjs' ? Array(3).fill(['RangeError', true]) : [['RangeError', true], 'ran', 'ran']);
        await expectHealthy();
      });
    });

    describe('honest results', () => {
      const cases: [string, string][] = [
        ['return { r: run("math:add", { a: 1, b: 2 }) }', 'value.r is a Promise (of the tool call "math:add"): did you forget await?'],
        ['return { p: Promise.resolve(1) }', 'value.p is a Promise: did you forget await?'],
        ['return { data: { m: new Map([[1, 2]]) } }', 'value.data.m is a Map, which JSON would send as {}: convert it with Object.fromEntries(map) or [...map]'],
        ['return [1, new Set([1])]', 'value[1] is a Set, which JSON would send as {}: convert it with [...set]'],
        ['return { f() {} }', 'value.f is a function: functions cannot leave the sandbox'],
        ['return { "odd key": { n: 10n } }', 'value["odd key"].n is a BigInt, which JSON cannot carry: convert it with Number(n) or String(n)'],
        ['const a = { b: {} }; a.b.c = a; return a', 'value.b.c is a cycle back to value: JSON cannot carry a value that contains itself'],
        ['return { e: new TypeError("boom") }', 'value.e is an Error (TypeError: boom), which JSON would send as {}: return its message, or { name, message }'],
        ['return { bytes: new Uint8Array(2) }', 'value.bytes is a Uint8Array, which JSON would not send as bytes: convert it with Array.from(...)'],
        ['return { it: new Map().keys() }', 'value.it is an iterator, which JSON would send as {}: spread it into an array with [...iterator]'],
        ['return { re: /x/ }', 'value.re is a RegExp, which JSON would send as {}: return String(regexp) or its .source'],
        ['return { q: new URLSearchParams("a=1") }', 'value.q is a URLSearchParams, which JSON would send as {}: return params.toString() or Object.fromEntries(params)'],
      ];
      for (const [script, message] of cases) {
        it(`NOT_SERIALIZABLE: ${message.split(' is ')[0]}`, async () => {
          const r = await exec(script);
          expect(r.error?.code).toBe('NOT_SERIALIZABLE');
          expect(r.error?.message).toBe(`TypeError: the result is not JSON-serializable: ${message}`);
        });
      }
      it('what JSON carries faithfully passes: Dates as ISO text, class instances, shared parts, toJSON', async () => {
        class_: {
          const r = await expectOk('class P { constructor() { this.x = 1; } }\nconst s = { k: 1 };\nreturn { d: new Date(0), p: new P(), a: s, b: s, u: new URL("https://a.test/x"), t: { toJSON() { return "mine"; } } }');
          expect(r.value).toEqual({ d: '1970-01-01T00:00:00.000Z', p: { x: 1 }, a: { k: 1 }, b: { k: 1 }, u: 'https://a.test/x', t: 'mine' });
          expect(r.warnings).toBeUndefined();
        }
      });
      it('tool arguments name the part too, and the call fails catchably', async () => {
        const r = await expectOk('try { await run("test:echo", { list: [1, { when: new Map() }] }); } catch (e) { return [e.code, e.message]; }');
        expect(r.value).toEqual(['NOT_SERIALIZABLE', 'the arguments of test:echo is not JSON-serializable: args.list[1].when is a Map, which JSON would send as {}: convert it with Object.fromEntries(map) or [...map]']);
      });
      it('warnings name calls never awaited or still running, timeouts that never ran, NaN sent as null', async () => {
        const r = await expectOk('run("math:add", { a: 1, b: 2 });\nawait run("math:add", { a: 1, b: 1 });\nrun("test:sleep", { ms: 2000, tag: "left" });\nsetTimeout(() => {}, 60000);\nreturn { avg: 0 / 0 };');
        expect(r.value).toEqual({ avg: null });
        expect(r.warnings).toEqual([
          'Tool call 1 (math:add) was never awaited: the script did not wait for it or use its result. Did you forget await?',
          'Tool call 3 (test:sleep) was still running when the script ended, and was cancelled: the script never awaited it. Did you forget await?',
          '1 setTimeout callback was still pending when the script ended, and never ran. To wait, await a promise: await new Promise((r) => setTimeout(r, ms)).',
          'The result held a number JSON cannot carry (value.avg is NaN); it was sent as null.',
        ]);
        const clean = await expectOk('const a = run("math:add", { a: 1, b: 2 }); const [b] = await Promise.all([run("math:add", { a: 2, b: 2 })]); return (await a).sum + b.sum');
        expect(clean.warnings).toBeUndefined();
        await expectHealthy();
      });
    });

    describe('failures read the same in every runtime, with the logs before them', () => {
      it('TIMEOUT keeps what was logged before the busy loop', async () => {
        const r = await exec('console.log("about to spin");\nwhile (true) {}', { timeoutMs: 300 * scale });
        expect(r.error).toMatchObject({ code: 'TIMEOUT', message: `The script exceeded its time limit of ${300 * scale} ms` });
        expect(r.logs.map((l) => l.message)).toEqual(['about to spin']);
      });
      it('MEMORY_LIMIT keeps what was logged before the allocation', async () => {
        const r = await exec('console.log("about to allocate");\nconst a = []; for (;;) a.push({ i: a.length, s: "x".repeat(100) + a.length });', { memoryMb: 32, timeoutMs: 10_000 * scale });
        expect(r.error).toMatchObject({ code: 'MEMORY_LIMIT', message: 'The script exceeded its memory limit of 32 MB' });
        expect(r.logs.map((l) => l.message)).toEqual(['about to allocate']);
        await expectHealthy();
      });
      it('OUTPUT_LIMIT reads the same', async () => {
        const r = await exec('"x".repeat(5000)', { maxOutputBytes: 1000 });
        expect(r.error?.message).toBe("The script's output (value, logs and the record of its tool calls) exceeded maxOutputBytes (1000 bytes)");
      });
    });
  });
  defineDurableConformance(runtime, options);
}
