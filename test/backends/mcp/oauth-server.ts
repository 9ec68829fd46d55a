// A real OAuth-protected MCP server for the tests, on 127.0.0.1: an authorization server
// built from the MCP SDK's own pieces (mcpAuthRouter: metadata, dynamic client registration,
// authorize with PKCE, token, revoke) over a small in-memory provider with a consent page,
// and, on another port, a Streamable HTTP MCP server behind requireBearerAuth that serves the
// protected resource metadata pointing at it. Access tokens live as long as the test says
// and can be expired or revoked on demand, so refresh is tested without waiting on a clock.
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';
import { Server as McpServer } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { SSEServerTransport } from '@modelcontextprotocol/sdk/server/sse.js';
import { CallToolRequestSchema, isInitializeRequest, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { createOAuthMetadata, getOAuthProtectedResourceMetadataUrl, mcpAuthMetadataRouter, mcpAuthRouter } from '@modelcontextprotocol/sdk/server/auth/router.js';
import { requireBearerAuth } from '@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js';
import { InvalidGrantError, InvalidRequestError, InvalidTokenError } from '@modelcontextprotocol/sdk/server/auth/errors.js';
import type { AuthorizationParams, OAuthServerProvider } from '@modelcontextprotocol/sdk/server/auth/provider.js';
import type { OAuthRegisteredClientsStore } from '@modelcontextprotocol/sdk/server/auth/clients.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import type { OAuthClientInformationFull, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';

const secret = (prefix: string) => `${prefix}_${randomBytes(18).toString('base64url')}`;

interface AccessToken {
  clientId: string;
  scopes: string[];
  expiresAt: number;
  resource?: URL;
}

/** The in-memory authorization server state, with the knobs the tests turn. */
export class TestOAuthProvider implements OAuthServerProvider {
  readonly clients = new Map<string, OAuthClientInformationFull>();
  readonly pending = new Map<string, { client: OAuthClientInformationFull; params: AuthorizationParams }>();
  readonly codes = new Map<string, { client: OAuthClientInformationFull; params: AuthorizationParams }>();
  readonly accessTokens = new Map<string, AccessToken>();
  readonly refreshTokens = new Map<string, { clientId: string; scopes: string[]; resource?: URL }>();
  /** Every token and code ever issued: none may appear in any output. */
  readonly issued: string[] = [];
  readonly counts = { registrations: 0, authorizations: 0, codeExchanges: 0, refreshes: 0, refreshFailures: 0, verified: 0, rejected: 0 };
  accessTokenTtlSeconds: number;
  issueRefreshTokens: boolean;

  constructor(options: { accessTokenTtlSeconds?: number; issueRefreshTokens?: boolean } = {}) {
    this.accessTokenTtlSeconds = options.accessTokenTtlSeconds ?? 3600;
    this.issueRefreshTokens = options.issueRefreshTokens ?? true;
  }

  readonly clientsStore: OAuthRegisteredClientsStore = {
    getClient: (id) => this.clients.get(id),
    registerClient: (client) => {
      const full = { ...client, client_id: secret('client'), client_id_issued_at: Math.floor(Date.now() / 1000) } as OAuthClientInformationFull;
      this.clients.set(full.client_id, full);
      this.counts.registrations++;
      return full;
    },
  };

  /** Shows a consent page; the "user" follows its Allow (or Deny) link. */
  async authorize(client: OAuthClientInformationFull, params: AuthorizationParams, res: express.Response): Promise<void> {
    if (!client.redirect_uris.includes(params.redirectUri)) throw new InvalidRequestError('Unregistered redirect_uri');
    const id = secret('req');
    this.pending.set(id, { client, params });
    res.type('html').send(
      `<!doctype html><title>Consent</title><p>${client.client_name ?? client.client_id} wants access (${(params.scopes ?? []).join(' ')}).</p>` +
        `<a id="allow" href="/consent?request=${id}&amp;decision=allow">Allow</a> <a id="deny" href="/consent?request=${id}&amp;decision=deny">Deny</a>`,
    );
  }

  consent(id: string, decision: string): string {
    const req = this.pending.get(id);
    if (!req) throw new Error('unknown consent request');
    this.pending.delete(id);
    const target = new URL(req.params.redirectUri);
    if (req.params.state !== undefined) target.searchParams.set('state', req.params.state);
    if (decision !== 'allow') {
      target.searchParams.set('error', 'access_denied');
      target.searchParams.set('error_description', 'the user said no');
      return target.href;
    }
    const code = secret('code');
    this.issued.push(code);
    this.codes.set(code, req);
    this.counts.authorizations++;
    target.searchParams.set('code', code);
    return target.href;
  }

  async challengeForAuthorizationCode(_client: OAuthClientInformationFull, code: string): Promise<string> {
    const c = this.codes.get(code);
    if (!c) throw new InvalidGrantError('unknown authorization code');
    return c.params.codeChallenge;
  }

  async exchangeAuthorizationCode(client: OAuthClientInformationFull, code: string, _verifier?: string, redirectUri?: string, resource?: URL): Promise<OAuthTokens> {
    const c = this.codes.get(code);
    if (!c || c.client.client_id !== client.client_id) throw new InvalidGrantError('authorization code not issued to this client');
    if (redirectUri !== undefined && redirectUri !== c.params.redirectUri) throw new InvalidGrantError('redirect_uri differs from the authorization request');
    this.codes.delete(code);
    this.counts.codeExchanges++;
    return this.#issue(client.client_id, c.params.scopes ?? [], resource ?? c.params.resource);
  }

  async exchangeRefreshToken(client: OAuthClientInformationFull, refreshToken: string, _scopes?: string[], resource?: URL): Promise<OAuthTokens> {
    const r = this.refreshTokens.get(refreshToken);
    if (!r || r.clientId !== client.client_id) {
      this.counts.refreshFailures++;
      throw new InvalidGrantError('refresh token is invalid, expired or revoked');
    }
    // Rotation, as OAuth 2.1 asks for public clients: the old refresh token is spent.
    this.refreshTokens.delete(refreshToken);
    this.counts.refreshes++;
    return this.#issue(r.clientId, r.scopes, resource ?? r.resource);
  }

  /** When set, every access token is refused (a server whose tokens never work, say for the wrong audience). */
  refuseAllTokens = false;

  async verifyAccessToken(token: string): Promise<AuthInfo> {
    if (this.refuseAllTokens) {
      this.counts.rejected++;
      throw new InvalidTokenError('token refused');
    }
    const t = this.accessTokens.get(token);
    if (!t || t.expiresAt <= Date.now()) {
      this.counts.rejected++;
      throw new InvalidTokenError(t ? 'the access token has expired' : 'unknown access token');
    }
    this.counts.verified++;
    return { token, clientId: t.clientId, scopes: t.scopes, expiresAt: Math.floor(t.expiresAt / 1000), ...(t.resource ? { resource: t.resource } : {}) };
  }

  /** Makes every access token issued so far expired. */
  expireAccessTokens(): void {
    for (const t of this.accessTokens.values()) t.expiresAt = Date.now() - 1;
  }

  /** Revokes every refresh token issued so far (the user removed the app, say). */
  revokeRefreshTokens(): void {
    this.refreshTokens.clear();
  }

  #issue(clientId: string, scopes: string[], resource?: URL): OAuthTokens {
    const access = secret('at');
    this.issued.push(access);
    this.accessTokens.set(access, { clientId, scopes, expiresAt: Date.now() + this.accessTokenTtlSeconds * 1000, ...(resource ? { resource } : {}) });
    const tokens: OAuthTokens = { access_token: access, token_type: 'Bearer', expires_in: this.accessTokenTtlSeconds, scope: scopes.join(' ') };
    if (this.issueRefreshTokens) {
      const refresh = secret('rt');
      this.issued.push(refresh);
      this.refreshTokens.set(refresh, { clientId, scopes, ...(resource ? { resource } : {}) });
      tokens.refresh_token = refresh;
    }
    return tokens;
  }
}

