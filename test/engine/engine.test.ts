import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkConfig } from '../../src/config/load-config.js';
import { createEngine, type Engine } from '../../src/engine/engine.js';
import type { ToolCallRecord } from '../../src/code/types.js';
import { ToolError } from '../../src/model/errors.js';

const root = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..');
const tools = join(root, 'test', 'fixtures', 'server', 'tools.mjs');

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

  it("a did-you-mean never names a tool the config's patterns hide", async () => {
    const err = (await engine.runner.run('math:launch', {}).catch((e: unknown) => e)) as ToolError;
    expect(err.code).toBe('TOOL_NOT_FOUND');
    expect(err.message).not.toContain('secret');
    const r = await engine.execute('try { await run("math:launch", {}); } catch (e) { return e.message }');
    expect(r.value).toMatch(/math:launch was not found/);
    expect(r.value).not.toContain('secret');
  });

  it('applies the policy to streams too', async () => {
    const events = [];
    for await (const ev of engine.runner.runStream('secret:launch', {})) events.push(ev);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ kind: 'error', data: { code: 'TOOL_NOT_FOUND' } });
  });

  it('executes scripts under the policy and the config limits, reporting each tool call as it ends', async () => {
    const calls: [ToolCallRecord, number][] = [];
    const r = await engine.execute('const a = await run("math:add", { a: 1, b: 1 }); try { await run("secret:launch", {}) } catch (e) { return [a.sum, e.code] }', {
      onToolCall: (call, n) => calls.push([call, n]),
    });
    expect(r.ok).toBe(true);
    // A hidden tool does not exist for the script, as for search and describe.
    expect(r.value).toEqual([2, 'TOOL_NOT_FOUND']);
    // The progress reports are the executor's ledger entries themselves, in order.
    expect(calls.map(([c, n]) => [c.toolId, c.ok, c.error?.code, n])).toEqual([
      ['math:add', true, undefined, 1],
      ['secret:launch', false, 'TOOL_NOT_FOUND', 2],
    ]);
    expect(calls.map(([c]) => c)).toEqual(r.toolCalls);
    // A per-call limit cannot exceed the config's.
    const capped = await engine.execute('1', { limits: { timeoutMs: 600_000, maxToolCalls: 2 } });
    expect(capped.limits).toMatchObject({ timeoutMs: 3000, maxToolCalls: 2 });
    // The config's allow patterns are the policy, not the script's allowedTools.
    expect(capped.limits.allowedTools).toBeUndefined();
    const tooMany = await engine.execute('for (let i = 0; i < 10; i++) await run("math:add", { a: i, b: 0 })');
    expect(tooMany.error?.code).toBe('TOOL_CALL_LIMIT');
  });

  it('a throwing onToolCall listener changes nothing in the execution', async () => {
    const r = await engine.execute('(await run("math:add", { a: 2, b: 3 })).sum', {
      onToolCall: () => {
        throw new Error('listener bug');
      },
    });
    expect(r).toMatchObject({ ok: true, value: 5 });
    expect(r.toolCalls).toHaveLength(1);
  });

  it("a caller's allowedTools still narrows the exposed tools, with TOOL_NOT_ALLOWED", async () => {
    const r = await engine.execute('try { await run("math:add", { a: 1, b: 1 }) } catch (e) { return e.code }', { limits: { allowedTools: ['math:fail*'] } });
    expect(r.value).toBe('TOOL_NOT_ALLOWED');
  });

  it('keeps one executor per runtime, and every execution on that runtime goes through it', async () => {
    const executor = await engine.executor();
    expect(await engine.executor('quickjs')).toBe(executor);
    const spy = vi.spyOn(executor, 'execute');
    try {
      await engine.execute('1');
      await engine.execute('2', { runtime: 'quickjs' });
      expect(spy).toHaveBeenCalledTimes(2);
    } finally {
      spy.mockRestore();
    }
  });

  it('refuses an unknown runtime with the known names', async () => {
    await expect(engine.execute('1', { runtime: 'nodejs' })).rejects.toThrow(/Unknown runtime "nodejs"; known runtimes: quickjs, isolated-vm, docker/);
    await expect(engine.executor('nodejs')).rejects.toThrow(TypeError);
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

describe('createEngine with deny patterns only', () => {
  it('a script calling a denied tool gets TOOL_NOT_FOUND, as with allow patterns', async () => {
    const engine = await createEngine(checkConfig({ tools: [tools], deny: ['secret:*'] }), { onWarning: () => {} });
    try {
      const caught = await engine.execute('try { await run("secret:launch", {}) } catch (e) { return e.code }');
      expect(caught.value).toBe('TOOL_NOT_FOUND');
      const uncaught = await engine.execute('await run("secret:launch", {})');
      expect(uncaught.error).toMatchObject({ code: 'TOOL_ERROR', toolCode: 'TOOL_NOT_FOUND', toolId: 'secret:launch' });
      const described = await engine.execute('try { await describeTool("secret:launch") } catch (e) { return e.code }');
      expect(described.value).toBe('TOOL_NOT_FOUND');
    } finally {
      await engine.close();
    }
  });

  it('the same script under allow patterns fails the same way', async () => {
    const engine = await createEngine(checkConfig({ tools: [tools], allow: ['math:*'] }), { onWarning: () => {} });
    try {
      const uncaught = await engine.execute('await run("secret:launch", {})');
      expect(uncaught.error).toMatchObject({ code: 'TOOL_ERROR', toolCode: 'TOOL_NOT_FOUND', toolId: 'secret:launch' });
    } finally {
      await engine.close();
    }
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
