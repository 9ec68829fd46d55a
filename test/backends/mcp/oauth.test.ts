// OAuth 2.1 to a remote MCP server, end to end in one process: the SDK's client auth in our
// connection against a real OAuth-protected MCP server (the SDK's server-side auth pieces)
// on 127.0.0.1. The sign-in is `authorizeMcpServer` with a "browser" that follows the
// consent page's Allow link; the CLI and $BROWSER are covered in test/cli/auth-command.test.ts.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, chmodSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { McpBackend } from '../../../src/backends/mcp/backend.js';
import { parseMcpServer, type McpServerConfig } from '../../../src/backends/mcp/config.js';
import { McpConnection } from '../../../src/backends/mcp/connection.js';
import { McpAuthRequiredError } from '../../../src/backends/mcp/errors.js';
import { authorizeMcpServer, forgetMcpServerAuth } from '../../../src/backends/mcp/oauth-flow.js';
import { OAuthStore, toolexecConfigDir } from '../../../src/backends/mcp/oauth-store.js';
import { ctxFor, rejection } from './helpers.js';
import { clickThrough, startOAuthMcpServer, type OAuthMcpServer } from './oauth-server.js';

function server(raw: Record<string, unknown>, name = 'remote'): McpServerConfig {
  const { config, problems } = parseMcpServer(name, raw);
  if (!config) throw new Error(problems.join('\n'));
  return config;
}

const dirs: string[] = [];
function freshDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'toolexec-oauth-'));
  dirs.push(d);
  return join(d, 'oauth');
}

afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const connections: McpConnection[] = [];
function connect(config: McpServerConfig, oauthDir: string): McpConnection {
  const c = new McpConnection(config, { oauthDir, backoffInitialMs: 1, backoffMaxMs: 1 });
  connections.push(c);
  return c;
}
afterEach(async () => {
  await Promise.all(connections.splice(0).map((c) => c.close()));
});

async function signIn(config: McpServerConfig, oauthDir: string, decision: 'allow' | 'deny' = 'allow') {
  return authorizeMcpServer(config, {
    oauthDir,
    open: async (url) => {
      await clickThrough(url, decision);
    },
  });
}

async function whoami(c: McpConnection) {
  const backend = new McpBackend(c);
  return backend.call('remote:whoami', {}, ctxFor('remote', 'whoami'));
}

