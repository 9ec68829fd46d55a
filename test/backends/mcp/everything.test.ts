// The MCP backend against the reference servers, started by the tests: server-everything
// over stdio and over Streamable HTTP (and its old SSE mode, through the HTTP fallback), and
// server-memory over stdio.
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InMemoryIndex } from '../../../src/index/in-memory-index.js';
import { McpHub } from '../../../src/backends/mcp/hub.js';
import { ctxFor, everythingStdio, freePort, memoryStdio, startEverythingHttp, stopChild, waitFor, rejection } from './helpers.js';

/** The same checks for every transport server-everything is reached through. */
function everythingSuite(label: string, setup: () => Promise<{ config: Record<string, unknown>; cleanup?: () => Promise<void> }>) {
  describe(`server-everything over ${label}`, () => {
    const index = new InMemoryIndex();
    let hub: McpHub;
    let cleanup: (() => Promise<void>) | undefined;

    beforeAll(async () => {
      const s = await setup();
      cleanup = s.cleanup;
      hub = new McpHub({ everything: s.config });
      const [imported] = await hub.importTools(index);
      expect(imported!.error).toBeUndefined();
    });
    afterAll(async () => {
      await hub?.close();
      await cleanup?.();
    });

    it('imports its tools with schemas, output schemas and annotations', () => {
      const echo = index.get('everything:echo')!;
      expect(echo.backend).toEqual({ kind: 'mcp', name: 'everything', tool: 'echo' });
      expect(echo.tool.title).toBe('Echo Tool');
      expect(echo.tool.annotations).toMatchObject({ readOnlyHint: true });
      expect(echo.tool.inputSchema).toMatchObject({ type: 'object', properties: { message: { type: 'string' } } });
      const structured = index.get('everything:get-structured-content')!.tool;
      expect(structured.outputSchema).toMatchObject({ type: 'object', properties: { temperature: { type: 'number' } } });
      expect(index.has('everything:get-sum')).toBe(true);
      expect(index.has('everything:trigger-long-running-operation')).toBe(true);
    });

    it('calls echo and get-sum (text results)', async () => {
      const b = hub.backend('everything');
      const echo = await b.call('everything:echo', { message: 'hello' }, ctxFor('everything', 'echo'));
      expect(echo).toEqual({ structured: 'Echo: hello', content: [{ type: 'text', text: 'Echo: hello' }], isStructured: false });
      const sum = await b.call('everything:get-sum', { a: 2, b: 3 }, ctxFor('everything', 'get-sum'));
      expect(sum.structured).toBe('The sum of 2 and 3 is 5.');
    });

    it('returns structuredContent from get-structured-content', async () => {
      const tool = index.get('everything:get-structured-content')!.tool;
      const r = await hub.backend('everything').call('everything:get-structured-content', { location: 'Chicago' }, ctxFor('everything', 'get-structured-content', { tool }));
      expect(r.isStructured).toBe(true);
      expect(r.structured).toEqual({ temperature: 36, conditions: 'Light rain / drizzle', humidity: 82 });
      expect(r.content[0]).toMatchObject({ type: 'text' });
    });

    it('reports progress of trigger-long-running-operation, through onProgress and as stream chunks', async () => {
      const b = hub.backend('everything');
      const seen: unknown[] = [];
      const r = await b.call('everything:trigger-long-running-operation', { duration: 0.3, steps: 3 }, ctxFor('everything', 'trigger-long-running-operation', { onProgress: (u: unknown) => seen.push(u) }));
      expect(seen).toEqual([
        { progress: 1, total: 3 },
        { progress: 2, total: 3 },
        { progress: 3, total: 3 },
      ]);
      expect(r.structured).toContain('Long running operation completed');
      const chunks = [];
      const gen = b.stream('everything:trigger-long-running-operation', { duration: 0.2, steps: 2 }, ctxFor('everything', 'trigger-long-running-operation'));
      let step = await gen.next();
      while (!step.done) {
        chunks.push(step.value);
        step = await gen.next();
      }
      expect(chunks).toEqual([
        { kind: 'progress', data: { progress: 1, total: 2 } },
        { kind: 'progress', data: { progress: 2, total: 2 } },
      ]);
      expect(step.value.structured).toContain('Steps: 2');
    });

    it('maps an unknown tool to TOOL_NOT_FOUND and bad arguments to INPUT_VALIDATION', async () => {
      const b = hub.backend('everything');
      const missing = await rejection(b.call('everything:no-such-tool', {}, ctxFor('everything', 'no-such-tool')));
      expect(missing.code).toBe('TOOL_NOT_FOUND');
      expect(missing.message).toContain('no-such-tool');
      const bad = await rejection(b.call('everything:get-sum', { a: 'two', b: 3 }, ctxFor('everything', 'get-sum')));
      expect(bad.code).toBe('INPUT_VALIDATION');
      expect(bad.message).toContain('get-sum');
      expect(bad.data?.content).toBeDefined();
    });

    it('times out trigger-long-running-operation with TIMEOUT', async () => {
      const err = await rejection(
        hub.backend('everything').call('everything:trigger-long-running-operation', { duration: 5, steps: 5 }, ctxFor('everything', 'trigger-long-running-operation', { timeoutMs: 200 })),
      );
      expect(err.code).toBe('TIMEOUT');
      // The connection is still usable after a timed-out call.
      const echo = await hub.backend('everything').call('everything:echo', { message: 'still here' }, ctxFor('everything', 'echo'));
      expect(echo.structured).toBe('Echo: still here');
    });
  });
}

