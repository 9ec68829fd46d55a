// The gateway pieces on the QuickJS pool, in one run:
// 1. OpenTelemetry: a 3-call execution with no SDK registered (the API's no-op tracer and meter:
//    what every user without OTel pays) against the real SDK recording every span and metric
//    (BasicTracerProvider + SimpleSpanProcessor into an in-memory exporter, a MeterProvider).
// 2. Granted egress: one `fetch()` from a script to an HTTP server on 127.0.0.1 (the host checks
//    the origin, resolves and checks the address, makes the request, sends the response back)
//    against Node's own fetch of the same URL from the host, and an execution with egress that
//    does not fetch against one without egress (the fetch text rides on the wrapper).
// Build first: npx tsc -p tsconfig.build.json
import http from 'node:http';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { Executor } from '../dist/code/executor.js';
import { Runner } from '../dist/run/runner.js';
import { measure, report, mathAddTool, THREE_CALLS } from './lib.mjs';

const quick = process.argv.includes('--quick');
const S = (n) => (quick ? Math.max(5, Math.floor(n / 4)) : n);

const server = http.createServer((req, res) => {
  res.setHeader('content-type', 'application/json');
  res.end('{"ok":true}');
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const origin = `http://127.0.0.1:${server.address().port}`;

const exporter = new InMemorySpanExporter();
const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const meterProvider = new MeterProvider();

const runner = new Runner();
runner.register(mathAddTool());
const tracedRunner = new Runner({ tracer: tracerProvider.getTracer('bench'), meter: meterProvider.getMeter('bench') });
tracedRunner.register(mathAddTool());

const limits = { timeoutMs: 60_000 };
const egress = { allow: [origin], allowAddresses: ['loopback'] };
const plain = new Executor({ runner, limits });
const traced = new Executor({ runner: tracedRunner, limits, tracer: tracerProvider.getTracer('bench'), meter: meterProvider.getMeter('bench') });
const granted = new Executor({ runner, limits, egress });
for (const ex of [plain, traced, granted]) await ex.warm();

const ok = async (ex, script) => {
  const r = await ex.execute(script);
  if (!r.ok) throw new Error(JSON.stringify(r.error));
  return r;
};
const FETCH = `const r = await fetch("${origin}/x"); return (await r.json()).ok;`;
const spansPerExecution = await (async () => {
  exporter.reset();
  await ok(traced, THREE_CALLS);
  return exporter.getFinishedSpans().length;
})();

const rows = [];
// Interleaved rounds, so a load drift hits every configuration alike.
const rounds = quick ? 2 : 4;
const per = S(60);
const acc = {};
const add = (row) => {
  (acc[row.name] ??= []).push(row);
};
for (let i = 0; i < rounds; i++) {
  add(await measure('3-call execution, no OpenTelemetry SDK (API no-ops)', () => ok(plain, THREE_CALLS), { samples: per, warmup: 10 }));
  add(await measure('3-call execution, OpenTelemetry SDK recording spans and metrics', () => ok(traced, THREE_CALLS), { samples: per, warmup: 10 }));
  exporter.reset();
  add(await measure('empty execution, no egress', () => ok(plain, '1'), { samples: per, warmup: 10 }));
  add(await measure('empty execution, egress granted (not used)', () => ok(granted, '1'), { samples: per, warmup: 10 }));
  add(await measure('execution with one fetch() to 127.0.0.1', () => ok(granted, FETCH), { samples: per, warmup: 10 }));
  add(
    await measure(
      "host: Node's fetch() of the same URL",
      async () => {
        const r = await fetch(`${origin}/x`);
        await r.json();
      },
      { samples: per, warmup: 10 },
    ),
  );
}
for (const [name, list] of Object.entries(acc)) {
  const sorted = [...list].sort((a, b) => a.medianUs - b.medianUs);
  rows.push({ ...sorted[Math.floor(sorted.length / 2)], name });
}
report('gateway', rows, {
  ratios: [
    ['OpenTelemetry SDK / no SDK, 3-call execution', '3-call execution, OpenTelemetry SDK recording spans and metrics', '3-call execution, no OpenTelemetry SDK (API no-ops)'],
    ['egress granted / none, empty execution', 'empty execution, egress granted (not used)', 'empty execution, no egress'],
  ],
  notes: [
    `the median of ${rounds} interleaved rounds of ${per} samples each; the SDK run records ${spansPerExecution} spans per 3-call execution (the execution and its three calls)`,
    `one fetch() from a script costs ${(rows.find((r) => r.name.startsWith('execution with one fetch')).medianUs / 1000 - rows.find((r) => r.name === 'empty execution, egress granted (not used)').medianUs / 1000).toFixed(2)} ms over an empty execution; the host's own fetch of the same URL takes ${(rows.find((r) => r.name.startsWith('host:')).medianUs / 1000).toFixed(2)} ms`,
  ],
});
for (const ex of [plain, traced, granted]) await ex.dispose();
await tracerProvider.shutdown();
await meterProvider.shutdown();
server.close();