describe('OAuth to a remote MCP server', () => {
  let srv: OAuthMcpServer;
  beforeAll(async () => {
    srv = await startOAuthMcpServer();
  });
  afterAll(async () => {
    await srv.close();
  });

  it('fails with a clear error naming the server and `toolexec auth` before any sign-in, registering nothing', async () => {
    const before = srv.provider.counts.registrations;
    const c = connect(server({ url: srv.url }), freshDir());
    const err = await c.listTools().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(McpAuthRequiredError);
    expect((err as Error).message).toMatch(/^MCP server "remote" \(http:\/\/127\.0\.0\.1:\d+\/mcp\) needs OAuth authorization: no stored credentials.*Run `toolexec auth remote` to sign in\.$/);
    expect((err as McpAuthRequiredError).retryable).toBe(false);
    // Registering a client needs the user's sign-in: nothing was sent to the authorization server's registration endpoint.
    expect(srv.provider.counts.registrations).toBe(before);
    // The same error reaches a tool call, as a ToolError.
    const toolErr = await rejection(whoami(c));
    expect(toolErr.code).toBe('EXECUTION');
    expect(toolErr.message).toMatch(/Run `toolexec auth remote` to sign in/);
    expect(toolErr.data).toEqual({ code: 'MCP_AUTH_REQUIRED', command: 'toolexec auth remote' });
    expect(toolErr.retryable).toBe(false);
  });

  it('signs in (discovery, dynamic registration, PKCE), stores the tokens 0600 in a 0700 folder, and later connections use them', async () => {
    const dir = freshDir();
    const config = server({ url: srv.url });
    const counts = { ...srv.provider.counts };
    const result = await signIn(config, dir);
    expect(result.status).toBe('authorized');
    expect(result.tools).toBe(3);
    expect(result.refreshable).toBe(true);
    expect(result.scope).toBe('mcp:tools');
    expect(srv.provider.counts.registrations).toBe(counts.registrations + 1);
    expect(srv.provider.counts.codeExchanges).toBe(counts.codeExchanges + 1);

    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(readdirSync(dir)).toHaveLength(1);
    expect(statSync(result.file).mode & 0o777).toBe(0o600);
    const record = JSON.parse(readFileSync(result.file, 'utf8'));
    expect(record.serverUrl).toBe(srv.url);
    expect(record.tokens.access_token).toMatch(/^at_/);
    expect(record.tokens.refresh_token).toMatch(/^rt_/);
    expect(record.client.client_id).toMatch(/^client_/);
    // The PKCE verifier is only kept while a sign-in is in progress.
    expect(record.codeVerifier).toBeUndefined();

    const c = connect(config, dir);
    const who = await whoami(c);
    expect(who.structured).toEqual({ clientId: record.client.client_id, scopes: ['mcp:tools'] });
    expect(srv.seenAuthorization.at(-1)).toBe(`Bearer ${record.tokens.access_token}`);
  });

  it('refreshes an expired access token transparently (once for parallel calls), rotating the stored refresh token', async () => {
    const dir = freshDir();
    const config = server({ url: srv.url });
    const { file } = await signIn(config, dir);
    const first = JSON.parse(readFileSync(file, 'utf8')).tokens;
    const c = connect(config, dir);
    await whoami(c);

    srv.provider.expireAccessTokens();
    const refreshes = srv.provider.counts.refreshes;
    const results = await Promise.all(Array.from({ length: 5 }, () => whoami(c)));
    for (const r of results) expect((r.structured as { clientId: string }).clientId).toMatch(/^client_/);
    // Five calls met the same 401; the server rotates refresh tokens, so five refreshes would have failed all but one.
    expect(srv.provider.counts.refreshes).toBe(refreshes + 1);
    expect(srv.provider.counts.refreshFailures).toBe(0);
    const second = JSON.parse(readFileSync(file, 'utf8')).tokens;
    expect(second.access_token).not.toBe(first.access_token);
    expect(second.refresh_token).not.toBe(first.refresh_token);
    expect(statSync(file).mode & 0o777).toBe(0o600);

    // A new connection (another process, later) starts from the refreshed tokens.
    const again = connect(config, dir);
    await whoami(again);
    expect(srv.provider.counts.refreshes).toBe(refreshes + 1);
  });

  it('a revoked refresh token leads back to the clear "run toolexec auth" error, and signing in again fixes it', async () => {
    const dir = freshDir();
    const config = server({ url: srv.url });
    const { file } = await signIn(config, dir);
    const c = connect(config, dir);
    await whoami(c);
    srv.provider.expireAccessTokens();
    srv.provider.revokeRefreshTokens();
    const err = await rejection(whoami(c));
    expect(err.message).toMatch(/^MCP server "remote" \(.*\) needs OAuth authorization: the server rejected the stored credentials\. Run `toolexec auth remote` to sign in\.$/);
    expect(err.data).toMatchObject({ code: 'MCP_AUTH_REQUIRED' });
    // The dead tokens are gone; the client registration stays for the next sign-in.
    const record = JSON.parse(readFileSync(file, 'utf8'));
    expect(record.tokens).toBeUndefined();
    expect(record.client.client_id).toMatch(/^client_/);
    // A fresh connection says the same without asking the authorization server anything.
    const fresh = connect(config, dir);
    await expect(fresh.listTools()).rejects.toThrow(/Run `toolexec auth remote`/);

    const registrations = srv.provider.counts.registrations;
    await signIn(config, dir);
    // Same loopback port? No: a free one each time, so the client is registered again for the new redirect URI.
    expect(srv.provider.counts.registrations).toBeGreaterThanOrEqual(registrations);
    // The running connection picks up the new tokens from the file on its next call.
    expect((await whoami(c)).structured).toMatchObject({ scopes: ['mcp:tools'] });
  });

  it('a step-up (403 insufficient_scope) says which scopes the server wants, and the next sign-in asks for them', async () => {
    const dir = freshDir();
    const config = server({ url: srv.url });
    const first = await signIn(config, dir);
    expect(first.scope).toBe('mcp:tools');
    const c = connect(config, dir);
    const backend = new McpBackend(c);
    const err = await rejection(backend.call('remote:admin', {}, ctxFor('remote', 'admin')));
    expect(err.message).toMatch(/needs OAuth authorization: the server asks for more access \(scope "mcp:tools mcp:admin"\) than the sign-in granted\. Run `toolexec auth remote`/);
    expect(err.data).toMatchObject({ code: 'MCP_AUTH_REQUIRED' });
    let asked: string | null = null;
    const second = await authorizeMcpServer(config, {
      oauthDir: dir,
      open: async (url) => {
        asked = url.searchParams.get('scope');
        await clickThrough(url);
      },
    });
    expect(asked).toBe('mcp:tools mcp:admin');
    expect(second.scope).toBe('mcp:tools mcp:admin');
    expect((await backend.call('remote:admin', {}, ctxFor('remote', 'admin'))).structured).toBe('admin ok');
  });

  it('works the same over the old HTTP+SSE transport (sign-in, calls, refresh)', async () => {
    const sseServer = await startOAuthMcpServer({ transport: 'sse' });
    try {
      const dir = freshDir();
      const config = server({ url: sseServer.url, type: 'sse' });
      await expect(connect(config, dir).listTools()).rejects.toThrow(/needs OAuth authorization: no stored credentials/);
      const result = await signIn(config, dir);
      expect(result.tools).toBe(3);
      const c = connect(config, dir);
      expect((await whoami(c)).structured).toMatchObject({ scopes: ['mcp:tools'] });
      sseServer.provider.expireAccessTokens();
      // The open event stream carries on; the next POST meets the 401 and refreshes.
      expect((await whoami(c)).structured).toMatchObject({ scopes: ['mcp:tools'] });
      expect(sseServer.provider.counts.refreshes).toBe(1);
    } finally {
      await sseServer.close();
    }
  });

  it('gives up with the clear error when the server refuses even fresh tokens (no endless refreshing), on both HTTP transports', async () => {
    for (const transport of ['streamable-http', 'sse'] as const) {
      const strict = await startOAuthMcpServer({ transport });
      try {
        const dir = freshDir();
        const config = server({ url: strict.url, type: transport });
        await signIn(config, dir);
        const c = connect(config, dir);
        await whoami(c);
        strict.provider.refuseAllTokens = true;
        const err = await rejection(whoami(c));
        expect(err.message, transport).toMatch(/needs OAuth authorization: the server (rejected the access token even after refreshing it|refused 3 access tokens in a row, fresh ones included)\. Run `toolexec auth remote`/);
        expect(strict.provider.counts.refreshes, transport).toBeLessThanOrEqual(3);
      } finally {
        await strict.close();
      }
    }
  });

  it('keeps the stored client when the redirect port is fixed (oauth.redirectPort), registering once', async () => {
    const dir = freshDir();
    const probe = await import('./helpers.js').then((h) => h.freePort());
    const config = server({ url: srv.url, oauth: { redirectPort: probe } });
    const registrations = srv.provider.counts.registrations;
    await signIn(config, dir);
    await signIn(config, dir);
    expect(srv.provider.counts.registrations).toBe(registrations + 1);
  });

  it('reports a refused consent and a sign-in that never comes back, keeping old tokens', async () => {
    const dir = freshDir();
    const config = server({ url: srv.url });
    await expect(signIn(config, dir, 'deny')).rejects.toThrow(/the authorization server refused the sign-in to "remote": access_denied \(the user said no\)/);
    await signIn(config, dir);
    const before = new OAuthStore(dir).read(srv.url)!.tokens!.access_token;
    let opened: URL | undefined;
    const timedOut = authorizeMcpServer(config, {
      oauthDir: dir,
      timeoutMs: 300,
      open: (url) => {
        opened = url;
      },
    });
    await expect(timedOut).rejects.toThrow(/no sign-in came back to http:\/\/127\.0\.0\.1:\d+\/callback within 0.3 s, so "remote" is not signed in/);
    expect(opened?.searchParams.get('code_challenge_method')).toBe('S256');
    expect(new OAuthStore(dir).read(srv.url)!.tokens!.access_token).toBe(before);
  });

  it('turns away a redirect without the sign-in\'s state and keeps waiting for the real one', async () => {
    const dir = freshDir();
    const config = server({ url: srv.url });
    const statuses: number[] = [];
    const result = await authorizeMcpServer(config, {
      oauthDir: dir,
      open: async (url) => {
        const redirect = new URL(url.searchParams.get('redirect_uri')!);
        redirect.searchParams.set('code', 'forged');
        redirect.searchParams.set('state', 'not-the-state');
        statuses.push((await fetch(redirect)).status);
        redirect.searchParams.delete('state');
        statuses.push((await fetch(redirect)).status);
        statuses.push((await fetch(new URL('/elsewhere', redirect))).status);
        await clickThrough(url);
      },
    });
    expect(statuses).toEqual([400, 400, 404]);
    expect(result.status).toBe('authorized');
  });

  it('without a refresh token, an expired access token needs a new sign-in (and says so)', async () => {
    const noRefresh = await startOAuthMcpServer({ issueRefreshTokens: false });
    try {
      const dir = freshDir();
      const config = server({ url: noRefresh.url });
      const result = await signIn(config, dir);
      expect(result.refreshable).toBe(false);
      const c = connect(config, dir);
      await whoami(c);
      noRefresh.provider.expireAccessTokens();
      const err = await rejection(whoami(c));
      expect(err.message).toMatch(/needs OAuth authorization: the server rejected the access token \(expired or revoked\) and there is no refresh token\. Run `toolexec auth remote`/);
    } finally {
      await noRefresh.close();
    }
  });

  it('really expires: with 3-second tokens the next call after expiry refreshes', async () => {
    // Not 1 s: on a loaded machine a refresh and the retried call can outlast a 1-second token,
    // and a token rejected right after its refresh is, by design, the sign-in error (no endless refreshing).
    const shortLived = await startOAuthMcpServer({ accessTokenTtlSeconds: 3 });
    try {
      const dir = freshDir();
      const config = server({ url: shortLived.url });
      const { expiresAt } = await signIn(config, dir);
      const c = connect(config, dir);
      await whoami(c);
      // Wait for the clock, not for a duration we guess.
      while (Date.now() <= expiresAt! + 50) await new Promise((r) => setTimeout(r, 100));
      await whoami(c);
      // At least the one refresh after expiry; on a loaded machine the call itself can outlast a
      // short token and refresh again (one refresh for many parallel calls is tested above).
      expect(shortLived.provider.counts.refreshes).toBeGreaterThanOrEqual(1);
    } finally {
      await shortLived.close();
    }
  });

  it('never sends the config\'s headers to the authorization server, and `oauth: false` makes a 401 a plain error', async () => {
    const dir = freshDir();
    await signIn(server({ url: srv.url, headers: { 'X-Api-Key': 'k-123456' } }), dir);
    expect(srv.authServerHeaders.has('x-api-key')).toBe(false);

    const off = connect(server({ url: srv.url, oauth: false }), freshDir());
    await expect(off.listTools()).rejects.toThrow(/^MCP server "remote" \(.*\) answered 401 Unauthorized and "oauth" is false for this server: check the credentials in its config$/);
    const staticToken = connect(server({ url: srv.url, headers: { Authorization: 'Bearer wrong-token' } }), freshDir());
    await expect(staticToken.listTools()).rejects.toThrow(/answered 401 Unauthorized and the config sends its own Authorization header/);
  });

  it('forgets a server\'s credentials on request', async () => {
    const dir = freshDir();
    const config = server({ url: srv.url });
    const { file } = await signIn(config, dir);
    expect(forgetMcpServerAuth(config, { oauthDir: dir })).toEqual({ removed: true, file });
    expect(forgetMcpServerAuth(config, { oauthDir: dir }).removed).toBe(false);
    await expect(connect(config, dir).listTools()).rejects.toThrow(McpAuthRequiredError);
  });

  it('stops reading an authorization server that answers discovery with megabytes, and names it', async () => {
    const { createServer } = await import('node:http');
    const hostile = createServer((req, res) => {
      const base = `http://127.0.0.1:${(hostile.address() as { port: number }).port}`;
      if (req.url === '/mcp') {
        res.writeHead(401, { 'www-authenticate': `Bearer resource_metadata="${base}/prm"` }).end();
      } else if (req.url === '/prm') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ resource: `${base}/mcp`, authorization_servers: [base] }));
      } else {
        // Endless metadata: the client must stop, not buffer it all.
        res.writeHead(200, { 'content-type': 'application/json' });
        const chunk = Buffer.alloc(64 * 1024, 32);
        const pump = () => {
          while (res.write(chunk));
        };
        res.on('drain', pump);
        res.on('close', () => res.off('drain', pump));
        res.write('{"issuer":"');
        pump();
      }
    });
    await new Promise<void>((r) => hostile.listen(0, '127.0.0.1', () => r()));
    try {
      const url = `http://127.0.0.1:${(hostile.address() as { port: number }).port}/mcp`;
      await expect(authorizeMcpServer(server({ url }), { oauthDir: freshDir(), open: () => {} })).rejects.toThrow(/failed before the browser step: .*sent more than 1048576 bytes; stopped reading/);
    } finally {
      hostile.closeAllConnections();
      await new Promise((r) => hostile.close(r));
    }
  });

  it('hints at "headers" when a server answers 401 but publishes no OAuth metadata', async () => {
    const { createServer } = await import('node:http');
    const keyed = createServer((_req, res) => res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"missing api key"}'));
    await new Promise<void>((r) => keyed.listen(0, '127.0.0.1', () => r()));
    try {
      const url = `http://127.0.0.1:${(keyed.address() as { port: number }).port}/mcp`;
      const c = connect(server({ url }), freshDir());
      await expect(c.listTools()).rejects.toThrow(/needs OAuth authorization: no stored credentials \(it has not been signed in to yet\) \(it publishes no OAuth metadata: if it takes an API key instead, put that in its "headers"\)\. Run `toolexec auth remote`/);
    } finally {
      keyed.closeAllConnections();
      await new Promise((r) => keyed.close(r));
    }
  });

  it('refuses to sign in where OAuth does not apply', async () => {
    await expect(authorizeMcpServer(server({ command: 'node' }, 'local'), { open: () => {} })).rejects.toThrow(/"local" is a local \(stdio\) server: OAuth sign-in applies to remote servers/);
    await expect(authorizeMcpServer(server({ url: srv.url, oauth: false }), { open: () => {} })).rejects.toThrow(/"oauth": false/);
  });
});

