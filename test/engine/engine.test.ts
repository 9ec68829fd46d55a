import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkConfig } from '../../src/config/load-config.js';
import { createEngine, type Engine, type ExecuteToolCall } from '../../src/engine/engine.js';
import { PolicyIndex, ToolPolicy } from '../../src/engine/policy.js';
import { InMemoryIndex } from '../../src/index/in-memory-index.js';
import { ToolError } from '../../src/model/errors.js';

const root = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..');
const tools = join(root, 'test', 'fixtures', 'server', 'tools.mjs');

describe('ToolPolicy and PolicyIndex', () => {
  const policy = new ToolPolicy({ allow: ['a:*', 'b:keep'], deny: ['a:secret*'] });
  const inner = new InMemoryIndex();
  const view = new PolicyIndex(inner, policy);
  for (const id of ['a:one', 'a:two', 'a:three', 'a:secret_x', 'b:keep', 'b:drop', 'c:other']) {
    const [namespace, name] = id.split(':') as [string, string];
    inner.register({ namespace, name, description: `tool ${name} shared words` }, { kind: 'local', name: 'local' });
  }

  it('deny wins over allow; no pattern means everything', () => {
    expect(policy.allows('a:one')).toBe(true);
    expect(policy.allows('a:secret_x')).toBe(false);
    expect(policy.allows('b:drop')).toBe(false);
    expect(new ToolPolicy().allows('anything:at_all')).toBe(true);
    expect(new ToolPolicy().open).toBe(true);
  });

  it('hides excluded tools from get, has, list, namespaces and size', () => {
    expect(view.get('a:secret_x')).toBeUndefined();
    expect(view.has('b:drop')).toBe(false);
    expect(view.get('a:one')?.tool.id).toBe('a:one');
    expect(view.list().map((t) => t.id)).toEqual(['a:one', 'a:three', 'a:two', 'b:keep']);
    expect(view.namespaces()).toEqual([
      { namespace: 'a', count: 3 },
      { namespace: 'b', count: 1 },
    ]);
    expect(view.size).toBe(4);
  });

  it('searches and pages over the visible tools only, with cursors bound to the tool set', () => {
    const first = view.search('shared words', { limit: 3 });
    expect(first.total).toBe(4);
    expect(first.items).toHaveLength(3);
    const second = view.search('shared words', { limit: 3, cursor: first.nextCursor! });
    expect(second.items).toHaveLength(1);
    expect(second.nextCursor).toBeUndefined();
    const ids = [...first.items, ...second.items].map((h) => h.id).sort();
    expect(ids).toEqual(['a:one', 'a:three', 'a:two', 'b:keep']);
    expect(() => view.search('shared words', { limit: 3, cursor: 'garbage' })).toThrow(/Malformed search cursor/);
    inner.register({ namespace: 'a', name: 'four' }, { kind: 'local', name: 'local' });
    expect(() => view.search('shared words', { limit: 3, cursor: first.nextCursor! })).toThrow(/Stale search cursor/);
  });

  it('forwards only visible changes', () => {
    const seen: string[] = [];
    const off = view.onChange((c) => seen.push(c.id));
    inner.register({ namespace: 'a', name: 'secret_y' }, { kind: 'local', name: 'local' });
    inner.register({ namespace: 'a', name: 'five' }, { kind: 'local', name: 'local' });
    off();
    expect(seen).toEqual(['a:five']);
  });
});

