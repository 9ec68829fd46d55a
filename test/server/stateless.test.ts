// `toolexec serve --http --stateless` behind a load balancer: two replicas (two real server
// processes) behind an in-test round-robin proxy answer one client's whole session, progress
// notifications included, while two stateful replicas behind the same proxy fail with
// `404 Session not found` right after initialize (which is why stateless exists). Plus the
// stateless specifics: GET and DELETE are 405, and the session cap is a cap on requests in
// flight answered with 503 and Retry-After.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { callTool, connectHttp, roundRobin, SLOW_TOOLS_FIXTURE, startServeHttp, stopProcess, TOOLS_FIXTURE, textOf, type ServeProcess } from './helpers.js';

function raw(url: string, method: string, body?: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: u.hostname, port: u.port, path: u.pathname, method, headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers } },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const INIT = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } });

describe('toolexec serve --http --stateless behind a round-robin proxy', { timeout: 120_000 }, () => {
  const replicas: ServeProcess[] = [];
  const clients: Client[] = [];
  const proxies: Proxy[] = [];

  beforeAll(async () => {
    replicas.push(...(await Promise.all([0, 1].map(() => startServeHttp(['--stateless', '--tools', TOOLS_FIXTURE])))));
  });
  afterAll(async () => {
    await Promise.allSettled(clients.map((c) => c.close()));
    await Promise.allSettled(proxies.map((p) => p.close()));
    await Promise.allSettled(replicas.map((r) => stopProcess(r.child)));
  });

  it('says it is stateless at start-up', () => {
    expect(replicas[0]!.stderr()).toMatch(/MCP server listening on http:\/\/127\.0\.0\.1:\d+\/mcp \(stateless\)/);
  });

  it('two stateless replicas answer one client\'s whole session, progress included', async () => {
    const proxy = await roundRobin(replicas.map((r) => r.url));
    proxies.push(proxy);
    const client = await connectHttp(proxy.url);
    clients.push(client);
    // Honest about the trade-off: no standalone stream, so no unsolicited list_changed.
    expect(client.getServerCapabilities()?.tools?.listChanged).toBe(false);
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toContain('execute_code');
    for (let i = 0; i < 3; i++) {
      const progress: number[] = [];
      const r = await callTool(
        client,
        'execute_code',
        { script: `const a = await run('math:add', { a: ${i}, b: 1 }); const b = await run('math:add', { a: a.sum, b: 1 }); const c = await run('math:add', { a: b.sum, b: 1 }); return c.sum` },
        { onprogress: (p) => progress.push(p.progress) },
      );
      expect(r.isError, textOf(r)).toBeFalsy();
      expect(r.structuredContent!.value).toBe(i + 3);
      expect(progress).toEqual([1, 2, 3]);
    }
    const tool = await callTool(client, 'run_tool', { toolId: 'math:add', args: { a: 20, b: 22 } });
    expect(tool.structuredContent!.structured).toEqual({ sum: 42 });
    const found = await callTool(client, 'search_tools', { query: 'add' });
    expect(found.structuredContent!.items[0].id).toBe('math:add');
    // Both replicas took part in the one session.
    expect(proxy.counts[0]!.POST).toBeGreaterThan(2);
    expect(proxy.counts[1]!.POST).toBeGreaterThan(2);
  });

  it('answers GET and DELETE with 405', async () => {
    const get = await raw(replicas[0]!.url, 'GET');
    expect(get.status).toBe(405);
    expect(get.headers.allow).toBe('POST');
    expect(JSON.parse(get.body).error.message).toMatch(/stateless/);
    const del = await raw(replicas[0]!.url, 'DELETE');
    expect(del.status).toBe(405);
    // Still serving.
    expect((await raw(replicas[0]!.url, 'POST', INIT)).status).toBe(200);
  });

  it('stateful replicas behind the same proxy fail with 404 Session not found', async () => {
    const stateful = await Promise.all([0, 1].map(() => startServeHttp(['--tools', TOOLS_FIXTURE])));
    try {
      const proxy = await roundRobin(stateful.map((r) => r.url));
      proxies.push(proxy);
      // initialize reaches one replica; the next request carries its session ID to the other.
      await expect(connectHttp(proxy.url)).rejects.toThrow(/404|Session not found/);
      // Each of them works when reached directly.
      const direct = await connectHttp(stateful[0]!.url);
      clients.push(direct);
      expect((await callTool(direct, 'execute_code', { script: '1 + 1' })).structuredContent!.value).toBe(2);
    } finally {
      await Promise.allSettled(stateful.map((r) => stopProcess(r.child)));
    }
  });

  it('caps requests in flight with 503 and Retry-After, and serves the next one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'toolexec-stateless-'));
    const config = join(dir, 'toolexec.config.json');
    writeFileSync(config, JSON.stringify({ tools: [SLOW_TOOLS_FIXTURE], serve: { maxSessions: 1 } }));
    const replica = await startServeHttp(['--stateless', '--config', config]);
    try {
      const client = await connectHttp(replica.url);
      clients.push(client);
      let running!: () => void;
      const started = new Promise<void>((r) => (running = r));
      const slow = callTool(client, 'execute_code', { script: "await run('math:add', { a: 1, b: 1 }); await run('slow:sleep', { ms: 2000 }); return 'slept'" }, { onprogress: () => running() });
      await started;
      const refused = await raw(replica.url, 'POST', JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/list' }));
      expect(refused.status).toBe(503);
      expect(refused.headers['retry-after']).toBe('2');
      expect(JSON.parse(refused.body).error.message).toMatch(/Too many requests in flight \(1\)/);
      expect((await slow).structuredContent!.value).toBe('slept');
      const next = await callTool(client, 'execute_code', { script: '2 * 21' });
      expect(next.structuredContent!.value).toBe(42);
    } finally {
      await stopProcess(replica.child);
    }
  });
});
