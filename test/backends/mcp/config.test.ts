// Parsing the mcpServers object: accepted shapes and errors that name the server and key.
import { describe, expect, it } from 'vitest';
import { McpConfigError, parseMcpServers, unknownServerKeys } from '../../../src/backends/mcp/config.js';

function problems(obj: unknown): string[] {
  try {
    parseMcpServers(obj);
  } catch (err) {
    expect(err).toBeInstanceOf(McpConfigError);
    return (err as McpConfigError).problems;
  }
  throw new Error('expected a config error');
}

describe('parseMcpServers', () => {
  it('parses Claude Desktop stdio entries and Cursor / Claude Code URL entries', () => {
    const configs = parseMcpServers({
      github: { command: 'npx', args: ['-y', '@modelcontextprotocol/server-github'], env: { GITHUB_TOKEN: 'x' }, cwd: '/tmp' },
      remote: { url: 'https://example.com/mcp', headers: { Authorization: 'Bearer t' } },
      legacy: { type: 'sse', url: 'http://127.0.0.1:3001/sse' },
      strict: { transport: 'streamableHttp', url: 'http://127.0.0.1:3001/mcp', timeout: 5000 },
      'my server': { command: 'node', disabled: true, autoApprove: ['x'] },
    });
    expect(configs).toEqual([
      { name: 'github', namespace: 'github', disabled: false, transport: 'stdio', command: 'npx', args: ['-y', '@modelcontextprotocol/server-github'], env: { GITHUB_TOKEN: 'x' }, cwd: '/tmp' },
      { name: 'remote', namespace: 'remote', disabled: false, transport: 'http', url: 'https://example.com/mcp', headers: { Authorization: 'Bearer t' } },
      { name: 'legacy', namespace: 'legacy', disabled: false, transport: 'sse', url: 'http://127.0.0.1:3001/sse' },
      { name: 'strict', namespace: 'strict', disabled: false, timeoutMs: 5000, transport: 'streamable-http', url: 'http://127.0.0.1:3001/mcp' },
      { name: 'my server', namespace: 'my_server', disabled: true, transport: 'stdio', command: 'node', args: [] },
    ]);
    expect(unknownServerKeys({ command: 'node', autoApprove: [] })).toEqual(['autoApprove']);
  });

  it('names the server and the key in every problem, and reports them all at once', () => {
    const p = problems({
      github: { command: 42 },
      a: { command: 'x', args: 'not-an-array', env: { TOKEN: 1 } },
      b: { url: 'not a url' },
      c: { url: 'ftp://example.com/' },
      d: {},
      e: { command: 'x', url: 'http://127.0.0.1/' },
      f: { command: 'x', type: 'websocket' },
      g: { command: 'x', timeout: -1, disabled: 'no' },
      h: 'node server.js',
      i: { url: 'http://127.0.0.1/', args: ['x'] },
    });
    expect(p).toContain('mcpServers.github.command must be a string, got number');
    expect(p).toContain('mcpServers.a.args must be an array of strings, got the string "not-an-array"');
    expect(p).toContain('mcpServers.a.env.TOKEN must be a string, got number');
    expect(p).toContain('mcpServers.b.url is not a valid URL: "not a url"');
    expect(p).toContain('mcpServers.c.url must be an http: or https: URL, got "ftp:"');
    expect(p.some((m) => m.startsWith('mcpServers.d needs either "command"'))).toBe(true);
    expect(p.some((m) => m.startsWith('mcpServers.e has both "command" and "url"'))).toBe(true);
    expect(p.some((m) => m.startsWith('mcpServers.f.type must be one of'))).toBe(true);
    expect(p).toContain('mcpServers.g.timeout must be a positive number of milliseconds, got number');
    expect(p).toContain('mcpServers.g.disabled must be a boolean, got the string "no"');
    expect(p).toContain('mcpServers.h must be an object, got the string "node server.js"');
    expect(p).toContain('mcpServers.i.args only applies to stdio servers (with "command")');
  });

  it('refuses a non-object and two names that map to one namespace', () => {
    expect(problems([])).toEqual(['mcpServers must be an object mapping server names to server configs, got an array']);
    expect(problems({ 'a b': { command: 'x' }, 'a/b': { command: 'y' } })[0]).toContain('both map to the tool namespace "a_b"');
  });

  it('uses a single problem as the message itself', () => {
    expect(() => parseMcpServers({ github: { command: 42 } })).toThrow(/^mcpServers\.github\.command must be a string, got number$/);
  });
});