export interface OAuthMcpServer {
  /** The MCP endpoint (`http://127.0.0.1:<port>/mcp`). */
  url: string;
  /** The authorization server's issuer URL (another port). */
  issuer: string;
  provider: TestOAuthProvider;
  /** Authorization headers the MCP endpoint received, in order. */
  seenAuthorization: string[];
  /** Header names the authorization server received (lower case). */
  authServerHeaders: Set<string>;
  close(): Promise<void>;
}

function listen(app: express.Express): Promise<{ server: Server; port: number }> {
  return new Promise((resolve, reject) => {
    const server = app.listen(0, '127.0.0.1', (err?: Error) => (err ? reject(err) : resolve({ server, port: (server.address() as AddressInfo).port })));
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/**
 * Starts the authorization server and the protected MCP server. Tools: `echo` (returns its
 * text), `whoami` (the client ID and scopes of the token that called it) and `admin` (answers
 * 403 insufficient_scope unless the token has mcp:admin).
 */
export async function startOAuthMcpServer(options: { accessTokenTtlSeconds?: number; issueRefreshTokens?: boolean; transport?: 'streamable-http' | 'sse' } = {}): Promise<OAuthMcpServer> {
  const sse = options.transport === 'sse';
  const provider = new TestOAuthProvider(options);
  // `admin` needs mcp:admin on top: a step-up the first sign-in (asked for mcp:tools by the 401) does not cover.
  const scopes = ['mcp:tools', 'mcp:admin'];

  // The authorization server. Its issuer must be known before mcpAuthRouter is built, so the
  // port is bound first with a placeholder app and the real routes are mounted after.
  const authApp = express();
  const auth = await listen(authApp);
  const issuer = new URL(`http://127.0.0.1:${auth.port}/`);

  const mcpApp = express();
  const mcp = await listen(mcpApp);
  // The old HTTP+SSE transport: the event stream at /sse, messages POSTed to /messages.
  const mcpUrl = new URL(`http://127.0.0.1:${mcp.port}/${sse ? 'sse' : 'mcp'}`);

  const authServerHeaders = new Set<string>();
  authApp.use((req, _res, next) => {
    for (const h of Object.keys(req.headers)) authServerHeaders.add(h.toLowerCase());
    next();
  });
  // No rate limiting: many sign-ins run in one test file.
  authApp.use(
    mcpAuthRouter({
      provider,
      issuerUrl: issuer,
      scopesSupported: scopes,
      resourceServerUrl: mcpUrl,
      authorizationOptions: { rateLimit: false },
      clientRegistrationOptions: { rateLimit: false },
      tokenOptions: { rateLimit: false },
      revocationOptions: { rateLimit: false },
    }),
  );
  authApp.get('/consent', (req, res) => {
    try {
      res.redirect(provider.consent(String(req.query.request), String(req.query.decision)));
    } catch (e) {
      res.status(400).send((e as Error).message);
    }
  });

  const seenAuthorization: string[] = [];
  mcpApp.use(express.json());
  mcpApp.use(mcpAuthMetadataRouter({ oauthMetadata: createOAuthMetadata({ provider, issuerUrl: issuer, scopesSupported: scopes }), resourceServerUrl: mcpUrl, scopesSupported: scopes, resourceName: 'Test MCP' }));
  const resourceMetadataUrl = getOAuthProtectedResourceMetadataUrl(mcpUrl);
  const bearer = requireBearerAuth({ verifier: provider, requiredScopes: ['mcp:tools'], resourceMetadataUrl });
  const sessions = new Map<string, StreamableHTTPServerTransport>();

  const newServer = () => {
    const server = new McpServer({ name: 'oauth-test', version: '1.0.0' }, { capabilities: { tools: {} } });
    server.setRequestHandler(ListToolsRequestSchema, async () => ({
      tools: [
        { name: 'echo', description: 'Echoes its text', inputSchema: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] } },
        { name: 'whoami', description: 'Who the token belongs to', inputSchema: { type: 'object' } },
        { name: 'admin', description: 'Needs the mcp:admin scope', inputSchema: { type: 'object' } },
      ],
    }));
    server.setRequestHandler(CallToolRequestSchema, async (req, extra) => {
      if (req.params.name === 'echo') return { content: [{ type: 'text', text: String(req.params.arguments?.text) }] };
      if (req.params.name === 'admin') return { content: [{ type: 'text', text: 'admin ok' }] };
      const who = { clientId: extra.authInfo?.clientId ?? null, scopes: extra.authInfo?.scopes ?? [] };
      return { content: [{ type: 'text', text: JSON.stringify(who) }], structuredContent: who };
    });
    return server;
  };

  const sseSessions = new Map<string, SSEServerTransport>();
  mcpApp.get('/sse', bearer, async (_req, res) => {
    const transport = new SSEServerTransport('/messages', res);
    sseSessions.set(transport.sessionId, transport);
    res.on('close', () => sseSessions.delete(transport.sessionId));
    await newServer().connect(transport);
  });
  mcpApp.post('/messages', bearer, async (req, res) => {
    const transport = sseSessions.get(String(req.query.sessionId));
    if (!transport) {
      res.status(404).send('unknown session');
      return;
    }
    await transport.handlePostMessage(req, res, req.body);
  });

  mcpApp.all('/mcp', (req, _res, next) => {
    seenAuthorization.push(String(req.headers.authorization ?? ''));
    next();
  }, bearer, async (req, res) => {
    if (req.body?.method === 'tools/call' && req.body.params?.name === 'admin' && !req.auth?.scopes.includes('mcp:admin')) {
      res
        .status(403)
        .set('WWW-Authenticate', `Bearer error="insufficient_scope", scope="mcp:tools mcp:admin", resource_metadata="${resourceMetadataUrl}", error_description="admin needs mcp:admin"`)
        .json({ error: 'insufficient_scope', error_description: 'admin needs mcp:admin' });
      return;
    }
    const id = req.headers['mcp-session-id'];
    let transport = typeof id === 'string' ? sessions.get(id) : undefined;
    if (!transport) {
      if (req.method !== 'POST' || !isInitializeRequest(req.body)) {
        res.status(typeof id === 'string' ? 404 : 400).json({ jsonrpc: '2.0', error: { code: -32000, message: 'No valid session' }, id: null });
        return;
      }
      const created = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => secret('session'),
        onsessioninitialized: (sid) => {
          sessions.set(sid, created);
        },
      });
      created.onclose = () => {
        if (created.sessionId) sessions.delete(created.sessionId);
      };
      await newServer().connect(created);
      transport = created;
    }
    await transport.handleRequest(req, res, req.body);
  });

  return {
    url: mcpUrl.href,
    issuer: issuer.href,
    provider,
    seenAuthorization,
    authServerHeaders,
    close: async () => {
      for (const t of [...sessions.values(), ...sseSessions.values()]) await t.close().catch(() => {});
      await Promise.all([closeServer(auth.server), closeServer(mcp.server)]);
    },
  };
}

/**
 * Plays the user at the browser: loads the authorization URL, follows the consent page's
 * Allow (or Deny) link, and follows the redirects back to the loopback callback. What the
 * BROWSER fixture script does, for in-process tests.
 */
export async function clickThrough(url: URL | string, decision: 'allow' | 'deny' = 'allow'): Promise<Response> {
  const page = await fetch(url);
  const html = await page.text();
  const href = new RegExp(`id="${decision}" href="([^"]+)"`).exec(html)?.[1];
  if (!href) throw new Error(`no ${decision} link on the consent page (HTTP ${page.status}): ${html.slice(0, 200)}`);
  return fetch(new URL(href.replace(/&amp;/g, '&'), page.url));
}
