// The code executor: an agent-style script calls tools through run() and tools.ns.name(),
// in the embedded QuickJS sandbox. Run with: node examples/executor-basics.mjs
import { Runner, Executor } from 'toolexec';

const runner = new Runner();
runner.register({ namespace: 'math', name: 'add', handler: ({ a, b }) => ({ sum: a + b }) });

const executor = new Executor({ runner, runtime: 'quickjs', limits: { timeoutMs: 5_000, memoryMb: 64 } });
const result = await executor.execute(`
  const [x, y] = await Promise.all([run('math:add', { a: 1, b: 2 }), tools.math.add({ a: 3, b: 4 })]);
  console.log('partial sums', x.sum, y.sum);
  x.sum + y.sum
`);
console.log(JSON.stringify({ ok: result.ok, value: result.value, logs: result.logs.map((l) => l.message), toolCalls: result.toolCalls.length }));

// Data goes in as the script's `input` (JSON, never spliced into the source): one script text,
// prepared once, for any data.
const doubled = await executor.execute('(await tools.math.add({ a: input.n, b: input.n })).sum', { input: { n: 21 } });
console.log(JSON.stringify({ ok: doubled.ok, value: doubled.value }));

// A hostile script ends as a classified error; the next execution works.
const loop = await executor.execute('while (true) {}', { timeoutMs: 200 });
console.log(JSON.stringify({ ok: loop.ok, code: loop.error?.code }));
await executor.dispose();