describe('createEngine', () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await createEngine(
      checkConfig({ tools: [tools], allow: ['math:*'], limits: { timeoutMs: 3000, maxToolCalls: 5 } }),
      { onWarning: () => {} },
    );
  });
  afterAll(() => engine?.close());

  it('applies the policy to runs', async () => {
    expect((await engine.runner.run('math:add', { a: 1, b: 2 })).structured).toEqual({ sum: 3 });
    const err = await engine.runner.run('secret:launch', {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ToolError);
    expect((err as ToolError).code).toBe('TOOL_NOT_FOUND');
    expect(engine.baseIndex.has('secret:launch')).toBe(true);
    expect(engine.index.has('secret:launch')).toBe(false);
  });

  it('applies the policy to streams too', async () => {
    const events = [];
    for await (const ev of engine.runner.runStream('secret:launch', {})) events.push(ev);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ kind: 'error', data: { code: 'TOOL_NOT_FOUND' } });
  });

  it('executes scripts under the policy and the config limits, reporting each tool call', async () => {
    const calls: [ExecuteToolCall, number][] = [];
    const r = await engine.execute('const a = await run("math:add", { a: 1, b: 1 }); try { await run("secret:launch", {}) } catch (e) { return [a.sum, e.code] }', {
      onToolCall: (call, n) => calls.push([call, n]),
    });
    expect(r.ok).toBe(true);
    expect(r.value).toEqual([2, 'TOOL_NOT_ALLOWED']);
    // A per-call limit cannot exceed the config's.
    const capped = await engine.execute('1', { limits: { timeoutMs: 600_000, maxToolCalls: 2 } });
    expect(capped.limits).toMatchObject({ timeoutMs: 3000, maxToolCalls: 2 });
    expect(calls.map(([c, n]) => [c.toolId, c.ok, n])).toEqual([['math:add', true, 1]]);
    const tooMany = await engine.execute('for (let i = 0; i < 10; i++) await run("math:add", { a: i, b: 0 })');
    expect(tooMany.error?.code).toBe('TOOL_CALL_LIMIT');
  });

  it('refuses an unknown runtime with the known names', async () => {
    await expect(engine.execute('1', { runtime: 'nodejs' })).rejects.toThrow(/Unknown runtime "nodejs"; known runtimes: quickjs, isolated-vm, docker/);
  });

  it('reports an unreachable MCP server as a warning and keeps the rest', async () => {
    const warnings: string[] = [];
    const e2 = await createEngine(checkConfig({ tools: [tools], mcpServers: { ghost: { command: '/nonexistent/toolexec-ghost-server' } } }), {
      onWarning: (w) => warnings.push(w),
    });
    try {
      expect(warnings.join('\n')).toMatch(/MCP server "ghost" is unavailable/);
      expect((await e2.runner.run('math:add', { a: 2, b: 2 })).structured).toEqual({ sum: 4 });
    } finally {
      await e2.close();
      await e2.close();
    }
    await expect(
      createEngine(checkConfig({ mcpServers: { ghost: { command: '/nonexistent/toolexec-ghost-server' } } }), { onServerError: 'throw' }),
    ).rejects.toThrow(/ghost/);
  });
});

describe('createEngine: timeouts of script calls, start-up report', () => {
  const slow = join(root, 'test', 'fixtures', 'engine', 'slow-tools.mjs');

  it("applies toolTimeoutMs to a script's calls: the tool times out, the script goes on", async () => {
    const engine = await createEngine(checkConfig({ tools: [slow], toolTimeoutMs: 200, limits: { timeoutMs: 20_000 } }));
    try {
      const r = await engine.execute('try { await run("slow:wait", { ms: 60000 }); return "finished" } catch (e) { return e.code }');
      expect(r.error).toBeUndefined();
      expect(r.value).toBe('TIMEOUT');
      expect(r.toolCalls[0]).toMatchObject({ toolId: 'slow:wait', ok: false, error: { code: 'TIMEOUT' } });
    } finally {
      await engine.close();
    }
  });

  it("caps toolTimeoutMs by the execution's remaining time: the execution times out", async () => {
    const engine = await createEngine(checkConfig({ tools: [slow], toolTimeoutMs: 600_000, limits: { timeoutMs: 500 } }));
    try {
      const r = await engine.execute('try { await run("slow:wait", { ms: 600000 }); return "finished" } catch (e) { return e.code }');
      expect(r.ok).toBe(false);
      expect(r.error?.code).toBe('TIMEOUT');
    } finally {
      await engine.close();
    }
  });

  it('reports per-server outcomes and tool counts, and knows the secrets of its config', async () => {
    const config = checkConfig(
      { tools: [tools], allow: ['math:*'], mcpServers: { ghost: { command: '/nonexistent/toolexec-ghost-server', env: { KEY: '${GHOST_KEY}' } } } },
      { env: { GHOST_KEY: 'ghost-key-1234567' } },
    );
    const warnings: string[] = [];
    const engine = await createEngine(config, { onWarning: (w) => warnings.push(w) });
    try {
      expect(engine.startup).toMatchObject({ moduleTools: 3, registered: 3, exposed: 2, servers: [{ server: 'ghost', ok: false, tools: [] }] });
      expect(engine.startup.servers[0]!.error).toMatch(/MCP server "ghost" could not be started: command not found/);
      expect(engine.redactor.names).toEqual(['GHOST_KEY']);
      expect(engine.redactor.redact('x ghost-key-1234567')).toBe('x [redacted:GHOST_KEY]');
    } finally {
      await engine.close();
    }
  });
});
