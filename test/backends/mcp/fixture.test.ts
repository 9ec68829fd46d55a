// The MCP backend against our own fixture server (test/fixtures/mcp/fixture-server.mjs),
// started over stdio: hangs, cancellation reaching the server, crashes and reconnects,
// list_changed, pagination, huge results, and the error codes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InMemoryIndex } from '../../../src/index/in-memory-index.js';
import { McpHub, type McpWarning } from '../../../src/backends/mcp/hub.js';
import type { McpToolsChange } from '../../../src/backends/mcp/import.js';
import { ctxFor, fixtureStdio, waitFor, rejection } from './helpers.js';

describe('MCP backend with the fixture server', () => {
  const index = new InMemoryIndex();
  const warnings: McpWarning[] = [];
  const changes: McpToolsChange[] = [];
  let hub: McpHub;

  beforeAll(async () => {
    hub = new McpHub({ fx: fixtureStdio({ FIXTURE_PAGE_SIZE: '3' }) }, { onWarning: (w) => warnings.push(w) });
    hub.onToolsChanged((c) => changes.push(c));
    const [imported] = await hub.importTools(index);
    expect(imported!.error).toBeUndefined();
  });
  afterAll(async () => {
    await hub.close();
  });

  it('imports every page of tools/list, keeping schemas, annotations and titles', () => {
    // 15 tools over pages of 3; "bad name!" is skipped.
    const ids = index.list({ namespace: 'fx' }).map((t) => t.id).sort();
    expect(ids).toContain('fx:image');
    expect(ids).toContain('fx:echo');
    expect(ids).toHaveLength(15);
    const add = index.get('fx:add')!;
    expect(add.backend).toEqual({ kind: 'mcp', name: 'fx', tool: 'add' });
    expect(add.tool.title).toBe('Add');
    expect(add.tool.outputSchema).toEqual({ type: 'object', properties: { sum: { type: 'number' } }, required: ['sum'] });
    expect(add.tool.annotations).toEqual({ readOnlyHint: true, idempotentHint: true });
    expect(add.tool.inputSchema).toMatchObject({ required: ['a', 'b'] });
  });

  it('skips tools with a name the ID rules refuse or a malformed input schema, with warnings naming them', () => {
    expect(index.has('fx:bad name!')).toBe(false);
    expect(index.has('fx:no-input-schema')).toBe(false);
    expect(index.has('fx:string-input')).toBe(false);
    const skipped = warnings.filter((x) => x.kind === 'skipped-tool');
    expect(skipped.map((w) => w.kind === 'skipped-tool' && w.tool).sort()).toEqual(['bad name!', 'no-input-schema', 'string-input']);
    expect(skipped.find((w) => w.kind === 'skipped-tool' && w.tool === 'bad name!')!.message).toContain('cannot be used in a tool ID');
    expect(skipped.find((w) => w.kind === 'skipped-tool' && w.tool === 'string-input')!.message).toContain('inputSchema.type must be "object"');
  });

  it('reports a server whose tools/list cursor never advances instead of looping', async () => {
    await using loop = new McpHub({ loop: fixtureStdio({ FIXTURE_CURSOR_LOOP: '1' }) });
    const [result] = await loop.importTools(new InMemoryIndex());
    expect(result!.error?.message).toContain('MCP server "loop" repeated the tools/list cursor "0"');
  });

  it('normalizes structuredContent, JSON text and multi-item content', async () => {
    const b = hub.backend('fx');
    const add = await b.call('fx:add', { a: 2, b: 3 }, ctxFor('fx', 'add'));
    expect(add).toMatchObject({ structured: { sum: 5 }, isStructured: true });
    const echo = await b.call('fx:echo', { x: [1, 'two'] }, ctxFor('fx', 'echo'));
    expect(echo.structured).toEqual({ x: [1, 'two'] });
    expect(echo.isStructured).toBe(false);
    expect(echo.content).toEqual([{ type: 'text', text: '{"x":[1,"two"]}' }]);
    const img = await b.call('fx:image', {}, ctxFor('fx', 'image'));
    expect(img.structured).toEqual(img.content);
    expect(img.content.map((c) => c.type)).toEqual(['text', 'image']);
  });

  it('maps isError to EXECUTION carrying the server message and content', async () => {
    const err = await rejection(hub.backend('fx').call('fx:fail', {}, ctxFor('fx', 'fail')));
    expect(err.code).toBe('EXECUTION');
    expect(err.message).toBe('it broke: the widget is missing');
    expect(err.retryable).toBe(false);
    expect(err.backend).toEqual({ kind: 'mcp', name: 'fx' });
    expect(err.data?.content).toEqual([{ type: 'text', text: 'it broke: the widget is missing' }]);
  });

  it('maps a JSON-RPC unknown tool to TOOL_NOT_FOUND and InvalidParams to INPUT_VALIDATION', async () => {
    const missing = await rejection(hub.backend('fx').call('fx:nope', {}, ctxFor('fx', 'nope')));
    expect(missing.code).toBe('TOOL_NOT_FOUND');
    expect(missing.message).toContain('nope');
    const bad = await rejection(hub.backend('fx').call('fx:add', { a: 'x' }, ctxFor('fx', 'add')));
    expect(bad.code).toBe('INPUT_VALIDATION');
    expect(bad.message).toContain('a and b must be numbers');
  });

  it('reports a tool that declares an output schema but sends no structuredContent as OUTPUT_VALIDATION', async () => {
    const tool = index.get('fx:no-structured')!.tool;
    const err = await rejection(hub.backend('fx').call('fx:no-structured', {}, ctxFor('fx', 'no-structured', { tool })));
    expect(err.code).toBe('OUTPUT_VALIDATION');
  });

  it('does not let the SDK reject schema-breaking structuredContent before the runner can (isStructured is set)', async () => {
    const r = await hub.backend('fx').call('fx:bad-structured', {}, ctxFor('fx', 'bad-structured', { tool: index.get('fx:bad-structured')!.tool }));
    expect(r).toMatchObject({ structured: { sum: 'not a number' }, isStructured: true });
  });

  it('times out a hanging tool with TIMEOUT and the server receives notifications/cancelled', async () => {
    const b = hub.backend('fx');
    const err = await rejection(b.call('fx:hang', { tag: 'timeout-1' }, ctxFor('fx', 'hang', { timeoutMs: 150 })));
    expect(err.code).toBe('TIMEOUT');
    expect(err.retryable).toBe(true);
    await waitFor(async () => {
      const r = await b.call('fx:cancellations', {}, ctxFor('fx', 'cancellations'));
      return (r.structured as { cancellations: { tag: string }[] }).cancellations.some((c) => c.tag === 'timeout-1');
    }, 'the server to record the timeout cancellation');
  });

  it('cancels a hanging tool on abort with CANCELLED and the server receives notifications/cancelled', async () => {
    const b = hub.backend('fx');
    const controller = new AbortController();
    const pending = b.call('fx:hang', { tag: 'abort-1' }, ctxFor('fx', 'hang', { signal: controller.signal }));
    setTimeout(() => controller.abort(), 50);
    const err = await rejection(pending);
    expect(err.code).toBe('CANCELLED');
    await waitFor(async () => {
      const r = await b.call('fx:cancellations', {}, ctxFor('fx', 'cancellations'));
      return (r.structured as { cancellations: { tag: string }[] }).cancellations.some((c) => c.tag === 'abort-1');
    }, 'the server to record the abort cancellation');
  });

  it('treats an abort whose reason is a TimeoutError as TIMEOUT', async () => {
    const err = await rejection(hub.backend('fx').call('fx:hang', { tag: 'sig-timeout' }, ctxFor('fx', 'hang', { signal: AbortSignal.timeout(50) })));
    expect(err.code).toBe('TIMEOUT');
  });

  it('reports progress notifications through onProgress and stream()', async () => {
    const b = hub.backend('fx');
    const seen: unknown[] = [];
    const r = await b.call('fx:progress', { steps: 3 }, ctxFor('fx', 'progress', { onProgress: (u: unknown) => seen.push(u) }));
    expect(r.structured).toEqual({ steps: 3 });
    expect(seen).toEqual([
      { progress: 1, total: 3, message: 'step 1' },
      { progress: 2, total: 3, message: 'step 2' },
      { progress: 3, total: 3, message: 'step 3' },
    ]);
    const gen = b.stream('fx:progress', { steps: 2 }, ctxFor('fx', 'progress'));
    const chunks = [];
    let step = await gen.next();
    while (!step.done) {
      chunks.push(step.value);
      step = await gen.next();
    }
    expect(chunks).toEqual([
      { kind: 'progress', data: { progress: 1, total: 2, message: 'step 1' } },
      { kind: 'progress', data: { progress: 2, total: 2, message: 'step 2' } },
    ]);
    expect(step.value.structured).toEqual({ steps: 2 });
  });

  it('cancels the server-side request when a stream consumer stops early', async () => {
    const b = hub.backend('fx');
    const chunks = [];
    for await (const chunk of b.stream('fx:hang', { tag: 'stream-return', progress: true }, ctxFor('fx', 'hang'))) {
      chunks.push(chunk);
      break;
    }
    expect(chunks).toEqual([{ kind: 'progress', data: { progress: 0 } }]);
    await waitFor(async () => {
      const r = await b.call('fx:cancellations', {}, ctxFor('fx', 'cancellations'));
      return (r.structured as { cancellations: { tag: string }[] }).cancellations.some((c) => c.tag === 'stream-return');
    }, 'the server to record the stream cancellation');
  });

  it('returns a huge (6 MB) result intact', async () => {
    const bytes = 6 * 1024 * 1024;
    const r = await hub.backend('fx').call('fx:huge', { bytes }, ctxFor('fx', 'huge'));
    expect(typeof r.structured).toBe('string');
    expect((r.structured as string).length).toBe(bytes);
    expect((r.structured as string)[bytes - 1]).toBe('x');
  });

  it('follows notifications/tools/list_changed: adds and removes index entries and emits a change', async () => {
    const b = hub.backend('fx');
    changes.length = 0;
    await b.call('fx:set-tools', { add: ['dyn-a', 'dyn-b'] }, ctxFor('fx', 'set-tools'));
    await waitFor(() => index.has('fx:dyn-a') && index.has('fx:dyn-b'), 'dynamic tools in the index');
    expect(index.get('fx:dyn-a')!.backend).toEqual({ kind: 'mcp', name: 'fx', tool: 'dyn-a' });
    expect((await b.call('fx:dyn-a', {}, ctxFor('fx', 'dyn-a'))).structured).toBe('dynamic:dyn-a');
    await waitFor(() => changes.some((c) => c.added.includes('fx:dyn-a')), 'a change event');
    expect(b.has('fx:dyn-b')).toBe(true);

    await b.call('fx:set-tools', { remove: ['dyn-a'] }, ctxFor('fx', 'set-tools'));
    await waitFor(() => !index.has('fx:dyn-a'), 'dyn-a removed from the index');
    expect(index.has('fx:dyn-b')).toBe(true);
    expect(index.has('fx:echo')).toBe(true);
    expect(changes.some((c) => c.removed.includes('fx:dyn-a'))).toBe(true);
    expect(b.has('fx:dyn-a')).toBe(false);
  });
});

