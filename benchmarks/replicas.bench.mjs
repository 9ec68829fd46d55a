// The front hop of a scaled-out toolexec: an MCP client calling `run_tool` (math:add, a local
// tool) on `toolexec serve --http`, stateful (one session) vs `--stateless` (an SDK server and
// transport per request), directly and through a round-robin HTTP proxy over two stateless
// replicas (what a Kubernetes Service or nginx adds, here in-process on 127.0.0.1). Calls are
// interleaved across the cases so machine noise hits them alike.
import { spawn } from 'node:child_process';
import { createServer, request } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { report, summarize } from './lib.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = dirname(here);
const CLI = join(root, 'dist', 'cli', 'main.js');
const TOOLS = join(root, 'test', 'fixtures', 'cli', 'math-tools.mjs');
const CALLS = Number(process.env.REPLICAS_BENCH_CALLS ?? (process.argv.includes('--quick') ? 100 : 300));
const WARMUP = 20;

async function serve(args) {
  const child = spawn(process.execPath, [CLI, 'serve', '--http', '0', '--tools', TOOLS, ...args], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
  let out = '';
  const url = await new Promise((resolve, reject) => {
    child.stderr.on('data', (d) => {
      out += d.toString();
      const m = /listening on (\S+)/.exec(out);
      if (m) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`toolexec serve exited (${code}): ${out}`)));
  });
  return { child, url };
}

function roundRobin(targets) {
  let next = 0;
  const server = createServer((req, res) => {
    const target = new URL(targets[next++ % targets.length]);
    const up = request({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.writeHead(502).end());
    req.pipe(up);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${server.address().port}/mcp` })));
}

async function client(url) {
  const c = new Client({ name: 'bench', version: '1' });
  await c.connect(new StreamableHTTPClientTransport(new URL(url)));
  return c;
}

async function addOnce(c) {
  const r = await c.callTool({ name: 'run_tool', arguments: { toolId: 'math:add', args: { a: 1, b: 2 } } });
  if (r.isError) throw new Error(`run_tool failed: ${JSON.stringify(r.content)}`);
}

const stateful = await serve([]);
const replicas = [await serve(['--stateless']), await serve(['--stateless'])];
const proxy = await roundRobin(replicas.map((r) => r.url));
const cases = [
  ['run_tool, stateful session, direct', await client(stateful.url)],
  ['run_tool, --stateless, direct', await client(replicas[0].url)],
  ['run_tool, --stateless, 2 replicas behind a round-robin proxy', await client(proxy.url)],
];
for (const [, c] of cases) for (let i = 0; i < WARMUP; i++) await addOnce(c);
const samples = cases.map(() => []);
for (let i = 0; i < CALLS; i++) {
  for (let k = 0; k < cases.length; k++) {
    const t0 = performance.now();
    await addOnce(cases[k][1]);
    samples[k].push((performance.now() - t0) * 1000);
  }
}
const rows = cases.map(([name], k) => summarize(name, samples[k]));
for (const [, c] of cases) await c.close();
proxy.server.close();
proxy.server.closeAllConnections();
for (const r of [stateful, ...replicas]) r.child.kill('SIGTERM');

report('replicas', rows, {
  ratios: [
    ['stateless / stateful', rows[1].name, rows[0].name],
    ['through the proxy / stateless direct', rows[2].name, rows[1].name],
  ],
  notes: [
    'one HTTP POST per call on 127.0.0.1; a real load balancer and network add their own latency',
    'stateless builds an MCP server and transport for every request: that is the price of any replica answering any request',
  ],
});