describe('OAuth credentials store', () => {
  it('lives under $TOOLEXEC_CONFIG_DIR, else $XDG_CONFIG_HOME/toolexec, else ~/.config/toolexec', () => {
    expect(toolexecConfigDir({ TOOLEXEC_CONFIG_DIR: '/x/y', XDG_CONFIG_HOME: '/z' })).toBe('/x/y');
    expect(toolexecConfigDir({ XDG_CONFIG_HOME: '/z' })).toBe('/z/toolexec');
    expect(toolexecConfigDir({})).toMatch(/\/\.config\/toolexec$/);
  });

  it('writes atomically with mode 0600, tightens a loosened file, and ignores damaged or foreign files', () => {
    const dir = freshDir();
    const store = new OAuthStore(dir);
    const url = 'https://mcp.example/mcp';
    store.update(url, (r) => ({ ...r, codeVerifier: 'v' }));
    const file = store.fileFor(url);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    // No temporary files are left behind.
    expect(readdirSync(dir)).toEqual([file.slice(dir.length + 1)]);
    chmodSync(file, 0o644);
    expect(store.read(url)?.codeVerifier).toBe('v');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    // The URL is normalized, so spellings of one URL share a record.
    expect(store.read('HTTPS://MCP.example:443/mcp')?.codeVerifier).toBe('v');
    writeFileSync(file, '{not json', { mode: 0o600 });
    expect(store.read(url)).toBeUndefined();
    writeFileSync(file, JSON.stringify({ serverUrl: 'https://other.example/', tokens: { access_token: 'x', token_type: 'Bearer' } }), { mode: 0o600 });
    expect(store.read(url)).toBeUndefined();
    // Emptying a record removes its file.
    store.update(url, () => ({ serverUrl: url }));
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('the oauth config key', () => {
  it('accepts the documented settings and names each problem', () => {
    expect(server({ url: 'https://a.example/mcp', oauth: { clientId: 'id', clientSecret: 's', scopes: 'a b', redirectPort: 8765, clientMetadataUrl: 'https://me.example/client.json' } })).toMatchObject({
      oauth: { clientId: 'id', clientSecret: 's', scopes: ['a', 'b'], redirectPort: 8765, clientMetadataUrl: 'https://me.example/client.json' },
    });
    expect(server({ url: 'https://a.example/mcp', oauth: false })).toMatchObject({ oauth: false });
    const { problems } = parseMcpServer('x', { url: 'https://a.example/mcp', oauth: { clientID: 'id', clientSecret: 'sssh-secret', redirectPort: 70000, scopes: [1], clientMetadataUrl: 'http://me.example/c.json' } });
    expect(problems).toEqual([
      'mcpServers.x.oauth.clientID is not a known key; did you mean "clientId"? (known: clientId, clientSecret, scopes, redirectPort, clientMetadataUrl)',
      'mcpServers.x.oauth.clientSecret needs mcpServers.x.oauth.clientId (the client the secret belongs to)',
      'mcpServers.x.oauth.scopes must be an array of scope names (or one space-separated string), got an array',
      'mcpServers.x.oauth.redirectPort must be a port number from 1 to 65535, got 70000',
      'mcpServers.x.oauth.clientMetadataUrl must be an https URL with a path (the client ID metadata document), got "http://me.example/c.json"',
    ]);
    // The secret is never echoed in a message.
    expect(problems.join('\n')).not.toContain('sssh-secret');
    expect(parseMcpServer('y', { command: 'node', oauth: {} }).problems).toEqual(['mcpServers.y.oauth only applies to HTTP servers (with "url")']);
    expect(parseMcpServer('z', { url: 'https://a.example/mcp', oauth: 'yes' }).problems).toEqual(['mcpServers.z.oauth must be an object (or false to turn OAuth off), got string']);
  });
});