describe('MCP backend: concurrency', () => {
  it('shares one lazy connection between concurrent first calls and keeps answers apart', async () => {
    await using hub = new McpHub({ par: fixtureStdio() });
    const b = hub.backend('par');
    expect(hub.connection('par').state).toBe('idle');
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => b.call('par:add', { a: i, b: 1000 }, ctxFor('par', 'add'))));
    expect(results.map((r) => (r.structured as { sum: number }).sum)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1000));
    expect(hub.connection('par').connectCount).toBe(1);
    expect(hub.connection('par').state).toBe('connected');
  });
});

describe('MCP backend: a server without tools', () => {
  it('imports nothing without error, and a call is TOOL_NOT_FOUND saying the server offers no tools', async () => {
    await using hub = new McpHub({ bare: fixtureStdio({ FIXTURE_NO_TOOLS: '1' }) });
    const [result] = await hub.importTools(new InMemoryIndex());
    expect(result).toMatchObject({ server: 'bare', tools: [], skipped: [] });
    expect(result!.error).toBeUndefined();
    const err = await rejection(hub.backend('bare').call('bare:x', {}, ctxFor('bare', 'x')));
    expect(err.code).toBe('TOOL_NOT_FOUND');
    expect(err.message).toContain('MCP server "bare" does not offer tools');
  });
});

