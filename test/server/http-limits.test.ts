// Hostile HTTP input against serveHttp in-process: malformed bodies, oversized bodies,
// unknown paths and sessions, and more sessions than allowed. Each gets a named refusal and
// the server keeps serving.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { checkConfig } from '../../src/config/load-config.js';
import { createEngine, type Engine } from '../../src/engine/engine.js';
import { ToolexecServer } from '../../src/server/toolexec-server.js';
import { serveHttp, type HttpServeHandle } from '../../src/server/http.js';
import { TOOLS_FIXTURE } from './helpers.js';

const HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
const INIT = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } };

describe('serveHttp limits', () => {
  let engine: Engine;
  let server: ToolexecServer;
  let http: HttpServeHandle;

  beforeAll(async () => {
    engine = await createEngine(checkConfig({ tools: [TOOLS_FIXTURE] }));
    server = await new ToolexecServer(engine).start();
    http = await serveHttp(server, { port: 0, maxBodyBytes: 10_000, maxSessions: 2 });
  });
  afterAll(async () => {
    await http?.close();
    await server?.close();
    await engine?.close();
  });

  it('refuses malformed and oversized bodies, unknown paths and sessions', async () => {
    const bad = await fetch(http.url, { method: 'POST', headers: HEADERS, body: '{"jsonrpc":' });
    expect(bad.status).toBe(400);
    expect((await bad.json()).error.code).toBe(-32700);
    const big = await fetch(http.url, { method: 'POST', headers: HEADERS, body: JSON.stringify({ ...INIT, padding: 'x'.repeat(20_000) }) });
    expect(big.status).toBe(413);
    const path = await fetch(http.url.replace('/mcp', '/other'), { method: 'POST', headers: HEADERS, body: JSON.stringify(INIT) });
    expect(path.status).toBe(404);
    const session = await fetch(http.url, { method: 'POST', headers: { ...HEADERS, 'mcp-session-id': 'made-up' }, body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }) });
    expect(session.status).toBe(404);
    const noInit = await fetch(http.url, { method: 'POST', headers: HEADERS, body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }) });
    expect(noInit.status).toBe(400);
    expect((await noInit.json()).error.message).toMatch(/must be initialize/);
  });

  it('caps open sessions and frees a slot when a client closes its session', async () => {
    const connect = async () => {
      const transport = new StreamableHTTPClientTransport(new URL(http.url));
      const client = new Client({ name: 'limits', version: '1' });
      await client.connect(transport);
      return { client, transport };
    };
    const a = await connect();
    const b = await connect();
    expect(http.sessions).toBe(2);
    const refused = await fetch(http.url, { method: 'POST', headers: HEADERS, body: JSON.stringify(INIT) });
    expect(refused.status).toBe(503);
    expect((await refused.json()).error.message).toMatch(/Too many sessions \(2\)/);
    // The open sessions still work.
    const r = await a.client.callTool({ name: 'run_tool', arguments: { toolId: 'math:add', args: { a: 2, b: 2 } } });
    expect((r.structuredContent as { structured: unknown }).structured).toEqual({ sum: 4 });
    await b.transport.terminateSession();
    await b.client.close();
    while (http.sessions > 1) await new Promise((res) => setTimeout(res, 20));
    const c = await connect();
    expect(http.sessions).toBe(2);
    await a.client.close();
    await c.client.close();
  });
});
