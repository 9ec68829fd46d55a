// Sizes of execute_code's description for the reference servers (server-everything +
// server-memory): characters and tokens (characters / 4). Usage: node benchmarks/descriptions.mjs [budget...]
import { createRequire } from 'node:module';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { checkConfig } from '../dist/config/load-config.js';
import { createEngine } from '../dist/engine/engine.js';
import { ToolexecServer } from '../dist/server/toolexec-server.js';

const require = createRequire(import.meta.url);
const binOf = (pkg) => {
  const p = require.resolve(`${pkg}/package.json`);
  const meta = JSON.parse(readFileSync(p, 'utf8'));
  return resolve(dirname(p), typeof meta.bin === 'string' ? meta.bin : Object.values(meta.bin)[0]);
};
const dir = mkdtempSync(join(tmpdir(), 'toolexec-desc-'));
const config = checkConfig({
  mcpServers: {
    everything: { command: process.execPath, args: [binOf('@modelcontextprotocol/server-everything'), 'stdio'] },
    memory: { command: process.execPath, args: [binOf('@modelcontextprotocol/server-memory')], env: { MEMORY_FILE_PATH: join(dir, 'memory.jsonl') } },
  },
});
const engine = await createEngine(config);
const budgets = process.argv.slice(2).map(Number);
const tok = (s) => Math.round(s.length / 4);
const rows = [];
try {
  const types = await engine.generateTypes();
  rows.push({ what: `generateTypes (${engine.index.list().length} tools)`, chars: types.length, tokens: tok(types) });
  for (const budget of budgets.length ? budgets : [undefined]) {
    const server = await new ToolexecServer(engine, budget === undefined ? {} : { descriptionBudget: budget }).start();
    const d = server.tools.find((t) => t.name === 'execute_code').description;
    rows.push({ what: `execute_code description${budget === undefined ? '' : ` (budget ${budget})`}`, chars: d.length, tokens: tok(d) });
    if (process.env.DUMP) writeFileSync(join(process.env.DUMP, `execute_code-${budget ?? 'default'}.txt`), d);
    await server.close();
  }
  if (process.env.DUMP) writeFileSync(join(process.env.DUMP, 'types.d.ts'), types);
} finally {
  await engine.close();
}
console.table(rows);
