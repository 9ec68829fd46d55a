// Streamable HTTP connections that drop: the server process dies mid-call, then comes back
// on the same port (with none of the old sessions).
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { McpHub } from '../../../src/backends/mcp/hub.js';
import { ToolError } from '../../../src/model/errors.js';
import { ctxFor, FIXTURE_SERVER, freePort, startEverythingHttp, stopChild } from './helpers.js';

describe('Streamable HTTP server that dies mid-call', () => {
  let child: ChildProcess | undefined;
  afterAll(() => stopChild(child));

  it('fails the call with a retryable error, then reconnects to the restarted server', async () => {
    const port = await freePort();
    child = await startEverythingHttp(port);
    await using hub = new McpHub({ web: { url: `http://127.0.0.1:${port}/mcp` } }, { backoffInitialMs: 10 });
    const b = hub.backend('web');
    expect((await b.call('web:echo', { message: 'one' }, ctxFor('web', 'echo'))).structured).toBe('Echo: one');
    // The call's own timeout is beyond the test's: only noticing the dead server ends it in time.
    const pending = b.call('web:trigger-long-running-operation', { duration: 120, steps: 120 }, ctxFor('web', 'trigger-long-running-operation', { timeoutMs: 120_000 })).then(
      () => undefined,
      (e: unknown) => e,
    );
    await new Promise((r) => setTimeout(r, 300));
    child.kill('SIGKILL');
    const err = (await pending) as ToolError;
    expect(err).toBeInstanceOf(ToolError);
    expect(err.code).toBe('EXECUTION');
    expect(err.retryable).toBe(true);
    expect(err.message).toContain('"web"');
    child = await startEverythingHttp(port);
    const again = await b.call('web:echo', { message: 'two' }, ctxFor('web', 'echo'));
    expect(again.structured).toBe('Echo: two');
    expect(hub.connection('web').connectCount).toBe(2);
  });
});

describe('Streamable HTTP server that forgets the session (404)', () => {
  let child: ChildProcess | undefined;
  afterAll(() => stopChild(child));

  it('starts a new session and sends the call again, transparently', async () => {
    const port = await freePort();
    child = spawn(process.execPath, [FIXTURE_SERVER], { env: { ...process.env, FIXTURE_HTTP_PORT: String(port) }, stdio: ['ignore', 'ignore', 'pipe'] });
    await new Promise<void>((resolve, reject) => {
      let out = '';
      child!.stderr!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('listening on port')) resolve();
      });
      child!.on('exit', (code) => reject(new Error(`fixture exited with ${code}: ${out}`)));
    });
    await using hub = new McpHub({ fxh: { url: `http://127.0.0.1:${port}/mcp`, type: 'streamable-http' } }, { backoffInitialMs: 10 });
    const b = hub.backend('fxh');
    expect((await b.call('fxh:add', { a: 1, b: 2 }, ctxFor('fxh', 'add'))).structured).toEqual({ sum: 3 });
    await b.call('fxh:forget-sessions', {}, ctxFor('fxh', 'forget-sessions'));
    expect((await b.call('fxh:add', { a: 3, b: 4 }, ctxFor('fxh', 'add'))).structured).toEqual({ sum: 7 });
    expect(hub.connection('fxh').connectCount).toBe(2);
  });
});
