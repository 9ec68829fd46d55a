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
import { request } from 'node:http';
import { waitFor } from '../backends/mcp/helpers.js';
import { TOOLS_FIXTURE } from './helpers.js';

/** A raw initialize from a chosen local address (the loopback net is 127/8: each address is another client). */
function initializeFrom(url: string, localAddress: string): Promise<{ status: number; sessionId?: string; body: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', localAddress, headers: HEADERS }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, body, ...(typeof res.headers['mcp-session-id'] === 'string' ? { sessionId: res.headers['mcp-session-id'] } : {}) }));
    });
    req.on('error', reject);
    req.end(JSON.stringify(INIT));
  });
}

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

describe('serveHttp session caps per client and expiry of unused sessions', () => {
  let engine: Engine;
  let server: ToolexecServer;
  const handles: HttpServeHandle[] = [];

  beforeAll(async () => {
    engine = await createEngine(checkConfig({ tools: [TOOLS_FIXTURE] }));
    server = await new ToolexecServer(engine).start();
  });
  afterAll(async () => {
    await Promise.allSettled(handles.map((h) => h.close()));
    await server?.close();
    await engine?.close();
  });

  it('caps the sessions one client holds with 429; other clients still get in; closing one frees its slot', async () => {
    const http = await serveHttp(server, { port: 0, maxSessions: 10, maxSessionsPerClient: 2 });
    handles.push(http);
    const a = await initializeFrom(http.url, '127.0.0.1');
    const b = await initializeFrom(http.url, '127.0.0.1');
    expect([a.status, b.status]).toEqual([200, 200]);
    const third = await initializeFrom(http.url, '127.0.0.1');
    expect(third.status).toBe(429);
    expect(JSON.parse(third.body).error.message).toMatch(/Too many sessions from this client \(2\)/);
    // Another address is another client.
    const other = await initializeFrom(http.url, '127.0.0.2');
    expect(other.status).toBe(200);
    // Ending a session (DELETE) gives the client its slot back.
    const del = await fetch(http.url, { method: 'DELETE', headers: { ...HEADERS, 'mcp-session-id': a.sessionId!, 'mcp-protocol-version': '2025-06-18' } });
    expect(del.status).toBe(200);
    expect((await initializeFrom(http.url, '127.0.0.1')).status).toBe(200);
  });

  it('closes a session that made no request after initialize sooner than a used one', async () => {
    const http = await serveHttp(server, { port: 0, sessionIdleMs: 60_000, unusedSessionIdleMs: 1_000 });
    handles.push(http);
    const unused = await initializeFrom(http.url, '127.0.0.1');
    expect(unused.status).toBe(200);
    const client = new Client({ name: 'used', version: '1' });
    await client.connect(new StreamableHTTPClientTransport(new URL(http.url)));
    await client.listTools();
    expect(http.sessions).toBe(2);
    await waitFor(() => http.sessions === 1, 'the unused session to expire');
    const late = await fetch(http.url, { method: 'POST', headers: { ...HEADERS, 'mcp-session-id': unused.sessionId!, 'mcp-protocol-version': '2025-06-18' }, body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }) });
    expect(late.status).toBe(404);
    // The used session goes on.
    const r = await client.callTool({ name: 'run_tool', arguments: { toolId: 'math:add', args: { a: 1, b: 1 } } });
    expect((r.structuredContent as { structured: unknown }).structured).toEqual({ sum: 2 });
    await client.close();
  });
});
