// `toolexec auth <server>` as a user runs it: the built CLI in its own process, $BROWSER set
// to a script that plays the user clicking "Allow", against a real OAuth-protected MCP
// server (the SDK's server-side auth pieces) on 127.0.0.1; then `tools`, `run` and `serve`
// using, refreshing and finally losing the tokens. No output of any of it may contain a token.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, ROOT } from '../server/helpers.js';
import { clickThrough, startOAuthMcpServer, type OAuthMcpServer } from '../backends/mcp/oauth-server.js';

const BROWSER_SCRIPT = join(ROOT, 'test', 'fixtures', 'mcp', 'browser-allow.mjs');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

const outputs: string[] = [];
/** `text` with the config file's path (named in auth errors) shown as <config>. */
let norm = (text: string) => text;

/** Runs the CLI without blocking this process (the OAuth server lives here). */
function toolexec(args: string[], env: NodeJS.ProcessEnv, onStderr?: (text: string) => void): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      onStderr?.(stderr);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 25_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      outputs.push(stdout, stderr);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('toolexec auth', () => {
  let srv: OAuthMcpServer;
  let dir: string;
  let configFile: string;
  let env: NodeJS.ProcessEnv;
  let oauthDir: string;

  beforeAll(async () => {
    srv = await startOAuthMcpServer();
    dir = mkdtempSync(join(tmpdir(), 'toolexec-auth-cli-'));
    oauthDir = join(dir, 'config', 'oauth');
    configFile = join(dir, 'toolexec.config.json');
    norm = (text) => text.split(configFile).join('<config>');
    writeFileSync(configFile, JSON.stringify({ mcpServers: { remote: { url: srv.url }, local: { command: process.execPath, args: ['-e', ''] , disabled: true } } }));
    const { BROWSER: _ignored, ...rest } = process.env;
    env = { ...rest, TOOLEXEC_CONFIG_DIR: join(dir, 'config'), BROWSER: `${process.execPath} ${BROWSER_SCRIPT}`, BROWSER_LOG: join(dir, 'browser.log') };
  });

  afterAll(async () => {
    await srv?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('before signing in, `tools`, `run` and `serve` say which server needs it and what to run', async () => {
    // Its only server could not start: `tools` says why and fails.
    const tools = await toolexec(['tools', '-c', configFile], env);
    expect(tools.code).toBe(1);
    expect(norm(tools.stderr)).toMatch(/- remote: MCP server "remote" \(http:\/\/127\.0\.0\.1:\d+\/mcp\) needs OAuth authorization: no stored credentials \(it has not been signed in to yet\)\. Run `toolexec auth remote --config <config>` to sign in\./);

    const run = await toolexec(['run', 'remote:echo', '{"text":"hi"}', '-c', configFile], env);
    expect(run.code).toBe(1);
    expect(norm(run.stderr)).toMatch(/- remote: MCP server "remote" \(.*\) needs OAuth authorization: .*Run `toolexec auth remote --config <config>` to sign in\.$/m);

    // serve says the same at start-up (with its only server failed, it stops rather than serve nothing).
    const serve = await new Promise<string>((resolve) => {
      const child = spawn(process.execPath, [CLI, 'serve', '-c', configFile], { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (stderr.includes('to sign in.')) child.stdin.end();
      });
      child.on('close', () => {
        outputs.push(stderr);
        resolve(stderr);
      });
    });
    expect(norm(serve)).toMatch(/- remote: MCP server "remote" .*Run `toolexec auth remote --config <config>` to sign in\./);
    expect(srv.provider.counts.registrations).toBe(0);
  });

  it('signs in through $BROWSER and stores the tokens 0600 in a 0700 folder', async () => {
    const r = await toolexec(['auth', 'remote', '-c', configFile], env);
    expect(r.stderr).toMatch(/opened the sign-in page for "remote" with \$BROWSER; if it did not open, visit:\n\n  http:\/\/127\.0\.0\.1:\d+\/authorize\?/);
    expect(r.stderr).toMatch(/signed in to "remote" \(3 tools, scope "mcp:tools"\); credentials saved to .*config\/oauth\/[0-9a-f]{32}\.json; the access token expires \S+ and is refreshed automatically/);
    expect(r.code).toBe(0);
    expect(readFileSync(join(dir, 'browser.log'), 'utf8')).toBe('allow: callback answered 200\n');
    expect(statSync(oauthDir).mode & 0o777).toBe(0o700);
    const [file] = readdirSync(oauthDir);
    expect(statSync(join(oauthDir, file!)).mode & 0o777).toBe(0o600);
    expect(srv.provider.counts).toMatchObject({ registrations: 1, authorizations: 1, codeExchanges: 1 });
  });

  it('later commands use the token, and refresh it when it expires', async () => {
    const tools = await toolexec(['tools', '-c', configFile], env);
    expect(tools.stderr).toBe('');
    expect(tools.stdout).toMatch(/^remote:admin\s+Needs the mcp:admin scope\nremote:echo\s+Echoes its text\nremote:whoami\s+Who the token belongs to\n$/);

    const who = await toolexec(['run', 'remote:whoami', '{}', '-c', configFile], env);
    expect(who.code).toBe(0);
    expect(JSON.parse(who.stdout)).toEqual({ clientId: expect.stringMatching(/^client_/), scopes: ['mcp:tools'] });

    srv.provider.expireAccessTokens();
    const refreshes = srv.provider.counts.refreshes;
    const echo = await toolexec(['run', 'remote:echo', '{"text":"after expiry"}', '-c', configFile], env);
    expect(echo.stderr).toBe('');
    expect(echo.stdout.trim()).toBe('"after expiry"');
    expect(srv.provider.counts.refreshes).toBe(refreshes + 1);
  });

  it('a revoked refresh token brings back the "run toolexec auth" error; signing in again (URL printed, no $BROWSER) fixes it', async () => {
    srv.provider.expireAccessTokens();
    srv.provider.revokeRefreshTokens();
    const run = await toolexec(['run', 'remote:echo', '{"text":"x"}', '-c', configFile], env);
    expect(run.code).toBe(1);
    expect(norm(run.stderr)).toMatch(/needs OAuth authorization: the server rejected the stored credentials\. Run `toolexec auth remote --config <config>` to sign in\./);

    // Without $BROWSER the URL is printed; the "user" copies it into a browser.
    const { BROWSER: _none, ...noBrowser } = env;
    let clicked: Promise<Response> | undefined;
    const auth = await toolexec(['auth', 'remote', '-c', configFile], noBrowser, (stderr) => {
      const url = /open this URL in a browser on this machine:\n\n  (\S+)\n/.exec(stderr)?.[1];
      if (url && !clicked) clicked = clickThrough(url);
    });
    expect(auth.stderr).toMatch(/^To sign in to "remote", open this URL in a browser on this machine:\n\n  http:\/\/127\.0\.0\.1:\d+\/authorize\?\S*code_challenge_method=S256/);
    expect(auth.code).toBe(0);
    expect((await clicked!).status).toBe(200);
    const echo = await toolexec(['run', 'remote:echo', '{"text":"back"}', '-c', configFile], env);
    expect(echo.stdout.trim()).toBe('"back"');
  });

  it('reports a refused consent, a browser that never comes back, and servers it cannot sign in to', async () => {
    const denied = await toolexec(['auth', 'remote', '-c', configFile], { ...env, BROWSER_DECISION: 'deny' });
    expect(denied.code).toBe(1);
    expect(denied.stderr).toMatch(/toolexec: the authorization server refused the sign-in to "remote": access_denied \(the user said no\)\n$/);

    const waiting = await toolexec(['auth', 'remote', '-c', configFile, '--no-browser', '--timeout', '0.5'], env);
    expect(waiting.code).toBe(1);
    expect(waiting.stderr).toMatch(/toolexec: no sign-in came back to http:\/\/127\.0\.0\.1:\d+\/callback within 0.5 s, so "remote" is not signed in: open the URL in a browser on this machine and allow access, or wait longer \(--timeout\)\n$/);

    const unknown = await toolexec(['auth', 'nope', '-c', configFile], env);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/no MCP server named "nope" in .*toolexec\.config\.json; remote servers: "remote"/);
    const local = await toolexec(['auth', 'local', '-c', configFile], env);
    expect(local.code).toBe(1);
    expect(local.stderr).toMatch(/MCP server "local" is a local \(stdio\) server: OAuth sign-in applies to remote servers \(with "url"\) only/);
    const badPort = await toolexec(['auth', 'remote', '--port', '99999', '-c', configFile], env);
    expect(badPort.code).toBe(2);
    expect(badPort.stderr).toMatch(/--port must be a port number from 1 to 65535/);
  });

  it('--logout forgets the credentials', async () => {
    const r = await toolexec(['auth', 'remote', '--logout', '-c', configFile], env);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/removed the stored credentials of "remote"/);
    expect(readdirSync(oauthDir)).toEqual([]);
    const again = await toolexec(['run', 'remote:echo', '{"text":"x"}', '-c', configFile], env);
    expect(again.stderr).toMatch(/no stored credentials/);
  });

  it('printed no token, code or client secret anywhere', () => {
    expect(srv.provider.issued.length).toBeGreaterThan(4);
    const all = outputs.join('\n');
    for (const secret of srv.provider.issued) expect(all).not.toContain(secret);
  });
});

