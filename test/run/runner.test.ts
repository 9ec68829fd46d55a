import { getEventListeners } from 'node:events';
import { describe, expect, it, vi } from 'vitest';
import { Runner, defineTool } from '../../src/run/runner.js';
import { ToolError } from '../../src/model/errors.js';
import type { StreamEvent } from '../../src/run/types.js';

const add = defineTool({
  namespace: 'math',
  name: 'add',
  description: 'Add two numbers',
  inputSchema: { type: 'object', properties: { a: { type: 'number' }, b: { type: 'number' } }, required: ['a', 'b'], additionalProperties: false },
  outputSchema: { type: 'object', properties: { sum: { type: 'number' } }, required: ['sum'] },
  handler: async ({ a, b }: { a: number; b: number }) => ({ sum: a + b }),
});

async function failure(p: Promise<unknown>): Promise<ToolError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(ToolError);
    return e as ToolError;
  }
  throw new Error('expected the call to fail');
}

function runnerWith(...defs: Parameters<Runner['register']>[0][]): Runner {
  const r = new Runner();
  for (const d of defs) r.register(d);
  return r;
}

describe('Runner.run', () => {
  it('runs a registered local tool and returns a normalized RunResult', async () => {
    const r = runnerWith(add);
    const res = await r.run('math:add', { a: 2, b: 3 });
    expect(res.toolId).toBe('math:add');
    expect(res.backend).toEqual({ kind: 'local', name: 'local' });
    expect(res.structured).toEqual({ sum: 5 });
    expect(res.content).toEqual([{ type: 'text', text: '{"sum":5}' }]);
    expect(res.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('runs a bare local function with no index entry (resolver fallback)', async () => {
    const r = new Runner();
    r.local.register('calculator:add', ({ a, b }: { a: number; b: number }) => a + b);
    const res = await r.run('calculator:add', { a: 1, b: 2 });
    expect(res.structured).toBe(3);
    expect(r.index.has('calculator:add')).toBe(false);
  });

  it('INVALID_TOOL_ID for a malformed ID', async () => {
    const e = await failure(new Runner().run('bad id!', {}));
    expect(e.code).toBe('INVALID_TOOL_ID');
  });

  it('TOOL_NOT_FOUND names the tool and suggests near matches', async () => {
    const r = runnerWith(add);
    const e = await failure(r.run('math:ad', {}));
    expect(e.code).toBe('TOOL_NOT_FOUND');
    expect(e.message).toMatch(/math:ad was not found/);
  });

  it('TOOL_NOT_FOUND suggests only tools the caller may see', async () => {
    const r = runnerWith(
      add,
      { namespace: 'math', name: 'add_secretly', description: 'Adds, for admins', handler: async () => ({}) },
      { namespace: 'vault', name: 'add_key', description: 'Adds a key', handler: async () => ({}) },
    );
    const open = await failure(r.run('math:ad', {}));
    expect(open.message).toMatch(/did you mean .*math:add_secretly/);
    const visible = (id: string) => id === 'math:add';
    const run = await failure(r.run('math:ad', {}, { visible }));
    expect(run.message).toMatch(/math:ad was not found; did you mean math:add\?$/);
    const chain = await failure(r.runChain([{ toolId: 'math:add', args: { a: 1, b: 1 } }, { toolId: 'vault:ad' }], { visible }));
    expect(chain.message).not.toMatch(/vault:add_key|add_secretly/);
    const events: StreamEvent[] = [];
    for await (const ev of r.runStream('math:ad', {}, { visible })) events.push(ev);
    expect(String((events[0]!.data as ToolError).message)).not.toMatch(/add_secretly/);
    // Nothing visible: no suggestion at all, rather than a hidden one.
    const none = await failure(r.run('vault:ad', {}, { visible: () => false }));
    expect(none.message).toBe('Tool vault:ad was not found');
  });

  it('NO_BACKEND when the index entry has no reachable backend', async () => {
    const r = new Runner();
    r.index.register({ namespace: 'gh', name: 'list' }, { kind: 'mcp', name: 'github', tool: 'list' });
    const e = await failure(r.run('gh:list', {}));
    expect(e.code).toBe('NO_BACKEND');
    expect(e.message).toMatch(/mcp:github/);
  });

  it('INPUT_VALIDATION names the failing path and keyword', async () => {
    const r = runnerWith(add);
    const e = await failure(r.run('math:add', { a: 'two', b: 3 }));
    expect(e.code).toBe('INPUT_VALIDATION');
    expect(e.paths).toContain('/a');
    expect(e.message).toMatch(/\/a/);
    expect(e.issues?.[0]?.keyword).toBe('type');
    const missing = await failure(r.run('math:add', { a: 1 }));
    expect(missing.message).toMatch(/b/);
    const notObject = await failure(r.run('math:add', [1, 2] as never));
    expect(notObject.code).toBe('INPUT_VALIDATION');
  });

  it('can skip input validation per call', async () => {
    const r = runnerWith(add);
    const res = await r.run('math:add', { a: 1, b: 2, extra: true }, { validateInput: false });
    expect(res.structured).toEqual({ sum: 3 });
  });

  it('OUTPUT_VALIDATION when a handler breaks its output schema', async () => {
    const r = runnerWith({ ...add, name: 'broken', handler: () => ({ total: 1 }) });
    const e = await failure(r.run('math:broken', { a: 1, b: 2 }));
    expect(e.code).toBe('OUTPUT_VALIDATION');
    expect(e.message).toMatch(/sum/);
  });

  it('EXECUTION wraps a handler error, keeping it as cause', async () => {
    const boom = new Error('disk on fire');
    const r = runnerWith({ namespace: 'x', name: 'fail', handler: () => { throw boom; } });
    const e = await failure(r.run('x:fail', {}));
    expect(e.code).toBe('EXECUTION');
    expect(e.message).toMatch(/disk on fire/);
    expect(e.cause).toBe(boom);
    expect(e.backend).toEqual({ kind: 'local', name: 'local' });
    const thrownString = runnerWith({ namespace: 'x', name: 's', handler: () => Promise.reject('nope') });
    expect((await failure(thrownString.run('x:s', {}))).message).toMatch(/nope/);
  });

  it('a ToolError thrown by a handler keeps its code', async () => {
    const r = runnerWith({ namespace: 'x', name: 'nf', handler: () => { throw new ToolError('TOOL_NOT_FOUND', 'inner'); } });
    const e = await failure(r.run('x:nf', {}));
    expect(e.code).toBe('TOOL_NOT_FOUND');
    expect(e.toolId).toBe('x:nf');
  });

  it('TIMEOUT even when the handler ignores its signal, and the handler sees the abort', async () => {
    let seen: AbortSignal | undefined;
    const r = runnerWith({ namespace: 'x', name: 'slow', handler: (_a: unknown, { signal }: { signal: AbortSignal }) => { seen = signal; return new Promise(() => {}); } });
    const e = await failure(r.run('x:slow', {}, { timeoutMs: 20 }));
    expect(e.code).toBe('TIMEOUT');
    expect(e.retryable).toBe(true);
    expect(seen?.aborted).toBe(true);
  });

  it('CANCELLED through an AbortSignal, before and during the call', async () => {
    const r = runnerWith({ namespace: 'x', name: 'slow', handler: () => new Promise(() => {}) });
    const before = new AbortController();
    before.abort();
    expect((await failure(r.run('x:slow', {}, { signal: before.signal }))).code).toBe('CANCELLED');
    const during = new AbortController();
    const p = r.run('x:slow', {}, { signal: during.signal });
    setTimeout(() => during.abort(), 5);
    expect((await failure(p)).code).toBe('CANCELLED');
  });

  it('calls in flight share one timer and one abort listener per signal, and an earlier deadline still comes first', async () => {
    const gates: (() => void)[] = [];
    const r = runnerWith({ namespace: 'x', name: 'gate', handler: () => new Promise<{ ok: true }>((res) => gates.push(() => res({ ok: true }))) }, { namespace: 'x', name: 'hang', handler: () => new Promise(() => {}) });
    const timers = () => process.getActiveResourcesInfo().filter((x) => x === 'Timeout').length;
    const before = timers();
    const shared = new AbortController();
    const calls = Array.from({ length: 20 }, () => r.run('x:gate', {}, { signal: shared.signal, timeoutMs: 30_000 }));
    // One each was 20 timers and 20 listeners (Node warns of a leak past 10).
    expect(getEventListeners(shared.signal, 'abort')).toHaveLength(1);
    expect(timers() - before).toBeLessThanOrEqual(1);
    // A shorter deadline arriving later re-arms the timer for itself (else it would end with the
    // others' 30 s deadline, past this test's own timeout).
    const short = await failure(r.run('x:hang', {}, { signal: shared.signal, timeoutMs: 40 }));
    expect(short.code).toBe('TIMEOUT');
    for (const g of gates) g();
    expect((await Promise.all(calls)).every((c) => (c.structured as { ok: boolean }).ok)).toBe(true);
    // Nothing in flight: the timer left armed no longer keeps the process alive.
    expect(timers()).toBeLessThanOrEqual(before);
    expect(getEventListeners(shared.signal, 'abort')).toHaveLength(1);
    // Two deadlines in turn: the one after the first firing is armed again.
    const [a, b] = await Promise.all([failure(r.run('x:hang', {}, { timeoutMs: 20 })), failure(r.run('x:hang', {}, { timeoutMs: 60 }))]);
    expect([a.code, b.code]).toEqual(['TIMEOUT', 'TIMEOUT']);
  });

  it('a call started while another expires keeps its own, earlier deadline', async () => {
    let started: Promise<unknown> | undefined;
    const r = runnerWith(
      { namespace: 'x', name: 'hang', handler: () => new Promise(() => {}) },
      {
        namespace: 'x',
        name: 'chain',
        // Starts a short call from its abort listener, that is, from inside the expiry of this one.
        handler: (_a: unknown, { signal }: { signal: AbortSignal }) => {
          signal.addEventListener('abort', () => (started = r.run('x:hang', {}, { timeoutMs: 30 }).catch((e: ToolError) => e.code)));
          return new Promise(() => {});
        },
      },
    );
    // Still in flight when the first expires: the timer's next deadline after it, far off.
    const stop = new AbortController();
    const far = r.run('x:hang', {}, { signal: stop.signal, timeoutMs: 120_000 }).catch((e: ToolError) => e.code);
    expect((await failure(r.run('x:chain', {}, { timeoutMs: 20 }))).code).toBe('TIMEOUT');
    expect(await started).toBe('TIMEOUT');
    stop.abort();
    expect(await far).toBe('CANCELLED');
  });

  it('aborting a shared signal cancels every call in flight on it, and only those', async () => {
    const r = runnerWith({ namespace: 'x', name: 'hang', handler: () => new Promise(() => {}) }, add);
    const shared = new AbortController();
    const other = new AbortController();
    expect((await r.run('math:add', { a: 1, b: 2 }, { signal: shared.signal })).structured).toEqual({ sum: 3 });
    const onShared = [r.run('x:hang', {}, { signal: shared.signal }), r.run('x:hang', {}, { signal: shared.signal })];
    const onOther = r.run('x:hang', {}, { signal: other.signal, timeoutMs: 50 });
    shared.abort(new Error('stop'));
    const codes = await Promise.all(onShared.map((p) => failure(p).then((e) => e.code)));
    expect(codes).toEqual(['CANCELLED', 'CANCELLED']);
    expect((await failure(onOther)).code).toBe('TIMEOUT');
    expect((await failure(r.run('x:hang', {}, { signal: shared.signal }))).message).toMatch(/cancelled before it started/);
  });

  it('refuses a non-positive timeout', async () => {
    const r = runnerWith(add);
    await expect(r.run('math:add', { a: 1, b: 2 }, { timeoutMs: 0 })).rejects.toThrow(/timeoutMs/);
  });

  it('prefers local over provider over mcp, and a custom selector can override', async () => {
    const calls: string[] = [];
    const r = new Runner();
    r.addProvider('prov', { callTool: (_p, id) => { calls.push(`provider:${id}`); return { from: 'provider' }; } });
    r.local.register('t:x', () => { calls.push('local'); return { from: 'local' }; });
    r.index.register({ namespace: 't', name: 'x' }, [{ kind: 'provider', name: 'prov' }, { kind: 'local', name: 'local' }]);
    expect((await r.run('t:x', {})).backend.kind).toBe('local');

    const r2 = new Runner({ index: r.index, selectBackend: (bs) => bs.find((b) => b.kind === 'provider') });
    r2.addProvider('prov', { callTool: () => ({ from: 'provider' }) });
    r2.local.register('t:x', () => ({ from: 'local' }));
    expect((await r2.run('t:x', {})).structured).toEqual({ from: 'provider' });
  });

  it('normalizes provider results shaped like MCP CallToolResults, isError included', async () => {
    const r = new Runner();
    r.addProvider('p', {
      callTool: (_pid, id) =>
        id === 'p:err'
          ? { content: [{ type: 'text', text: 'quota exceeded' }], isError: true }
          : id === 'p:json'
            ? { content: [{ type: 'text', text: '{"n":1}' }] }
            : { content: [{ type: 'text', text: 'x' }], structuredContent: { ok: true } },
    });
    for (const name of ['err', 'json', 'sc']) r.index.register({ namespace: 'p', name }, { kind: 'provider', name: 'p' });
    expect((await r.run('p:sc', {})).structured).toEqual({ ok: true });
    expect((await r.run('p:json', {})).structured).toEqual({ n: 1 });
    const e = await failure(r.run('p:err', {}));
    expect(e.code).toBe('EXECUTION');
    expect(e.message).toMatch(/quota exceeded/);
  });

  it('emits call events and runs middleware around every call', async () => {
    const r = runnerWith(add);
    const events: string[] = [];
    r.onCall((ev) => events.push(`${ev.phase}:${ev.toolId}:${ev.ok ?? ''}`));
    r.useMiddleware(async (call, next) => {
      events.push(`mw:${call.toolId}`);
      return next();
    });
    await r.run('math:add', { a: 1, b: 1 });
    await r.run('math:add', { a: 'x' } as never).catch(() => {});
    expect(events).toEqual(['mw:math:add', 'start:math:add:', 'end:math:add:true', 'mw:math:add', 'start:math:add:', 'end:math:add:false']);
  });

  it('a throwing observer does not change the outcome', async () => {
    const r = runnerWith(add);
    r.onCall(() => { throw new Error('observer bug'); });
    expect((await r.run('math:add', { a: 1, b: 1 })).structured).toEqual({ sum: 2 });
  });

  it('refuses use after dispose and disposes backends', async () => {
    const dispose = vi.fn();
    const r = new Runner({ backends: [{ kind: 'provider', name: 'p', call: async () => ({ structured: 1, content: [] }), dispose }] });
    await r.dispose();
    expect(dispose).toHaveBeenCalledOnce();
    await expect(r.run('a:b', {})).rejects.toThrow(/disposed/);
  });
});

describe('Runner.runChain', () => {
  function chainRunner() {
    const r = new Runner();
    r.register({ namespace: 'gh', name: 'create_issue', inputSchema: { type: 'object', properties: { title: { type: 'string' } }, required: ['title'] }, handler: ({ title }: { title: string }) => ({ number: 42, title, labels: [] as string[] }) });
    r.register({ namespace: 'gh', name: 'get', inputSchema: { type: 'object', properties: { number: { type: 'integer' } }, required: ['number'] }, handler: ({ number }: { number: number }) => ({ number, state: 'open' }) });
    r.register({ namespace: 'gh', name: 'echo', handler: (args: unknown) => args });
    r.register({ namespace: 'gh', name: 'fail', handler: () => { throw new Error('server said no'); } });
    return r;
  }

  it('feeds results forward with templates; a whole-string template keeps its type', async () => {
    const r = chainRunner();
    const out = await r.runChain([
      { toolId: 'gh:create_issue', args: { title: 'Crash on start' } },
      { toolId: 'gh:get', args: { number: '{{prev.number}}' } },
      { toolId: 'gh:echo', args: { text: 'Issue #{{steps.0.number}} is {{prev.state}}', first: '{{steps[0].title}}', obj: 'x {{steps.1}}' } },
    ]);
    expect(out.steps).toHaveLength(3);
    expect(out.steps[1]!.args).toEqual({ number: 42 });
    expect(out.final.structured).toEqual({ text: 'Issue #42 is open', first: 'Crash on start', obj: 'x {"number":42,"state":"open"}' });
  });

  it('usePrevious puts the previous structured value at args.previous', async () => {
    const r = chainRunner();
    const out = await r.runChain([
      { toolId: 'gh:create_issue', args: { title: 't' } },
      { toolId: 'gh:echo', usePrevious: true, args: { keep: 1 } },
    ]);
    expect(out.final.structured).toEqual({ keep: 1, previous: { number: 42, title: 't', labels: [] } });
  });

  it('stops at the failing step and carries the partial results', async () => {
    const r = chainRunner();
    const e = await failure(r.runChain([
      { toolId: 'gh:create_issue', args: { title: 't' } },
      { toolId: 'gh:fail', args: {} },
      { toolId: 'gh:echo', args: {} },
    ]));
    expect(e.code).toBe('EXECUTION');
    expect(e.message).toMatch(/step 1 \(gh:fail\).*server said no/);
    const steps = e.data?.steps as { ok: boolean }[];
    expect(steps.map((s) => s.ok)).toEqual([true, false]);
    expect(e.data?.failedStep).toBe(1);
  });

  it('a template pointing at nothing fails clearly', async () => {
    const e = await failure(chainRunner().runChain([
      { toolId: 'gh:create_issue', args: { title: 't' } },
      { toolId: 'gh:get', args: { number: '{{prev.nope}}' } },
    ]));
    expect(e.code).toBe('INPUT_VALIDATION');
    expect(e.message).toMatch(/prev has no property "nope"/);
  });

  it('is cancelled between steps', async () => {
    const r = chainRunner();
    const ac = new AbortController();
    // Abort once step 0 has finished: the chain must not start step 1.
    r.onCall((ev) => { if (ev.phase === 'end' && ev.toolId === 'gh:create_issue') ac.abort(); });
    const started: string[] = [];
    r.onCall((ev) => { if (ev.phase === 'start') started.push(ev.toolId); });
    const e = await failure(r.runChain([{ toolId: 'gh:create_issue', args: { title: 't' } }, { toolId: 'gh:echo' }], { signal: ac.signal }));
    expect(e.code).toBe('CANCELLED');
    const steps = e.data?.steps as { ok: boolean }[];
    expect(steps.map((s) => s.ok)).toEqual([true, false]);
    expect(started).toEqual(['gh:create_issue']);
  });

  it('refuses an empty chain', async () => {
    expect((await failure(new Runner().runChain([]))).code).toBe('INPUT_VALIDATION');
  });
});

describe('Runner.runStream', () => {
  async function collect(it: AsyncIterable<StreamEvent>): Promise<StreamEvent[]> {
    const out: StreamEvent[] = [];
    for await (const ev of it) out.push(ev);
    return out;
  }

  it('streams chunks from an async-generator handler, then done', async () => {
    const r = new Runner();
    r.register({ namespace: 's', name: 'count', handler: async function* ({ n }: { n: number }) { for (let i = 0; i < n; i++) yield { i }; return { total: n }; } });
    const events = await collect(r.runStream('s:count', { n: 3 }));
    expect(events.map((e) => e.kind)).toEqual(['chunk', 'chunk', 'chunk', 'done']);
    expect(events[1]!.data).toEqual({ i: 1 });
    expect((events[3]!.data as { structured: unknown }).structured).toEqual({ total: 3 });
    // Without streaming the same handler's chunks are collected.
    expect((await r.run('s:count', { n: 2 })).structured).toEqual({ total: 2 });
  });

  it('STREAM_NOT_SUPPORTED for a plain handler', async () => {
    const r = runnerWith(add);
    const events = await collect(r.runStream('math:add', { a: 1, b: 2 }));
    expect(events).toHaveLength(1);
    expect(events[0]!.kind).toBe('error');
    expect((events[0]!.data as ToolError).code).toBe('STREAM_NOT_SUPPORTED');
  });

  it('streams from a provider and reports errors as an error event', async () => {
    const r = new Runner();
    r.addProvider('p', { callTool: () => 1, async *streamTool() { yield 'a'; yield 'b'; } });
    r.index.register({ namespace: 'p', name: 's' }, { kind: 'provider', name: 'p' });
    const events = await collect(r.runStream('p:s', {}));
    expect(events.map((e) => e.kind)).toEqual(['chunk', 'chunk', 'done']);
    const bad = await collect(r.runStream('nope:x', {}));
    expect((bad[0]!.data as ToolError).code).toBe('TOOL_NOT_FOUND');
  });

  it('passes through middleware like run(): a refusing middleware keeps a tool from streaming', async () => {
    const r = new Runner();
    let ran = false;
    r.register({ namespace: 'secret', name: 'feed', handler: async function* () { ran = true; yield 'leaked'; return 'done'; } });
    r.register({ namespace: 'open', name: 'feed', handler: async function* () { yield 'a'; return 'b'; } });
    const seen: string[] = [];
    r.useMiddleware((call, next) => {
      seen.push(`${call.op}:${call.toolId}`);
      return call.toolId.startsWith('secret:') ? Promise.reject(new ToolError('TOOL_NOT_FOUND', `Tool ${call.toolId} is hidden`, { toolId: call.toolId, op: call.op })) : next();
    });
    const denied = await collect(r.runStream('secret:feed', {}));
    expect(denied.map((e) => e.kind)).toEqual(['error']);
    expect(denied[0]!.data).toMatchObject({ code: 'TOOL_NOT_FOUND', op: 'stream', toolId: 'secret:feed' });
    expect(ran).toBe(false);
    const allowed = await collect(r.runStream('open:feed', {}));
    expect(allowed.map((e) => e.kind)).toEqual(['chunk', 'done']);
    expect(seen).toEqual(['stream:secret:feed', 'stream:open:feed']);
  });

  it("a middleware's next() resolves with the stream's final result, and what it returns is the done event", async () => {
    const r = new Runner();
    r.register({ namespace: 's', name: 'count', handler: async function* () { yield 1; yield 2; return { total: 2 }; } });
    const order: string[] = [];
    r.useMiddleware(async (_call, next) => {
      const result = await next();
      order.push(`after next: ${JSON.stringify(result.structured)}`);
      return { ...result, structured: { total: 2, audited: true } };
    });
    const events: StreamEvent[] = [];
    for await (const ev of r.runStream('s:count', {})) {
      order.push(ev.kind);
      events.push(ev);
    }
    // Chunks reach the consumer while the stream runs, before the middleware sees the end.
    expect(order).toEqual(['chunk', 'chunk', 'after next: {"total":2}', 'done']);
    expect((events.at(-1)!.data as { structured: unknown }).structured).toEqual({ total: 2, audited: true });
  });

  it('a middleware that fails after next() turns the stream into an error event', async () => {
    const r = new Runner();
    r.register({ namespace: 's', name: 'one', handler: async function* () { yield 1; return 1; } });
    r.useMiddleware(async (_call, next) => {
      await next();
      throw new Error('audit log unreachable');
    });
    const events = await collect(r.runStream('s:one', {}));
    expect(events.map((e) => e.kind)).toEqual(['chunk', 'error']);
    expect(events[1]!.data).toMatchObject({ code: 'EXECUTION', message: expect.stringMatching(/audit log unreachable/) });
  });

  it('an invalid ID and a disposed runner end the stream with one error event', async () => {
    const r = new Runner();
    expect((await collect(r.runStream(42 as never, {})))[0]!.data).toMatchObject({ code: 'INVALID_TOOL_ID' });
    await r.dispose();
    const after = await collect(r.runStream('a:b', {}));
    expect(after.map((e) => e.kind)).toEqual(['error']);
    expect((after[0]!.data as Error).message).toMatch(/disposed/);
  });

  it('times out a stalled stream', async () => {
    const r = new Runner();
    r.register({ namespace: 's', name: 'stall', handler: async function* () { yield 1; await new Promise(() => {}); } });
    const events = await collect(r.runStream('s:stall', {}, { timeoutMs: 30 }));
    expect(events.map((e) => e.kind)).toEqual(['chunk', 'error']);
    expect((events[1]!.data as ToolError).code).toBe('TIMEOUT');
  });
});
