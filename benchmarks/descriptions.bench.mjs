// What execute_code's description costs a model for the reference servers (server-everything +
// server-memory, 22 tools): characters and tokens (characters / 4) at several budgets, how many
// tools each level keeps, and, for comparison with fetching types on demand (Cloudflare's code
// mode), what describing every tool one by one would bring into the context instead.
import { createRequire } from 'node:module';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkConfig } from '../dist/config/load-config.js';
import { createEngine } from '../dist/engine/engine.js';
import { generateTypes } from '../dist/code/typegen.js';
import { DEFAULT_DESCRIPTION_BUDGET, ToolexecServer } from '../dist/server/toolexec-server.js';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const binOf = (pkg) => {
  const p = require.resolve(`${pkg}/package.json`);
  const meta = JSON.parse(readFileSync(p, 'utf8'));
  return resolve(dirname(p), typeof meta.bin === 'string' ? meta.bin : Object.values(meta.bin)[0]);
};
const dir = mkdtempSync(join(tmpdir(), 'toolexec-desc-'));
const engine = await createEngine(
  checkConfig({
    mcpServers: {
      everything: { command: process.execPath, args: [binOf('@modelcontextprotocol/server-everything'), 'stdio'] },
      memory: { command: process.execPath, args: [binOf('@modelcontextprotocol/server-memory')], env: { MEMORY_FILE_PATH: join(dir, 'memory.jsonl') } },
    },
  }),
  { onServerError: 'throw' },
);
const tokens = (n) => Math.round(n / 4);
const rows = [];
try {
  const tools = engine.index.list();
  for (const budget of [DEFAULT_DESCRIPTION_BUDGET, 10_000, 8_000, 6_000, 4_500, 3_500]) {
    const server = await new ToolexecServer(engine, { descriptionBudget: budget }).start();
    const d = server.tools.find((t) => t.name === 'execute_code').description;
    const ts = /```ts\n([\s\S]*)\n```$/.exec(d)[1];
    const levels = {
      full: (ts.match(/^ {4}\/\*\* .* \*\/\n {4}\w+\(/gm) ?? []).length,
      signature: (ts.match(/^ {4}\w+\(args/gm) ?? []).length - (ts.match(/^ {4}\/\*\* .* \*\/\n {4}\w+\(/gm) ?? []).length,
      listed: (ts.match(/^\/\/ {3}[\w-]+:[\w.-]+: /gm) ?? []).length,
      namespaces: (ts.match(/^\/\/ {3}[\w-]+: \d+ tools?$/gm) ?? []).length,
    };
    rows.push({ what: `execute_code description, budget ${budget}`, chars: d.length, tokens: tokens(d.length), ...levels });
    await server.close();
  }
  // Fetching types on demand: the model reads one tool's declaration per describe call.
  const each = tools.map((t) => generateTypes(engine.index, (x) => x.id === t.id, { preamble: false }).length);
  const sum = each.reduce((a, b) => a + b, 0);
  rows.push({ what: `describe_tool "full" for all ${tools.length} tools, one by one`, chars: sum, tokens: tokens(sum) });
  rows.push({ what: 'describe_tool "full", median tool', chars: each.sort((a, b) => a - b)[each.length >> 1], tokens: tokens(each[each.length >> 1]) });
} finally {
  await engine.close();
}
console.log('\n## descriptions');
console.table(rows);
const out = join(here, 'results', 'descriptions.json');
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, JSON.stringify({ bench: 'descriptions', at: new Date().toISOString(), rows }, null, 2));