everythingSuite('stdio', async () => ({ config: everythingStdio() }));

let httpChild: ChildProcess | undefined;
everythingSuite('Streamable HTTP (loopback)', async () => {
  const port = await freePort();
  httpChild = await startEverythingHttp(port, 'streamableHttp');
  return { config: { url: `http://127.0.0.1:${port}/mcp` }, cleanup: () => stopChild(httpChild) };
});

describe('server-everything in its old SSE mode, reached through the HTTP fallback', () => {
  let child: ChildProcess | undefined;
  afterAll(() => stopChild(child));

  it('falls back from Streamable HTTP to SSE and calls a tool', async () => {
    const port = await freePort();
    child = await startEverythingHttp(port, 'sse');
    await using hub = new McpHub({ old: { url: `http://127.0.0.1:${port}/sse` } });
    const r = await hub.backend('old').call('old:echo', { message: 'via sse' }, ctxFor('old', 'echo'));
    expect(r.structured).toBe('Echo: via sse');
  });
});

describe('server-memory over stdio', () => {
  it('creates entities and reads them back (structured results)', async () => {
    const index = new InMemoryIndex();
    await using hub = new McpHub({ memory: memoryStdio() });
    const [imported] = await hub.importTools(index);
    expect(imported!.error).toBeUndefined();
    expect(imported!.tools).toEqual(expect.arrayContaining(['memory:create_entities', 'memory:read_graph', 'memory:search_nodes']));
    const b = hub.backend('memory');
    await b.call('memory:create_entities', { entities: [{ name: 'Ada', entityType: 'person', observations: ['wrote the first program'] }] }, ctxFor('memory', 'create_entities'));
    const graph = await b.call('memory:read_graph', {}, ctxFor('memory', 'read_graph', { tool: index.get('memory:read_graph')!.tool }));
    expect(graph.structured).toMatchObject({ entities: [{ name: 'Ada', entityType: 'person', observations: ['wrote the first program'] }] });
    const found = await b.call('memory:search_nodes', { query: 'program' }, ctxFor('memory', 'search_nodes'));
    expect(JSON.stringify(found.structured)).toContain('Ada');
    const bad = await rejection(b.call('memory:create_entities', { entities: 'nope' }, ctxFor('memory', 'create_entities')));
    expect(bad.code).toBe('INPUT_VALIDATION');
  });
});

// Keeps waitFor referenced for suites that poll.
void waitFor;