describe('MCP backend: the server config timeout', () => {
  it('caps a longer runner budget', async () => {
    await using hub = new McpHub({ quick: fixtureStdio({}, { timeout: 200 }) });
    const err = await rejection(hub.backend('quick').call('quick:hang', { tag: 'config-timeout' }, ctxFor('quick', 'hang', { timeoutMs: 60_000 })));
    expect(err.code).toBe('TIMEOUT');
    expect(err.message).toContain('after 200 ms');
  });
});

describe('MCP backend: message size limit', () => {
  it('fails an answer over maxMessageBytes with a non-retryable error naming the limit, and recovers', async () => {
    await using hub = new McpHub({ small: fixtureStdio() }, { maxMessageBytes: 100_000, backoffInitialMs: 10 });
    const b = hub.backend('small');
    const err = await rejection(b.call('small:huge', { bytes: 200_000 }, ctxFor('small', 'huge')));
    expect(err.code).toBe('EXECUTION');
    expect(err.retryable).toBe(false);
    expect(err.message).toContain('100000-byte limit');
    const ok = await b.call('small:huge', { bytes: 1000 }, ctxFor('small', 'huge'));
    expect((ok.structured as string).length).toBe(1000);
  });
});

describe('MCP backend: a server that dies mid-call', () => {
  it('fails the call with a retryable EXECUTION error naming the server, then reconnects on the next call', async () => {
    await using hub = new McpHub({ crashy: fixtureStdio() }, { backoffInitialMs: 50 });
    const b = hub.backend('crashy');
    const pid1 = ((await b.call('crashy:pid', {}, ctxFor('crashy', 'pid'))).structured as { pid: number }).pid;
    const err = await rejection(b.call('crashy:crash', {}, ctxFor('crashy', 'crash')));
    expect(err.code).toBe('EXECUTION');
    expect(err.retryable).toBe(true);
    expect(err.message).toContain('"crashy"');
    expect(err.message).toContain('fixture: crashing on purpose');
    const pid2 = ((await b.call('crashy:pid', {}, ctxFor('crashy', 'pid'))).structured as { pid: number }).pid;
    expect(pid2).not.toBe(pid1);
    expect(hub.connection('crashy').connectCount).toBe(2);
    expect(hub.connection('crashy').failures).toBe(0);
  });

  it('close() escalates to SIGKILL for a server that ignores stdin closing and SIGTERM', async () => {
    const hub = new McpHub({ stubborn: fixtureStdio({ FIXTURE_STUBBORN: '1' }) });
    await hub.backend('stubborn').call('stubborn:pid', {}, ctxFor('stubborn', 'pid'));
    const pid = hub.connection('stubborn').pid!;
    expect(() => process.kill(pid, 0)).not.toThrow();
    await hub.close();
    expect(() => process.kill(pid, 0)).toThrow();
  });

  it('fails in-flight calls of a closed hub and refuses new ones', async () => {
    const hub = new McpHub({ fx: fixtureStdio() });
    const b = hub.backend('fx');
    await b.call('fx:pid', {}, ctxFor('fx', 'pid'));
    const pid = hub.connection('fx').pid!;
    const pending = rejection(b.call('fx:hang', {}, ctxFor('fx', 'hang')));
    await new Promise((r) => setTimeout(r, 50));
    await hub.close();
    const err = await pending;
    expect(err.code).toBe('EXECUTION');
    const after = await rejection(b.call('fx:pid', {}, ctxFor('fx', 'pid')));
    expect(after.code).toBe('EXECUTION');
    expect(after.retryable).toBe(false);
    expect(after.message).toContain('closed');
    expect(() => process.kill(pid, 0)).toThrow();
  });
});