describe('$BROWSER', () => {
  it('is split into commands and words without a shell; %s stands for the URL, else it is appended', async () => {
    const { browserCommands } = await import('../../src/cli/auth-command.js');
    const url = 'https://a.example/authorize?x=1&y=$(touch /tmp/pwned);z';
    expect(browserCommands('firefox --new-window', url)).toEqual([['firefox', '--new-window', url]]);
    expect(browserCommands('w3m %s:xdg-open', url)).toEqual([['w3m', url], ['xdg-open', url]]);
    expect(browserCommands(' : ', url)).toEqual([]);
  });
});

describe('README: Remote MCP servers that use OAuth', () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('## Remote MCP servers that use OAuth');
  const section = readme.slice(start, readme.indexOf('\n## ', start + 3));
  /** The first fenced block with the info string `lang` (`""` for a bare fence). */
  const block = (lang: string) => {
    let current: { lang: string; lines: string[] } | undefined;
    for (const line of section.split('\n')) {
      const fence = /^```(\S*)$/.exec(line);
      if (fence && !current) current = { lang: fence[1]!, lines: [] };
      else if (fence && current) {
        if (current.lang === lang) return current.lines.join('\n');
        current = undefined;
      } else current?.lines.push(line);
    }
    return '';
  };

  it('its config is valid and means what the text says', async () => {
    const { checkConfig } = await import('../../src/config/load-config.js');
    const config = checkConfig(JSON.parse(block('json')), { dir: '/home/me' });
    expect(config.mcpServers).toMatchObject([
      { name: 'docs', transport: 'http', url: 'https://mcp.example.com/mcp' },
      { name: 'internal', oauth: { clientId: 'toolexec-cli', scopes: ['tools:read', 'tools:write'], redirectPort: 8765 } },
    ]);
  });

  it('shows the messages toolexec prints', async () => {
    const { McpAuthRequiredError } = await import('../../src/backends/mcp/errors.js');
    expect(block('').trim()).toBe(new McpAuthRequiredError('docs', 'https://mcp.example.com/mcp', 'no stored credentials (it has not been signed in to yet)', { configFile: '/home/me/.toolexec/toolexec.config.json' }).message);
    const shown = block('sh').split('\n').filter((l) => l.startsWith('#')).map((l) => l.replace(/^# ?/, '')).join('\n');
    expect(shown).toMatch(/^To sign in to "docs", open this URL in a browser on this machine:\n\n  https:\/\/\S+code_challenge_method=S256/);
    expect(shown).toMatch(/\ntoolexec: waiting for the browser to come back\.\.\.\n/);
    expect(shown).toMatch(/toolexec: signed in to "docs" \(12 tools, scope "mcp:tools"\); credentials saved to \S+\.json; the access token expires \S+ and is refreshed automatically$/);
  });
});
