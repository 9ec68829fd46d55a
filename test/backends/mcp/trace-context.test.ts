// Trace context to MCP upstreams (MCP SEP-414): the call's `execute_tool` span context goes to the
// server in `params._meta` as W3C `traceparent`/`tracestate`, beside the SDK's progress token, and
// `toolexec serve` continues a client's trace from the same keys. The real SDK pieces: the global
// tracer provider and propagator registered as an application would, a real stdio MCP server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { context, propagation, trace } from '@opentelemetry/api';
import { CompositePropagator, W3CTraceContextPropagator, W3CBaggagePropagator } from '@opentelemetry/core';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { Runner } from '../../../src/run/runner.js';
import { InMemoryIndex } from '../../../src/index/in-memory-index.js';
import { Executor } from '../../../src/code/executor.js';
import { connectMcpServers, type McpServersHandle } from '../../../src/backends/mcp/hub.js';
import { fixtureStdio } from './helpers.js';

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });

describe('trace context to MCP servers in _meta', () => {
  const index = new InMemoryIndex();
  let runner: Runner;
  let handle: McpServersHandle;

  beforeAll(async () => {
    // Registered globally, before the runner exists: toolexec is given no tracer.
    trace.setGlobalTracerProvider(provider);
    propagation.setGlobalPropagator(new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }));
    runner = new Runner({ index });
    handle = await connectMcpServers({ mcpServers: { fx: fixtureStdio() } }, { index, runner, backoffInitialMs: 20 });
  });
  afterAll(async () => {
    await runner.dispose();
    await handle.close();
    trace.disable();
    propagation.disable();
    await provider.shutdown();
  });

  it('a direct call: the server sees the traceparent of the execute_tool span', async () => {
    exporter.reset();
    const r = await runner.run('fx:meta', {});
    const meta = (r.structured as { meta: Record<string, unknown> }).meta;
    const span = exporter.getFinishedSpans().find((s) => s.name === 'execute_tool fx:meta')!;
    expect(span.attributes).toMatchObject({ 'gen_ai.tool.type': 'extension', 'toolexec.backend': 'mcp:fx' });
    expect(meta.traceparent).toBe(`00-${span.spanContext().traceId}-${span.spanContext().spanId}-01`);
  });

  it('tracestate and baggage of the caller go along; the progress token stays', async () => {
    exporter.reset();
    const outer = provider.getTracer('caller').startSpan('caller');
    let ctx = trace.setSpan(context.active(), outer);
    ctx = propagation.extract(ctx, { traceparent: `00-${outer.spanContext().traceId}-${outer.spanContext().spanId}-01`, tracestate: 'vendor=abc', baggage: 'tenant=t1' });
    const r = await runner.run('fx:meta', {}, { traceContext: ctx, onProgress: () => {} });
    outer.end();
    const meta = (r.structured as { meta: Record<string, unknown> }).meta;
    expect(meta).toMatchObject({ tracestate: 'vendor=abc', baggage: 'tenant=t1' });
    expect(meta.progressToken).toBeDefined();
    expect(String(meta.traceparent)).toContain(outer.spanContext().traceId);
  });

  it('from a script: the execution span is the parent of the call whose context the server gets', async () => {
    exporter.reset();
    const executor = new Executor({ runner });
    try {
      const r = await executor.execute('(await tools.fx.meta({})).meta.traceparent');
      const spans = exporter.getFinishedSpans();
      const root = spans.find((s) => s.name === 'execute_tool execute_code')!;
      const call = spans.find((s) => s.name === 'execute_tool fx:meta')!;
      expect(call.parentSpanContext?.spanId).toBe(root.spanContext().spanId);
      expect(r.value).toBe(`00-${root.spanContext().traceId}-${call.spanContext().spanId}-01`);
    } finally {
      await executor.dispose();
    }
  });

  it('toolexec serve continues the trace a client sends in _meta', async () => {
    exporter.reset();
    const { createEngine } = await import('../../../src/engine/engine.js');
    const { emptyConfig } = await import('../../../src/config/load-config.js');
    const { ToolexecServer } = await import('../../../src/server/toolexec-server.js');
    const engine = await createEngine({ ...emptyConfig(), mcpServers: [] });
    engine.runner.register({ namespace: 'math', name: 'add', handler: ({ a, b }: { a: number; b: number }) => ({ sum: a + b }) });
    const server = await new ToolexecServer(engine).start();
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    await server.connect(serverSide);
    const client = new Client({ name: 'trace-test', version: '1.0.0' });
    await client.connect(clientSide);
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    try {
      await client.request(
        { method: 'tools/call', params: { name: 'execute_code', arguments: { script: 'await run("math:add", { a: 1, b: 2 })' }, _meta: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` } } },
        (await import('@modelcontextprotocol/sdk/types.js')).CallToolResultSchema,
      );
      await client.request({ method: 'tools/call', params: { name: 'run_tool', arguments: { toolId: 'math:add', args: { a: 1, b: 1 } }, _meta: { traceparent: 'not a traceparent' } } }, (await import('@modelcontextprotocol/sdk/types.js')).CallToolResultSchema);
    } finally {
      await client.close();
      await server.close();
      await engine.close();
    }
    const spans = exporter.getFinishedSpans();
    const root = spans.find((s) => s.name === 'execute_tool execute_code')!;
    expect(root.spanContext().traceId).toBe(traceId);
    expect(root.parentSpanContext?.spanId).toBe('00f067aa0ba902b7');
    const adds = spans.filter((s) => s.name === 'execute_tool math:add');
    expect(adds).toHaveLength(2);
    expect(adds[0]!.spanContext().traceId).toBe(traceId);
    // A malformed traceparent is ignored: the call gets a trace of its own.
    expect(adds[1]!.spanContext().traceId).not.toBe(traceId);
  });
});
