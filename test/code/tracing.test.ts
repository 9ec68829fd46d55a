// OpenTelemetry on every runtime, with the real SDK and in-memory exporters: each execution is an
// `execute_tool execute_code` span, each tool call of its script an `execute_tool <tool>` child
// (GenAI semantic conventions), refused calls included, each fetch an HTTP client child whose
// trace context reaches the server; and the execution metrics count executions, tool calls,
// limit hits and durations.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SpanKind, SpanStatusCode, propagation } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { Executor } from '../../src/code/executor.js';
import { Runner } from '../../src/run/runner.js';
import { loadRuntime } from '../../src/runtime/load.js';
import type { Runtime, RuntimeName } from '../../src/runtime/types.js';
import { probeDocker } from '../runtime/docker/helpers.js';
import { startHttpServer, type TestHttpServer } from './egress-servers.js';

const probe = await probeDocker();
if (!probe.available) console.warn(`[tracing on docker] skipped: ${probe.reason}`);

const RUNTIMES: Array<{ name: RuntimeName; options: Record<string, unknown>; skip: boolean }> = [
  { name: 'quickjs', options: {}, skip: false },
  { name: 'isolated-vm', options: {}, skip: false },
  { name: 'docker', options: { minIdle: 1 }, skip: !probe.available },
];

/** The value of a metric (a counter's sum, a histogram's count) for data points whose attributes include `attrs`. */
function metricValue(all: ResourceMetrics, name: string, attrs: Record<string, unknown> = {}): number {
  let total = 0;
  for (const scope of all.scopeMetrics) {
    for (const m of scope.metrics) {
      if (m.descriptor.name !== name) continue;
      for (const dp of m.dataPoints as Array<{ attributes: Record<string, unknown>; value: number | { count: number } }>) {
        if (!Object.entries(attrs).every(([k, v]) => dp.attributes[k] === v)) continue;
        total += typeof dp.value === 'number' ? dp.value : dp.value.count;
      }
    }
  }
  return total;
}

