// MCP servers behind the Runner: `runner.run('server:tool')` with the runner's validation,
// timeouts, cancellation, progress and streaming, plus tool-list changes and crashes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Runner } from '../../../src/run/runner.js';
import { InMemoryIndex } from '../../../src/index/in-memory-index.js';
import { connectMcpServers, type McpServersHandle } from '../../../src/backends/mcp/hub.js';
import type { StreamEvent } from '../../../src/run/types.js';
import { everythingStdio, fixtureStdio, waitFor, rejection } from './helpers.js';

async function cancellationTags(runner: Runner): Promise<string[]> {
  const r = await runner.run('fx:cancellations', {});
  return (r.structured as { cancellations: { tag: string }[] }).cancellations.map((c) => c.tag);
}

describe('MCP servers through the Runner', () => {
  const index = new InMemoryIndex();
  const runner = new Runner({ index });
  let handle: McpServersHandle;

  beforeAll(async () => {
    handle = await connectMcpServers({ mcpServers: { fx: fixtureStdio(), everything: everythingStdio() } }, { index, runner, backoffInitialMs: 20 });
  });
  afterAll(async () => {
    await runner.dispose();
    await handle.close();
  });

  it('runs server:tool and returns a RunResult naming the MCP backend', async () => {
    const r = await runner.run('fx:add', { a: 2, b: 40 });
    expect(r).toMatchObject({ toolId: 'fx:add', backend: { kind: 'mcp', name: 'fx' }, structured: { sum: 42 } });
    const echo = await runner.run('everything:echo', { message: 'hi' });
    expect(echo.structured).toBe('Echo: hi');
    const weather = await runner.run('everything:get-structured-content', { location: 'New York' });
    expect(weather.structured).toEqual({ temperature: 33, conditions: 'Cloudy', humidity: 82 });
  });

  it('checks arguments against the imported input schema before calling the server', async () => {
    const err = await rejection(runner.run('everything:get-sum', { a: 'two', b: 3 }));
    expect(err.code).toBe('INPUT_VALIDATION');
    expect(err.paths).toContain('/a');
  });

  it('enforces the server-declared output schema on structuredContent (OUTPUT_VALIDATION with paths)', async () => {
    const err = await rejection(runner.run('fx:bad-structured', {}));
    expect(err.code).toBe('OUTPUT_VALIDATION');
    expect(err.paths).toContain('/sum');
  });

  it('maps isError and unknown tools', async () => {
    const fail = await rejection(runner.run('fx:fail', {}));
    expect(fail.code).toBe('EXECUTION');
    expect(fail.message).toBe('it broke: the widget is missing');
    const missing = await rejection(runner.run('fx:no-such-tool', {}));
    expect(missing.code).toBe('TOOL_NOT_FOUND');
  });

  it('turns the runner timeout into an MCP cancellation the server receives', async () => {
    const err = await rejection(runner.run('fx:hang', { tag: 'runner-timeout' }, { timeoutMs: 150 }));
    expect(err.code).toBe('TIMEOUT');
    await waitFor(async () => (await cancellationTags(runner)).includes('runner-timeout'), 'the server to see the cancellation');
  });

  it('turns an aborted signal into an MCP cancellation the server receives', async () => {
    const controller = new AbortController();
    const pending = rejection(runner.run('fx:hang', { tag: 'runner-abort' }, { signal: controller.signal }));
    setTimeout(() => controller.abort(), 50);
    expect((await pending).code).toBe('CANCELLED');
    await waitFor(async () => (await cancellationTags(runner)).includes('runner-abort'), 'the server to see the cancellation');
  });

  it('reports MCP progress through run({ onProgress }) and runStream progress events', async () => {
    const seen: unknown[] = [];
    await runner.run('everything:trigger-long-running-operation', { duration: 0.2, steps: 2 }, { onProgress: (u) => seen.push(u) });
    expect(seen).toEqual([
      { progress: 1, total: 2 },
      { progress: 2, total: 2 },
    ]);
    const events: StreamEvent[] = [];
    for await (const e of runner.runStream('everything:trigger-long-running-operation', { duration: 0.2, steps: 2 })) events.push(e);
    expect(events.map((e) => e.kind)).toEqual(['progress', 'progress', 'done']);
    expect(events[0]).toEqual({ kind: 'progress', toolId: 'everything:trigger-long-running-operation', data: { progress: 1, total: 2 } });
    const done = events[2] as Extract<StreamEvent, { kind: 'done' }>;
    expect(done.data.backend).toEqual({ kind: 'mcp', name: 'everything' });
    expect(done.data.structured).toContain('Steps: 2');
  });

  it('makes tools added at run time runnable and drops removed ones', async () => {
    await runner.run('fx:set-tools', { add: ['late-tool'] });
    await waitFor(() => index.has('fx:late-tool'), 'the new tool in the index');
    expect((await runner.run('fx:late-tool', {})).structured).toBe('dynamic:late-tool');
    await runner.run('fx:set-tools', { remove: ['late-tool'] });
    await waitFor(() => !index.has('fx:late-tool'), 'the tool to leave the index');
    expect((await rejection(runner.run('fx:late-tool', {}))).code).toBe('TOOL_NOT_FOUND');
  });

  it('gives a retryable error when the server dies mid-call, and the next run reconnects', async () => {
    const before = (await runner.run('fx:pid', {})).structured as { pid: number };
    const err = await rejection(runner.run('fx:crash', {}));
    expect(err.code).toBe('EXECUTION');
    expect(err.retryable).toBe(true);
    const after = (await runner.run('fx:pid', {})).structured as { pid: number };
    expect(after.pid).not.toBe(before.pid);
    // Tools are re-listed after the reconnect and stay registered.
    expect(index.has('fx:echo')).toBe(true);
  });
});

describe('MCP servers through a Runner without an index', () => {
  it('reaches server tools by ID through the backend (lazy connect, no import)', async () => {
    const runner = new Runner();
    const handle = await connectMcpServers({ fx: fixtureStdio() }, { runner });
    try {
      expect(handle.hub.connection('fx').state).toBe('idle');
      const r = await runner.run('fx:add', { a: 1, b: 1 });
      expect(r).toMatchObject({ backend: { kind: 'mcp', name: 'fx' }, structured: { sum: 2 } });
      expect((await rejection(runner.run('fx:nope', {}))).code).toBe('TOOL_NOT_FOUND');
      expect((await rejection(runner.run('other:add', {}))).code).toBe('TOOL_NOT_FOUND');
    } finally {
      await runner.dispose();
      await handle.close();
    }
  });
});
