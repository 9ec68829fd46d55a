/**
 * Durable executions in the conformance suite: the same cases on every runtime (suspend at a
 * gated call, resume with decisions, replay from the journal), against real local tools and a
 * real memory store. Called from `defineConformanceSuite`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Executor } from '../../src/code/executor.js';
import type { ExecuteResult, PendingToolCall } from '../../src/code/types.js';
import type { RuntimeName } from '../../src/runtime/types.js';
import { MemoryExecutionStore } from '../../src/store/memory.js';
import type { ClaimOptions, ClaimResult } from '../../src/store/types.js';
import { makeRunner, type ConformanceOptions } from './conformance.js';

/**
 * A memory store whose next claim hands out the execution with another script: what an operator
 * who edits a stored script, or a deploy that changes how a script runs, does to a journal.
 */
class RewritingStore extends MemoryExecutionStore {
  rewrite: ((script: string) => string) | undefined;
  override async claim(executionId: string, principal: string, owner: string, options?: ClaimOptions): Promise<ClaimResult> {
    const claimed = await super.claim(executionId, principal, owner, options);
    const fn = this.rewrite;
    this.rewrite = undefined;
    return fn ? { ...claimed, record: { ...claimed.record, script: fn(claimed.record.script) } } : claimed;
  }
}

function suspended(r: ExecuteResult): PendingToolCall[] {
  expect(r.error?.code, JSON.stringify(r.error)).toBe('SUSPENDED');
  expect(r.ok).toBe(false);
  expect(r.status).toBe('suspended');
  expect(r.executionId).toMatch(/^[A-Za-z0-9_-]{22}$/);
  return r.pending!;
}

function completed(r: ExecuteResult): ExecuteResult {
  expect(r.error, JSON.stringify(r.error)).toBeUndefined();
  expect(r.status).toBe('completed');
  return r;
}