for (const rt of RUNTIMES) {
  describe.skipIf(rt.skip)(`tracing and metrics: ${rt.name}`, () => {
    let server: TestHttpServer;
    let runtime: Runtime;
    let executor: Executor;
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    const reader = new PeriodicExportingMetricReader({ exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE), exportIntervalMillis: 3_600_000 });
    const meterProvider = new MeterProvider({ readers: [reader] });

    beforeAll(async () => {
      // The W3C propagator, as an SDK's start-up registers it: trace context goes out in headers.
      propagation.setGlobalPropagator(new W3CTraceContextPropagator());
      server = await startHttpServer();
      runtime = await loadRuntime(rt.name, rt.options);
      const tracer = provider.getTracer('toolexec-test');
      const meter = meterProvider.getMeter('toolexec-test');
      const runner = new Runner({ tracer, meter });
      runner.register({ namespace: 'math', name: 'add', description: 'Add two numbers', handler: ({ a, b }: { a: number; b: number }) => ({ sum: a + b }) });
      runner.register({ namespace: 'test', name: 'fail', handler: () => { throw new Error('boom'); } });
      runner.register({ namespace: 'secret', name: 'hidden', handler: () => 1 });
      executor = new Executor({ runner, runtime, tracer, meter, limits: { allowedTools: ['math:*', 'test:*'] }, egress: { allow: [server.origin], allowAddresses: ['loopback'] } });
    });
    afterAll(async () => {
      await executor?.dispose();
      await runtime?.dispose();
      await server?.close();
      await provider.shutdown();
      await meterProvider.shutdown();
      propagation.disable();
    });

    it('one execution span; every tool call, refused ones and fetches, is its child', async () => {
      exporter.reset();
      const r = await executor.execute(`
        const a = await run("math:add", { a: 1, b: 2 });
        const b = await tools.math.add({ a: a.sum, b: 3 });
        let failed; try { await run("test:fail", {}); } catch (e) { failed = e.code; }
        let refused; try { await run("secret:hidden", {}); } catch (e) { refused = e.code; }
        const res = await fetch("${server.origin}/echo");
        const seen = (await res.json()).headers.traceparent;
        return { sum: b.sum, failed, refused, status: res.status, seen };`);
      expect(r.error).toBeUndefined();
      const v = r.value as { sum: number; failed: string; refused: string; status: number; seen: string };
      expect(v).toMatchObject({ sum: 6, failed: 'EXECUTION', refused: 'TOOL_NOT_ALLOWED', status: 200 });
      const spans = exporter.getFinishedSpans();
      const root = spans.find((s) => s.name === 'execute_tool execute_code')!;
      expect(root).toBeDefined();
      expect(root.kind).toBe(SpanKind.INTERNAL);
      expect(root.attributes).toMatchObject({ 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'execute_code', 'toolexec.runtime': rt.name, 'toolexec.tool_calls': 5 });
      expect(root.status.code).not.toBe(SpanStatusCode.ERROR);
      const children = spans.filter((s) => s !== root);
      const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;
      expect(children.every((s) => parentOf(s) === root.spanContext().spanId && s.spanContext().traceId === root.spanContext().traceId)).toBe(true);
      expect(children.map((s) => s.name)).toEqual(['execute_tool math:add', 'execute_tool math:add', 'execute_tool test:fail', 'execute_tool secret:hidden', 'GET']);
      expect(children[0]!.attributes).toMatchObject({ 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'math:add', 'gen_ai.tool.type': 'function', 'gen_ai.tool.description': 'Add two numbers' });
      expect(children[2]!.attributes['error.type']).toBe('EXECUTION');
      expect(children[2]!.status.code).toBe(SpanStatusCode.ERROR);
      expect(children[3]!.attributes['error.type']).toBe('TOOL_NOT_ALLOWED');
      const get = children[4]!;
      expect(get.kind).toBe(SpanKind.CLIENT);
      expect(get.attributes).toMatchObject({ 'http.request.method': 'GET', 'url.full': `${server.origin}/echo`, 'server.address': '127.0.0.1', 'server.port': server.port, 'http.response.status_code': 200 });
      // The request carried the fetch span's context: the API sees one trace.
      expect(v.seen).toBe(`00-${get.spanContext().traceId}-${get.spanContext().spanId}-01`);
    });

    it('a failed execution: error status, error.type and the limit on the span; the metrics count it', async () => {
      exporter.reset();
      const r = await executor.execute('while (true) {}', { timeoutMs: 300 });
      expect(r.error?.code).toBe('TIMEOUT');
      const root = exporter.getFinishedSpans().find((s) => s.name === 'execute_tool execute_code')!;
      expect(root.status).toMatchObject({ code: SpanStatusCode.ERROR, message: 'TIMEOUT' });
      expect(root.attributes).toMatchObject({ 'error.type': 'TIMEOUT', 'toolexec.limit': 'timeoutMs' });
      const collected = await reader.collect();
      const m = collected.resourceMetrics;
      expect(metricValue(m, 'toolexec.executions', { 'toolexec.runtime': rt.name })).toBe(2);
      expect(metricValue(m, 'toolexec.executions', { 'error.type': 'TIMEOUT' })).toBe(1);
      expect(metricValue(m, 'toolexec.execution.duration', { 'toolexec.runtime': rt.name })).toBe(2);
      expect(metricValue(m, 'toolexec.limit_hits', { 'toolexec.limit': 'timeoutMs' })).toBe(1);
      expect(metricValue(m, 'toolexec.tool_calls', { 'gen_ai.tool.name': 'math:add' })).toBe(2);
      expect(metricValue(m, 'toolexec.tool_calls', { 'gen_ai.tool.name': 'test:fail', 'error.type': 'EXECUTION' })).toBe(1);
      expect(metricValue(m, 'gen_ai.execute_tool.duration', { 'gen_ai.operation.name': 'execute_tool' })).toBe(3);
      expect(metricValue(m, 'http.client.request.duration', { 'http.response.status_code': 200 })).toBe(1);
    });

    it('the execution continues the caller’s trace when given a context', async () => {
      exporter.reset();
      const outer = provider.getTracer('caller').startSpan('agent turn');
      const { trace, context } = await import('@opentelemetry/api');
      await executor.execute('await run("math:add", { a: 1, b: 1 })', { traceContext: trace.setSpan(context.active(), outer) });
      outer.end();
      const root = exporter.getFinishedSpans().find((s) => s.name === 'execute_tool execute_code')!;
      expect(root.parentSpanContext?.spanId).toBe(outer.spanContext().spanId);
      expect(root.spanContext().traceId).toBe(outer.spanContext().traceId);
    });
  });
}
