import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { connectHttp, startServeHttp, stopProcess, writeServeConfig } from './helpers.js';
import { defineServeSuite } from './serve-suite.js';

const TOKEN = 'test-token-0123456789';

const startServe = startServeHttp;
const stop = stopProcess;

const INIT = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
});

/** A raw POST with exactly the headers given (fetch would not let us forge Host). */
function rawPost(url: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers } },
      (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      },
    );
    req.on('error', reject);
    req.end(INIT);
  });
}

defineServeSuite('Streamable HTTP', async () => {
  const { child, url } = await startServe(['--config', writeServeConfig(), '--token', TOKEN]);
  const client = await connectHttp(url, TOKEN);
  return {
    client,
    ...(child.pid !== undefined ? { pid: child.pid } : {}),
    close: async () => {
      await client.close();
      await stop(child);
    },
  };
});

describe('toolexec serve --http: transport security', () => {
  let child: ChildProcess;
  let url: string;
  beforeAll(async () => {
    // TOOLEXEC_TOKEN is the token when --token is absent.
    ({ child, url } = await startServe(['--tools', 'test/fixtures/server/tools.mjs'], { TOOLEXEC_TOKEN: TOKEN }));
  });
  afterAll(() => stop(child));

  it('binds loopback by default', () => {
    expect(new URL(url).hostname).toBe('127.0.0.1');
  });

  it('answers 401 without a token or with a wrong one', async () => {
    const port = new URL(url).port;
    const none = await rawPost(url, { host: `127.0.0.1:${port}` });
    expect(none.status).toBe(401);
    expect(none.body).toMatch(/bearer token is required/);
    const wrong = await rawPost(url, { host: `127.0.0.1:${port}`, authorization: 'Bearer nope-nope-nope' });
    expect(wrong.status).toBe(401);
    expect(wrong.body).toMatch(/invalid bearer token/);
    await expect(connectHttp(url)).rejects.toThrow();
    const ok = await rawPost(url, { host: `127.0.0.1:${port}`, authorization: `Bearer ${TOKEN}` });
    expect(ok.status).toBe(200);
  });

  it('rejects a foreign Host (DNS rebinding) and a foreign Origin with 403, even with the token', async () => {
    const port = new URL(url).port;
    const auth = { authorization: `Bearer ${TOKEN}` };
    const rebound = await rawPost(url, { ...auth, host: `evil.example:${port}` });
    expect(rebound.status).toBe(403);
    expect(JSON.parse(rebound.body).error.message).toMatch(/Host "evil\.example:\d+" is not allowed/);
    const origin = await rawPost(url, { ...auth, host: `localhost:${port}`, origin: 'https://evil.example' });
    expect(origin.status).toBe(403);
    expect(JSON.parse(origin.body).error.message).toMatch(/Origin "https:\/\/evil\.example" is not allowed/);
    const localOrigin = await rawPost(url, { ...auth, host: `localhost:${port}`, origin: `http://localhost:${port}` });
    expect(localOrigin.status).toBe(200);
  });

  it('serves the tools to an authenticated client', async () => {
    const client = await connectHttp(url, TOKEN);
    const r = (await client.callTool({ name: 'run_tool', arguments: { toolId: 'math:add', args: { a: 1, b: 2 } } })) as { structuredContent?: { structured: unknown } };
    expect(r.structuredContent!.structured).toEqual({ sum: 3 });
    await client.close();
  });
});
