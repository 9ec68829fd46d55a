import { describe, expect, it } from 'vitest';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { Runner } from '../../src/run/runner.js';

describe('OpenTelemetry spans', () => {
  it('records one execute_tool span per call (GenAI conventions) with the tool, backend and error status', async () => {
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    const runner = new Runner({ tracer: provider.getTracer('toolexec-test') });
    runner.register({ namespace: 'math', name: 'add', inputSchema: { type: 'object', required: ['a'] }, handler: ({ a }: { a: number }) => a + 1 });
    await runner.run('math:add', { a: 1 });
    await runner.run('math:add', {}).catch(() => {});
    const spans = exporter.getFinishedSpans();
    expect(spans).toHaveLength(2);
    expect(spans[0]!.name).toBe('execute_tool math:add');
    expect(spans[0]!.kind).toBe(SpanKind.INTERNAL);
    expect(spans[0]!.attributes).toMatchObject({ 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'math:add', 'gen_ai.tool.type': 'function', 'toolexec.tool_id': 'math:add', 'toolexec.backend': 'local:local', 'toolexec.op': 'run' });
    expect(spans[0]!.attributes['error.type']).toBeUndefined();
    expect(spans[0]!.status.code).not.toBe(SpanStatusCode.ERROR);
    expect(spans[1]!.status).toMatchObject({ code: SpanStatusCode.ERROR, message: 'INPUT_VALIDATION' });
    expect(spans[1]!.attributes['error.type']).toBe('INPUT_VALIDATION');
    expect(spans[1]!.events.some((e) => e.name === 'exception')).toBe(true);
    await provider.shutdown();
  });

  it('records a span per stream too, through the same middleware as run()', async () => {
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    const runner = new Runner({ tracer: provider.getTracer('toolexec-test') });
    runner.register({ namespace: 's', name: 'count', handler: async function* () { yield 1; return { total: 1 }; } });
    runner.register({ namespace: 's', name: 'plain', handler: () => 1 });
    for await (const _ of runner.runStream('s:count', {})) void _;
    for await (const _ of runner.runStream('s:plain', {})) void _;
    const spans = exporter.getFinishedSpans();
    expect(spans.map((s) => s.name)).toEqual(['execute_tool s:count', 'execute_tool s:plain']);
    expect(spans[0]!.attributes).toMatchObject({ 'gen_ai.operation.name': 'execute_tool', 'toolexec.tool_id': 's:count', 'toolexec.backend': 'local:local', 'toolexec.op': 'stream' });
    expect(spans[0]!.status.code).not.toBe(SpanStatusCode.ERROR);
    expect(spans[1]!.status).toMatchObject({ code: SpanStatusCode.ERROR, message: 'STREAM_NOT_SUPPORTED' });
    await provider.shutdown();
  });
});
