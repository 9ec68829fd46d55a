// Parsing the mcpServers object: accepted shapes and errors that name the server and key.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { McpConfigError, parseMcpServers, stdioServerEnv, unknownServerKeys, type McpStdioServerConfig } from '../../../src/backends/mcp/config.js';

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

describe('mcpServers values from the environment', () => {
  const env = { TOKEN: 'tok-1234567890', HOST: 'example.com', EMPTY: '' };

  it('expands ${VAR} and ${VAR:-default} in command, args, env, cwd, url and headers', () => {
    const [stdio, http] = parseMcpServers(
      {
        s: { command: '${HOST:-node}', args: ['--token=${TOKEN}', '${MISSING:-fallback}', '${EMPTY:-empty-means-default}'], env: { KEY: '${TOKEN}' }, cwd: '/srv/${HOST}' },
        h: { url: 'https://${HOST}/mcp?k=${TOKEN}', headers: { Authorization: 'Bearer ${TOKEN}' } },
      },
      { env },
    );
    expect(stdio).toMatchObject({ command: 'example.com', args: ['--token=tok-1234567890', 'fallback', 'empty-means-default'], env: { KEY: 'tok-1234567890' }, cwd: '/srv/example.com' });
    expect(http).toMatchObject({ url: 'https://example.com/mcp?k=tok-1234567890', headers: { Authorization: 'Bearer tok-1234567890' } });
    // What came from the environment is recorded, defaults are not (they are in the file).
    expect(stdio!.secrets?.map((s) => s.name)).toEqual(['HOST', 'TOKEN', 'TOKEN', 'HOST']);
    expect(stdio!.secrets?.some((s) => s.value === 'fallback')).toBe(false);
  });

  it('does not count paths and names everyone can see as secrets', () => {
    const [s] = parseMcpServers({ s: { command: 'x', args: ['${HOME}/data', '${XDG_CONFIG_HOME:-/etc}', '${USER}'] } }, { env: { HOME: '/home/someone', USER: 'someone', XDG_CONFIG_HOME: '/home/someone/.config' } });
    expect(s).toMatchObject({ args: ['/home/someone/data', '/home/someone/.config', 'someone'] });
    expect(s!.secrets).toBeUndefined();
  });

  it('takes $${ as a literal ${ and leaves other dollars alone', () => {
    const [s] = parseMcpServers({ s: { command: 'x', args: ['$${TOKEN}', 'pa$$word', '$HOME', 'a$${b}c'] } }, { env });
    expect(s).toMatchObject({ args: ['${TOKEN}', 'pa$$word', '$HOME', 'a${b}c'] });
    expect(s!.secrets).toBeUndefined();
  });

  it('names the variable and the server when a variable is missing, and refuses malformed references', () => {
    const p = problems({ github: { command: 'x', env: { GITHUB_TOKEN: '${GH_TOKEN_NOT_SET_ANYWHERE}' } }, bad: { command: 'x', args: ['${1X}', '${OPEN'] } });
    expect(p).toContain(
      'mcpServers.github.env.GITHUB_TOKEN refers to ${GH_TOKEN_NOT_SET_ANYWHERE}, which is not set in the environment; set GH_TOKEN_NOT_SET_ANYWHERE, or write ${GH_TOKEN_NOT_SET_ANYWHERE:-default} to give a default',
    );
    expect(p.some((m) => m.startsWith('mcpServers.bad.args[0]: ${1X} is not a variable reference'))).toBe(true);
    expect(p.some((m) => m.startsWith('mcpServers.bad.args[1] has a "${" without its closing "}"'))).toBe(true);
  });

  it('never shows an expanded value in a problem', () => {
    let message = '';
    try {
      parseMcpServers({ remote: { url: 'not a url ${TOKEN}' } }, { env });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toBe('mcpServers.remote.url is not a valid URL: "not a url [redacted:TOKEN]"');
  });

  it('reports unknown keys with a suggestion, and accepts the keys other clients add', () => {
    const p = problems({ a: { command: 'x', evn: {}, timout: 5 }, b: { command: 'x', autoApprove: [], alwaysAllow: [], disabledTools: [], transportType: 'stdio', description: 'd' } });
    expect(p).toHaveLength(2);
    expect(p[0]).toMatch(/^unknown key mcpServers\.a\.evn \(did you mean "env"\?\); a server entry takes command, args, env, envFile, cwd, inheritEnv, url/);
    expect(p[1]).toMatch(/^unknown key mcpServers\.a\.timout \(did you mean "timeout"\?\)/);
    expect(problems({ w: { serverUrl: 'https://x.test/mcp' } })[0]).toMatch(/"serverUrl" is another client's spelling: write "url"/);
  });

  it('checks inheritEnv and builds the child environment from it', () => {
    const p = problems({ a: { command: 'x', inheritEnv: 'yes' }, b: { command: 'x', inheritEnv: ['OK', 'not ok'] }, c: { url: 'http://127.0.0.1/', inheritEnv: true } });
    expect(p).toContain('mcpServers.a.inheritEnv must be true (the whole environment), false (the safe default set) or a list of variable names, got the string "yes"');
    expect(p).toContain('mcpServers.b.inheritEnv[1] must be a variable name (letters, digits, "_"), got the string "not ok"');
    expect(p).toContain('mcpServers.c.inheritEnv only applies to stdio servers (with "command")');
    const parent = { PATH: '/bin', EXTRA: 'e', OTHER: 'o' };
    const [none, all, some, off] = parseMcpServers({
      none: { command: 'x', env: { A: '1' } },
      all: { command: 'x', env: { EXTRA: 'mine' }, inheritEnv: true },
      some: { command: 'x', inheritEnv: ['EXTRA', 'ABSENT'] },
      off: { command: 'x', inheritEnv: false },
    }) as McpStdioServerConfig[];
    expect(stdioServerEnv(none!, parent)).toEqual({ A: '1' });
    expect(stdioServerEnv(all!, parent)).toEqual({ PATH: '/bin', EXTRA: 'mine', OTHER: 'o' });
    expect(stdioServerEnv(some!, parent)).toEqual({ EXTRA: 'e' });
    expect(stdioServerEnv(off!, parent)).toBeUndefined();
  });

  it('resolves relative paths against dir: cwd, envFile and a command written as a path', () => {
    const dir = mkdtempSync(join(tmpdir(), 'toolexec-mcp-config-'));
    writeFileSync(join(dir, '.env'), 'FROM_FILE=file-secret-value\nBOTH=from-file\n');
    const [s, bare, elsewhere] = parseMcpServers(
      {
        s: { command: './bin/server', args: ['./data'], cwd: 'work', envFile: '.env', env: { BOTH: 'from-env' } },
        bare: { command: 'node' },
        elsewhere: { command: 'node', cwd: '/tmp' },
      },
      { dir, defaultCwd: dir },
    ) as McpStdioServerConfig[];
    expect(s).toMatchObject({ command: join(dir, 'bin', 'server'), args: ['./data'], cwd: join(dir, 'work'), env: { FROM_FILE: 'file-secret-value', BOTH: 'from-env' } });
    expect(s!.secrets?.map((x) => x.name).sort()).toEqual(['BOTH', 'FROM_FILE']);
    expect(bare).toMatchObject({ command: 'node', cwd: dir });
    expect(elsewhere!.cwd).toBe('/tmp');
    expect(problems({ m: { command: 'x', envFile: 'nope.env' } })[0]).toMatch(/^mcpServers\.m\.envFile: file not found \(looked at .*nope\.env\)$/);
  });
});
