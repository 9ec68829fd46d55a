// The seed journey from Node: register the tools of examples/tools.mjs with a Runner, run
// examples/orchestrate.js in the QuickJS sandbox, and print what happened.
// Run with: node examples/orchestrate.mjs   (after `npm run build`)
import { readFileSync } from 'node:fs';
import { Runner, Executor } from 'toolexec';
import tools from './tools.mjs';

const runner = new Runner();
for (const tool of tools) runner.register(tool);

const executor = new Executor({ runner, runtime: 'quickjs', limits: { timeoutMs: 5_000, memoryMb: 64, allowedTools: ['github:*'] } });
try {
  const script = readFileSync(new URL('./orchestrate.js', import.meta.url), 'utf8');
  const result = await executor.execute(script);
  for (const log of result.logs) console.error(`[${log.level}] ${log.message}`);
  if (!result.ok) {
    console.error(`failed: ${result.error.code}: ${result.error.message}`);
    process.exitCode = 1;
  } else {
    console.log(JSON.stringify(result.value, null, 2));
    console.error(`tool calls: ${result.toolCalls.map((c) => `${c.toolId} ${c.ok ? 'ok' : c.error.code} ${c.durationMs.toFixed(1)} ms`).join('; ')}`);
  }
} finally {
  await executor.dispose();
}
