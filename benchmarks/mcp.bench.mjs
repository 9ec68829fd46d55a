// Per-call overhead of MCP tools through toolexec against the bare SDK client, in the same
// run: `runner.run('srv:echo')` and `McpBackend.call` versus `client.callTool` on a client of
// our own, each talking over stdio to its own process of the same server. Calls are
// interleaved (SDK, backend, runner, SDK, ...) so machine noise hits every case alike.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { Runner } from '../dist/run/runner.js';
import { InMemoryIndex } from '../dist/index/in-memory-index.js';
import { connectMcpServers } from '../dist/mcp.js';
import { report, summarize } from './lib.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const everythingPkg = require.resolve('@modelcontextprotocol/server-everything/package.json');
const everythingBin = resolve(dirname(everythingPkg), JSON.parse(readFileSync(everythingPkg, 'utf8')).bin['mcp-server-everything']);
const fixtureBin = resolve(here, '../test/fixtures/mcp/fixture-server.mjs');

const CALLS = Number(process.env.MCP_BENCH_CALLS ?? 400);
const WARMUP = 50;

const servers = {
  fixture: { command: process.execPath, args: [fixtureBin], args_: { message: 'hello' } },
  everything: { command: process.execPath, args: [everythingBin, 'stdio'], args_: { message: 'hello' } },
};

const index = new InMemoryIndex();
const runner = new Runner({ index });
const handle = await connectMcpServers(
  Object.fromEntries(Object.entries(servers).map(([name, s]) => [name, { command: s.command, args: s.args }])),
  { index, runner },
);

const rows = [];
const notes = [];
const ratios = [];
try {
  for (const [name, s] of Object.entries(servers)) {
    const transport = new StdioClientTransport({ command: s.command, args: s.args, stderr: 'pipe' });
    const client = new Client({ name: 'bench', version: '1.0.0' });
    await client.connect(transport);
    await client.listTools();
    const backend = handle.hub.backend(name);
    const ours = await handle.hub.connection(name).client();
    const toolId = `${name}:echo`;
    const entry = index.get(toolId);
    const ctx = () => ({ signal: new AbortController().signal, toolId, tool: entry.tool, descriptor: entry.backend, timeoutMs: 60_000 });
    const cases = {
      [`${name}: SDK client.callTool`]: () => client.callTool({ name: 'echo', arguments: s.args_ }),
      // The SDK path toolexec itself uses: tools/call parsed with the loose result schema.
      [`${name}: SDK client.request`]: () => client.request({ method: 'tools/call', params: { name: 'echo', arguments: s.args_ } }, ResultSchema),
      // Same SDK call on the connection toolexec holds (its own server process): separates our code from the process.
      [`${name}: SDK client.request, toolexec's connection`]: () => ours.request({ method: 'tools/call', params: { name: 'echo', arguments: s.args_ } }, ResultSchema),
      [`${name}: McpBackend.call`]: () => backend.call(toolId, s.args_, ctx()),
      [`${name}: runner.run`]: () => runner.run(toolId, s.args_),
    };
    const samples = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
    const entries = Object.entries(cases);
    for (let i = 0; i < WARMUP + CALLS; i++) {
      // Rotate the order so no case always runs first (or right after another) in a round.
      for (let j = 0; j < entries.length; j++) {
        const [label, fn] = entries[(i + j) % entries.length];
        const t0 = performance.now();
        await fn();
        const us = (performance.now() - t0) * 1000;
        if (i >= WARMUP) samples[label].push(us);
      }
    }
    const summaries = Object.entries(samples).map(([label, list]) => summarize(label, list));
    rows.push(...summaries);
    const [callTool, request, oursRequest, direct, run] = summaries;
    ratios.push([`${name}: runner.run / SDK callTool`, run.name, callTool.name]);
    ratios.push([`${name}: runner.run / SDK request`, run.name, request.name]);
    ratios.push([`${name}: McpBackend.call / SDK request`, direct.name, request.name]);
    ratios.push([`${name}: runner.run / SDK request on toolexec's connection`, run.name, oursRequest.name]);
    const diff = (a, b) => `${a.medianUs - b.medianUs >= 0 ? '+' : ''}${(a.medianUs - b.medianUs).toFixed(1)} µs`;
    notes.push(
      `${name}: runner.run vs bare SDK per call (medians of ${CALLS} interleaved calls): ${diff(run, callTool)} vs client.callTool, ${diff(run, request)} vs client.request with the same loose result schema; McpBackend.call ${diff(direct, request)} vs client.request; on toolexec's own connection runner.run is ${diff(run, oursRequest)} over client.request and McpBackend.call ${diff(direct, oursRequest)}`,
    );
    await client.close();
  }
} finally {
  await runner.dispose();
  await handle.close();
}

report('mcp', rows, { ratios, notes });
