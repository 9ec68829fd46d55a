// Streamable HTTP connections that drop: the server process dies mid-call, then comes back
// on the same port (with none of the old sessions).
import type { ChildProcess } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { McpHub } from '../../src/backends/mcp/index.js';
import { ToolError } from '../../src/model/errors.js';
import { ctxFor, freePort, startEverythingHttp, stopChild } from './helpers.js';

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
