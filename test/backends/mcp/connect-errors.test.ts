// Servers that cannot start or be reached: the error names the server and the cause.
import { describe, expect, it } from 'vitest';
import { InMemoryIndex } from '../../../src/index/in-memory-index.js';
import { connectMcpServers, McpHub } from '../../../src/backends/mcp/hub.js';
import { McpConnectionError } from '../../../src/backends/mcp/errors.js';
import { ToolError } from '../../../src/model/errors.js';
import { ctxFor, fixtureStdio, freePort } from './helpers.js';

async function connectError(config: Record<string, unknown>, options: Record<string, unknown> = {}): Promise<McpConnectionError> {
  await using hub = new McpHub(config, options);
  try {
    await hub.connection(Object.keys(config)[0]!).client();
  } catch (err) {
    expect(err).toBeInstanceOf(McpConnectionError);
    return err as McpConnectionError;
  }
  throw new Error('expected the connection to fail');
}

describe('MCP servers that cannot start', () => {
  it('a missing command', async () => {
    const err = await connectError({ ghost: { command: 'toolexec-no-such-command-xyz' } });
    expect(err.message).toMatch(/^MCP server "ghost" could not be started: command not found: "toolexec-no-such-command-xyz"/);
    expect(err.retryable).toBe(false);
  });

  it('a cwd that does not exist', async () => {
    const err = await connectError({ nowhere: { command: process.execPath, cwd: '/definitely/not/here' } });
    expect(err.message).toContain('MCP server "nowhere" could not be started: its cwd "/definitely/not/here" is not an existing directory');
  });

  it('a server that exits before the handshake, with its stderr in the message', async () => {
    const err = await connectError({ quitter: fixtureStdio({ FIXTURE_MODE: 'exit-before-handshake' }) });
    expect(err.message).toContain('MCP server "quitter"');
    expect(err.message).toContain('failed the MCP handshake: the process exited (or closed its stdout) before answering initialize');
    expect(err.message).toContain('fixture: refusing to start');
  });

  it('a program that is not an MCP server (never answers initialize)', async () => {
    // Long enough for a loaded machine to start node and read the garbage line before giving up.
    const err = await connectError({ garbage: fixtureStdio({ FIXTURE_MODE: 'garbage' }) }, { connectTimeoutMs: 4000 });
    expect(err.message).toContain('MCP server "garbage"');
    expect(err.message).toContain('failed the MCP handshake');
    expect(err.message).toContain('fixture: writing garbage');
    expect(err.message).toContain('is not valid JSON');
    // The process ignores stdin closing; it must still be gone once the error is reported.
    const pid = Number(/pid=(\d+)/.exec(err.message)![1]);
    expect(() => process.kill(pid, 0)).toThrow();
  });

  it('a URL where nothing listens', async () => {
    const port = await freePort();
    const err = await connectError({ remote: { url: `http://127.0.0.1:${port}/mcp` } });
    expect(err.message).toContain(`MCP server "remote" could not be reached at http://127.0.0.1:${port}/mcp`);
    expect(err.message).toContain('ECONNREFUSED');
  });

  it('a call to a server that cannot start fails with EXECUTION naming the server', async () => {
    await using hub = new McpHub({ ghost: { command: 'toolexec-no-such-command-xyz' } });
    const err = await hub.backend('ghost').call('ghost:x', {}, ctxFor('ghost', 'x')).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ToolError);
    expect((err as ToolError).code).toBe('EXECUTION');
    expect((err as ToolError).message).toContain('MCP server "ghost" could not be started');
    expect((err as ToolError).retryable).toBe(false);
  });

  it('connectMcpServers throws the failing server\'s error and leaves nothing running; "skip" reports it instead', async () => {
    const index = new InMemoryIndex();
    const config = { mcpServers: { good: fixtureStdio(), ghost: { command: 'toolexec-no-such-command-xyz' } } };
    await expect(connectMcpServers(config, { index })).rejects.toThrow(/MCP server "ghost" could not be started/);
    const handle = await connectMcpServers(config, { index, onServerError: 'skip' });
    try {
      const ghost = handle.imports.find((i) => i.server === 'ghost')!;
      expect(ghost.error?.message).toContain('command not found');
      expect(handle.imports.find((i) => i.server === 'good')!.tools).toContain('good:echo');
      expect(index.has('good:echo')).toBe(true);
    } finally {
      await handle.close();
    }
    expect(handle.hub.alive).toBe(false);
  });

  it('backs off before reconnecting, and close() cuts the wait short', async () => {
    // A one-minute backoff: only close() can end the second call within the test timeout.
    const hub = new McpHub({ ghost: { command: 'toolexec-no-such-command-xyz' } }, { backoffInitialMs: 60_000 });
    const b = hub.backend('ghost');
    await expect(b.call('ghost:x', {}, ctxFor('ghost', 'x'))).rejects.toThrow(/could not be started/);
    expect(hub.connection('ghost').failures).toBe(1);
    const second = b.call('ghost:x', {}, ctxFor('ghost', 'x')).then(
      () => undefined,
      (e: unknown) => e as ToolError,
    );
    await new Promise((r) => setTimeout(r, 50));
    await hub.close();
    const err = await second;
    expect(err?.code).toBe('EXECUTION');
    expect(err?.message).toContain('closed');
    expect(err?.retryable).toBe(false);
  });

  it('lets a caller abort while waiting out the backoff', async () => {
    await using hub = new McpHub({ ghost: { command: 'toolexec-no-such-command-xyz' } }, { backoffInitialMs: 60_000 });
    const b = hub.backend('ghost');
    await expect(b.call('ghost:x', {}, ctxFor('ghost', 'x'))).rejects.toThrow(/could not be started/);
    const err = await b.call('ghost:x', {}, ctxFor('ghost', 'x', { signal: AbortSignal.timeout(100) })).then(
      () => undefined,
      (e: unknown) => e as ToolError,
    );
    expect(err?.code).toBe('TIMEOUT');
  });

  it('names the known servers when asked for an unknown or disabled one', async () => {
    await using hub = new McpHub({ a: { command: 'x' }, off: { command: 'y', disabled: true } });
    expect(() => hub.connection('b')).toThrow('No MCP server named "b"; configured: "a"');
    expect(() => hub.connection('off')).toThrow('MCP server "off" is disabled in the config');
    expect(hub.servers).toEqual(['a']);
  });
});