export function defineDurableConformance(runtime: RuntimeName, options: ConformanceOptions = {}): void {
  const scale = options.timeScale ?? 1;
  describe(`durable executions: ${runtime}`, () => {
    let ctx: ReturnType<typeof makeRunner>;
    let store: RewritingStore;
    let executor: Executor;
    beforeAll(async () => {
      ctx = makeRunner();
      store = new RewritingStore();
      executor = new Executor({ runner: ctx.runner, runtime, runtimeOptions: options.runtimeOptions, store, approve: ['github:create_*'], limits: { timeoutMs: 10_000 * scale } });
      await executor.warm();
    });
    afterAll(async () => {
      await executor?.dispose();
      await store?.close();
    });

    it('a gated call suspends the execution and a resume runs it, to the right value', async () => {
      const script = 'const s = await run("math:add", { a: 1, b: 2 });\nconst issue = await run("github:create_issue", { title: "sum " + s.sum });\nreturn { n: issue.number, title: issue.title }';
      const first = await executor.execute(script);
      const pending = suspended(first);
      expect(pending).toEqual([{ callId: expect.any(String), toolId: 'github:create_issue', args: { title: 'sum 3' }, title: 'Create an issue in the tracker' }]);
      // The gated call did not run; the other one is in the ledger.
      expect(first.toolCalls.map((c) => [c.toolId, c.ok])).toEqual([['math:add', true]]);
      const done = completed(await executor.resume(first.executionId!, { approve: [pending[0]!.callId] }));
      expect(done.value).toEqual({ n: expect.any(Number), title: 'sum 3' });
      expect(done.executionId).toBe(first.executionId);
      expect(done.toolCalls.map((c) => [c.toolId, c.ok, c.replayed ?? false, c.approval?.action])).toEqual([
        ['math:add', true, true, undefined],
        ['github:create_issue', true, false, 'approve'],
      ]);
      expect(done.stats.parts).toBe(2);
      expect(done.stats.replayedCalls).toBe(1);
      // Resuming a finished execution gives its result again.
      expect((await executor.resume(first.executionId!)).value).toEqual(done.value);
    });

    it('three gated calls under Promise.all are one suspension with three pending calls', async () => {
      const first = await executor.execute('const r = await Promise.all(["a", "b", "c"].map((t) => run("github:create_issue", { title: t })));\nreturn r.map((i) => i.title)');
      const pending = suspended(first);
      expect(pending.map((p) => p.args)).toEqual([{ title: 'a' }, { title: 'b' }, { title: 'c' }]);
      expect(new Set(pending.map((p) => p.callId)).size).toBe(3);
      const done = completed(await executor.resume(first.executionId!, { approve: pending.map((p) => p.callId) }));
      expect(done.value).toEqual(['a', 'b', 'c']);
    });

    it('a denied call throws APPROVAL_DENIED into the script, which can catch it', async () => {
      const first = await executor.execute('try {\n  await run("github:create_issue", { title: "x" });\n  return "ran";\n} catch (e) {\n  return [e.name, e.code, e.message];\n}');
      const [p] = suspended(first);
      const done = completed(await executor.resume(first.executionId!, { deny: [{ callId: p!.callId, reason: 'not on a Friday' }] }));
      expect(done.value).toEqual(['ToolError', 'APPROVAL_DENIED', expect.stringContaining('not on a Friday')]);
      expect(done.toolCalls.at(-1)).toMatchObject({ toolId: 'github:create_issue', ok: false, error: { code: 'APPROVAL_DENIED' }, approval: { action: 'deny' } });
      // Uncaught, it ends the script as the tool's error.
      const second = await executor.execute('await run("github:create_issue", { title: "y" });');
      const [q] = suspended(second);
      const failed = await executor.resume(second.executionId!, { deny: [q!.callId] });
      expect(failed.status).toBe('failed');
      expect(failed.error).toMatchObject({ code: 'TOOL_ERROR', toolId: 'github:create_issue', toolCode: 'APPROVAL_DENIED' });
    });

    it('an approval may edit the arguments: the call runs with them, the ledger says so', async () => {
      const first = await executor.execute('const i = await run("github:create_issue", { title: "draft" });\ni.title');
      const [p] = suspended(first);
      const done = completed(await executor.resume(first.executionId!, { approve: [{ callId: p!.callId, args: { title: 'reviewed' } }] }));
      expect(done.value).toBe('reviewed');
      expect(done.toolCalls.at(-1)).toMatchObject({ args: { title: 'reviewed' }, approval: { action: 'approve', edited: true } });
    });

    it('Date.now(), Math.random() and crypto.randomUUID() read before a suspension are the same on replay', async () => {
      const script = [
        'const before = [Date.now(), Math.random(), crypto.randomUUID(), performance.now()];',
        // The values go into the gated call: a replay that saw others would make a different call.
        'const issue = await run("github:create_issue", { title: JSON.stringify(before) });',
        'const after = [Date.now(), Math.random(), crypto.randomUUID()];',
        'return { before, title: issue.title, after };',
      ].join('\n');
      const first = await executor.execute(script);
      const [p] = suspended(first);
      const seen = JSON.parse((p!.args as { title: string }).title) as [number, number, string, number];
      await new Promise((r) => setTimeout(r, 30));
      const done = completed(await executor.resume(first.executionId!, { approve: [p!.callId] }));
      const v = done.value as { before: [number, number, string, number]; title: string; after: [number, number, string] };
      expect(v.before).toEqual(seen);
      expect(v.title).toBe(JSON.stringify(seen));
      expect(v.after[0]).toBeGreaterThanOrEqual(seen[0]);
      expect(v.after[1]).not.toBe(seen[1]);
      expect(v.after[2]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    });

    it('replies keep their first interleaving on replay: then-chains of different depths and a race', async () => {
      const script = [
        'const order = [];',
        'const a = run("test:echo", { n: "a" }).then(async () => { await null; await null; await null; order.push("a"); return run("test:echo", { n: "a2" }); });',
        'const b = run("test:echo", { n: "b" }).then(() => { order.push("b"); return run("test:echo", { n: "b2" }); });',
        'const winner = await Promise.race([a, b]);',
        'order.push("race " + winner.n);',
        'const issue = await run("github:create_issue", { title: order.join(",") });',
        'await Promise.all([a, b]);',
        'return { order, title: issue.title };',
      ].join('\n');
      const first = await executor.execute(script);
      const [p] = suspended(first);
      const done = completed(await executor.resume(first.executionId!, { approve: [p!.callId] }));
      const v = done.value as { order: string[]; title: string };
      expect(v.title).toBe((p!.args as { title: string }).title);
      expect(v.order.join(',').startsWith(v.title)).toBe(true);
    });

    it('timers are replayed from the journal: the clock and a race against a tool call come out the same, without waiting again', async () => {
      const script = [
        'const t0 = Date.now();',
        'await new Promise((r) => setTimeout(r, 200));',
        'const waited = Date.now() - t0;',
        'const winner = await Promise.race([run("test:sleep", { ms: 300, tag: "slow" }).then(() => "tool"), new Promise((r) => setTimeout(() => r("timer"), 20))]);',
        'const issue = await run("github:create_issue", { title: waited + " " + winner });',
        'return { waited, winner, title: issue.title };',
      ].join('\n');
      const first = await executor.execute(script);
      const [p] = suspended(first);
      const done = completed(await executor.resume(first.executionId!, { approve: [p!.callId] }));
      const v = done.value as { waited: number; winner: string; title: string };
      expect(v.title).toBe((p!.args as { title: string }).title);
      expect(v.title).toBe(`${v.waited} ${v.winner}`);
      expect(v.waited).toBeGreaterThanOrEqual(200);
      // Two timers and the race's tool call were answered from the journal; only the approved call ran.
      expect(done.stats.replayedCalls).toBe(3);
      expect(done.toolCalls.filter((c) => !c.replayed).map((c) => c.toolId)).toEqual(['github:create_issue']);
    });

    it('a script that makes other calls after a resume gets REPLAY_DIVERGED naming the call', async () => {
      const first = await executor.execute('const s = await run("math:add", { a: 1, b: 2 });\nawait run("github:create_issue", { title: "t" });\ns.sum');
      const [p] = suspended(first);
      store.rewrite = (script) => script.replace('{ a: 1, b: 2 }', '{ a: 5, b: 2 }');
      const r = await executor.resume(first.executionId!, { approve: [p!.callId] });
      expect(r.status).toBe('failed');
      expect(r.error?.code).toBe('REPLAY_DIVERGED');
      expect(r.error?.message).toMatch(/call #0.*math:add.*arguments differ/);
      // The gated call never ran.
      expect(r.toolCalls.some((c) => c.toolId === 'github:create_issue')).toBe(false);
      const second = await executor.execute('await run("math:add", { a: 1, b: 2 });\nawait run("github:create_issue", { title: "t" });');
      const [q] = suspended(second);
      store.rewrite = (script) => script.replace('run("math:add", { a: 1, b: 2 })', 'run("test:echo", { a: 1 })');
      const r2 = await executor.resume(second.executionId!, { approve: [q!.callId] });
      expect(r2.error?.code).toBe('REPLAY_DIVERGED');
      expect(r2.error?.message).toMatch(/call #0: the script now calls test:echo where its journal recorded a call to math:add/);
    });

    it('logs of the replayed part are not emitted or kept twice; a second suspension works the same way', async () => {
      const script = [
        'console.log("one");',
        'await run("github:create_issue", { title: "first" });',
        'console.log("two");',
        'await run("github:create_issue", { title: "second" });',
        'console.log("three");',
        'return "done";',
      ].join('\n');
      const live: string[] = [];
      const first = await executor.execute(script, { onLog: (l) => live.push(`1:${l.message}`) });
      const [p1] = suspended(first);
      expect(first.logs.map((l) => l.message)).toEqual(['one']);
      const second = await executor.resume(first.executionId!, { approve: [p1!.callId] }, { onLog: (l) => live.push(`2:${l.message}`) });
      const [p2] = suspended(second);
      expect(p2!.args).toEqual({ title: 'second' });
      expect(p2!.callId).not.toBe(p1!.callId);
      expect(second.logs.map((l) => l.message)).toEqual(['one', 'two']);
      expect(second.logs[0]!.at).toBe(first.logs[0]!.at);
      const done = completed(await executor.resume(second.executionId!, { approve: [p2!.callId] }, { onLog: (l) => live.push(`3:${l.message}`) }));
      expect(done.value).toBe('done');
      expect(done.logs.map((l) => l.message)).toEqual(['one', 'two', 'three']);
      expect(live).toEqual(['1:one', '2:two', '3:three']);
      expect(done.stats.parts).toBe(3);
      expect(done.toolCalls.map((c) => [c.args, c.replayed ?? false])).toEqual([
        [{ title: 'first' }, true],
        [{ title: 'second' }, false],
      ]);
      expect(done.stats.durationMs).toBeGreaterThanOrEqual(first.stats.durationMs);
    });

    it('an approval handler decides live: the script waits instead of suspending, and gets every pending call at once', async () => {
      const seen: PendingToolCall[][] = [];
      const r = await executor.execute('const r = await Promise.all([run("github:create_issue", { title: "a" }), run("github:create_issue", { title: "b" })]);\nr.map((i) => i.title)', {
        onApproval: (pending) => {
          seen.push(pending);
          return { approve: [pending[0]!.callId], deny: [{ callId: pending[1]!.callId, reason: 'no b' }] };
        },
      });
      expect(seen.map((s) => s.map((p) => p.args))).toEqual([[{ title: 'a' }, { title: 'b' }]]);
      expect(r.status).toBe('failed');
      expect(r.error).toMatchObject({ code: 'TOOL_ERROR', toolCode: 'APPROVAL_DENIED' });
      const ok = await executor.execute('(await run("github:create_issue", { title: "live" })).title', { onApproval: (p) => ({ approve: p.map((c) => c.callId) }) });
      expect(completed(ok).value).toBe('live');
      expect(ok.stats.parts).toBe(1);
    });

    it('a live approval that takes longer than approvalTimeoutMs suspends the execution instead', async () => {
      let aborted = false;
      const r = await executor.execute('(await run("github:create_issue", { title: "slow" })).title', {
        approvalTimeoutMs: 100,
        onApproval: (_p, { signal }) =>
          new Promise(() => {
            signal.addEventListener('abort', () => (aborted = true));
          }),
      });
      const [p] = suspended(r);
      expect(aborted).toBe(true);
      expect(completed(await executor.resume(r.executionId!, { approve: [p!.callId] })).value).toBe('slow');
    });

    it('only the principal that started an execution can read, decide or resume it', async () => {
      const first = await executor.execute('await run("github:create_issue", { title: "mine" });', { principal: 'alice' });
      const [p] = suspended(first);
      await expect(executor.resume(first.executionId!, { approve: [p!.callId] }, { principal: 'mallory' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
      expect(await store.get(first.executionId!, 'mallory')).toBeUndefined();
      // A model's resume continues only what somebody decided.
      await expect(executor.resume(first.executionId!, undefined, { principal: 'alice', requireDecisions: true })).rejects.toMatchObject({ code: 'UNDECIDED' });
      expect(completed(await executor.resume(first.executionId!, { approve: [p!.callId] }, { principal: 'alice' })).status).toBe('completed');
    });

    it('an ordinary script runs durably to the end, and the journal is bounded', async () => {
      const r = completed(await executor.execute('(await run("math:add", { a: 40, b: 2 })).sum', { durable: true }));
      expect(r.value).toBe(42);
      expect((await store.get(r.executionId!, 'local'))?.status).toBe('completed');
      const small = new Executor({ runner: ctx.runner, runtime, runtimeOptions: options.runtimeOptions, store, durable: true, maxJournalBytes: 4096, limits: { timeoutMs: 10_000 * scale } });
      try {
        const big = await small.execute('for (let i = 0; i < 50; i++) await run("test:echo", { text: "x".repeat(500) });\n1');
        expect(big.error?.code).toBe('OUTPUT_LIMIT');
        expect(big.error?.message).toMatch(/maxJournalBytes/);
        // Ended in the store too (with a small result), so nobody resumes it into the same wall.
        expect((await store.get(big.executionId!, 'local'))?.status).toBe('failed');
        const next = completed(await small.execute('(await run("math:add", { a: 1, b: 1 })).sum'));
        expect(next.value).toBe(2);
      } finally {
        await small.dispose();
      }
    });
  });
}
