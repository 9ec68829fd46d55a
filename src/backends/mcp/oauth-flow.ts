/**
 * The one-time browser sign-in to a remote MCP server (what `toolexec auth <server>` runs):
 * a loopback listener on `http://127.0.0.1:<port>/callback`, the SDK's client auth started
 * by a real connection attempt (so the server's `WWW-Authenticate` hints, discovery, dynamic
 * registration and PKCE all happen as they will later), the authorization URL handed to the
 * caller to open, the code exchanged for tokens, and a fresh connection made with the stored
 * tokens to prove they work.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { McpServerConfig, McpHttpServerConfig } from './config.js';
import { DEFAULT_CLIENT_INFO, DEFAULT_CONNECT_TIMEOUT_MS, McpConnection } from './connection.js';
import { McpOAuthProvider } from './oauth-provider.js';
import { OAuthStore } from './oauth-store.js';

/** How long `authorizeMcpServer` waits for the browser to come back (5 minutes). */
export const DEFAULT_AUTH_TIMEOUT_MS = 5 * 60_000;

/** Options of `authorizeMcpServer`. */
export interface AuthorizeMcpServerOptions {
  /** Opens (or shows) the authorization URL for the user. */
  open(url: URL): void | Promise<void>;
  /** Loopback port for the redirect (default: the server's `oauth.redirectPort`, else a free one). */
  port?: number;
  /** How long to wait for the redirect (default 5 minutes). */
  timeoutMs?: number;
  /** Folder of the stored credentials (default: `oauth/` in the user's toolexec config dir). */
  oauthDir?: string;
  /** Limit for each connection attempt (default 30 s). */
  connectTimeoutMs?: number;
  signal?: AbortSignal;
}

/** What a sign-in did. */
export interface AuthorizeMcpServerResult {
  /** `authorized`: tokens were obtained and stored. `not-required`: the server let us in without. */
  status: 'authorized' | 'not-required';
  /** How many tools the server listed with the new credentials. */
  tools: number;
  /** The credentials file (mode 0600). */
  file: string;
  /** Scopes granted, when the server said. */
  scope?: string;
  /** When the access token expires (ms since the epoch), when the server said. */
  expiresAt?: number;
  /** Whether a refresh token was issued (without one, a new sign-in is needed when the access token expires). */
  refreshable: boolean;
}

/** The server entry, checked to be one OAuth applies to. */
function httpConfig(config: McpServerConfig): McpHttpServerConfig {
  if (config.transport === 'stdio') throw new Error(`MCP server "${config.name}" is a local (stdio) server: OAuth sign-in applies to remote servers (with "url") only`);
  if (config.oauth === false) throw new Error(`MCP server "${config.name}" has "oauth": false in the config: remove it to sign in with OAuth`);
  if (Object.keys(config.headers ?? {}).some((h) => h.toLowerCase() === 'authorization')) {
    throw new Error(`MCP server "${config.name}" sends its own Authorization header (in "headers"): remove it to sign in with OAuth`);
  }
  return config;
}

/** Removes the stored credentials of a server. Returns whether there were any. */
export function forgetMcpServerAuth(config: McpServerConfig, options: { oauthDir?: string } = {}): { removed: boolean; file: string } {
  const http = httpConfig(config);
  const store = new OAuthStore(options.oauthDir);
  return { file: store.fileFor(http.url), removed: store.delete(http.url) };
}

interface Loopback {
  redirectUrl: string;
  /** Resolves with the code of the first redirect that carried the expected state (it may have come already). */
  code(timeoutMs: number, signal?: AbortSignal): Promise<string>;
  close(): Promise<void>;
}

const PAGE = (title: string, text: string) =>
  `<!doctype html><meta charset="utf-8"><title>${title}</title><body style="font-family:sans-serif;margin:3em"><h1>${title}</h1><p>${text}</p></body>`;

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

async function startLoopback(serverName: string, port: number, portFromConfig: boolean, expected: () => string | undefined): Promise<Loopback> {
  // The browser may come back before anyone waits (a fast or scripted browser): the first answer is kept.
  let deliver: ((r: { code: string } | { error: Error }) => void) | undefined;
  const answer = new Promise<{ code: string } | { error: Error }>((resolve) => {
    deliver = (r) => {
      deliver = undefined;
      resolve(r);
    };
  });
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const send = (status: number, title: string, text: string) => {
      res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(PAGE(title, text));
    };
    if (req.method !== 'GET' || url.pathname !== '/callback') return send(404, 'Not found', 'This address only receives the sign-in redirect.');
    const state = url.searchParams.get('state');
    const want = expected();
    // Anything without our state (another page poking the port, a stale tab) is turned away; the wait goes on.
    if (want === undefined || state !== want) return send(400, 'Unexpected request', 'This redirect does not belong to the sign-in in progress (state mismatch); it was ignored.');
    const error = url.searchParams.get('error');
    if (error) {
      const description = url.searchParams.get('error_description');
      send(400, 'Sign-in refused', `The authorization server answered ${escapeHtml(error)}${description ? `: ${escapeHtml(description)}` : ''}. You can close this tab.`);
      deliver?.({ error: new Error(`the authorization server refused the sign-in to "${serverName}": ${error}${description ? ` (${description.slice(0, 300)})` : ''}`) });
      return;
    }
    const code = url.searchParams.get('code');
    if (!code) return send(400, 'No code', 'The redirect carried neither a code nor an error.');
    send(200, 'Signed in', `toolexec is signed in to "${escapeHtml(serverName)}". You can close this tab.`);
    deliver?.({ code });
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EADDRINUSE') {
        reject(new Error(`the loopback port ${port} for the sign-in redirect is in use${portFromConfig ? ` (oauth.redirectPort of "${serverName}")` : ''}: stop what listens there or choose another port`));
      } else reject(e);
    });
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const bound = (server.address() as AddressInfo).port;
  return {
    redirectUrl: `http://127.0.0.1:${bound}/callback`,
    code(timeoutMs, signal) {
      return new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => finish({ error: new Error(`no sign-in came back to http://127.0.0.1:${bound}/callback within ${+(timeoutMs / 1000).toFixed(1)} s, so "${serverName}" is not signed in: open the URL in a browser on this machine and allow access, or wait longer (--timeout)`) }), timeoutMs);
        const onAbort = () => finish({ error: signal?.reason instanceof Error ? signal.reason : new Error('the sign-in was cancelled') });
        signal?.addEventListener('abort', onAbort, { once: true });
        let done = false;
        function finish(r: { code: string } | { error: Error }) {
          if (done) return;
          done = true;
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          if ('code' in r) resolve(r.code);
          else reject(r.error);
        }
        void answer.then(finish);
        if (signal?.aborted) onAbort();
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function makeTransport(kind: 'streamable-http' | 'sse', config: McpHttpServerConfig, provider: McpOAuthProvider): Promise<Transport & { finishAuth(code: string): Promise<void> }> {
  const requestInit: RequestInit = config.headers ? { headers: config.headers } : {};
  const opts = { requestInit, authProvider: provider, fetch: provider.fetch };
  if (kind === 'sse') {
    const { SSEClientTransport } = await import('@modelcontextprotocol/sdk/client/sse.js');
    return new SSEClientTransport(new URL(config.url), opts);
  }
  const { StreamableHTTPClientTransport } = await import('@modelcontextprotocol/sdk/client/streamableHttp.js');
  return new StreamableHTTPClientTransport(new URL(config.url), opts);
}

/**
 * Signs in to one remote server: see the module comment. Rejects with an error naming the
 * server and the step that failed (unreachable server, discovery, registration, a refused
 * or timed-out sign-in, a code exchange the server rejected).
 */
export async function authorizeMcpServer(config: McpServerConfig, options: AuthorizeMcpServerOptions): Promise<AuthorizeMcpServerResult> {
  const http = httpConfig(config);
  const store = new OAuthStore(options.oauthDir);
  const connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const oauthConfig = http.oauth || undefined;
  const port = options.port ?? oauthConfig?.redirectPort ?? 0;
  let provider: McpOAuthProvider | undefined;
  const loopback = await startLoopback(http.name, port, options.port === undefined && oauthConfig?.redirectPort !== undefined, () => provider?.expectedState);
  let opened = false;
  provider = new McpOAuthProvider({
    serverName: http.name,
    serverUrl: http.url,
    config: oauthConfig,
    store,
    configHeaderNames: Object.keys(http.headers ?? {}),
    interaction: {
      redirectUrl: loopback.redirectUrl,
      onAuthorizationUrl: async (url) => {
        // The URL comes from the server's metadata: only a web page is handed to a browser.
        if (url.protocol !== 'https:' && url.protocol !== 'http:') {
          throw new Error(`the authorization server's authorization endpoint is not a web address (${url.protocol}); refusing to open it`);
        }
        opened = true;
        await options.open(url);
      },
    },
  });
  const [{ Client }, { UnauthorizedError }] = await Promise.all([import('@modelcontextprotocol/sdk/client/index.js'), import('@modelcontextprotocol/sdk/client/auth.js')]);
  let status: AuthorizeMcpServerResult['status'] = 'authorized';
  try {
    const kinds: ('streamable-http' | 'sse')[] = http.transport === 'sse' ? ['sse'] : http.transport === 'http' ? ['streamable-http', 'sse'] : ['streamable-http'];
    for (let i = 0; i < kinds.length; i++) {
      const transport = await makeTransport(kinds[i]!, http, provider);
      const client = new Client({ ...DEFAULT_CLIENT_INFO }, { capabilities: {} });
      const requestOptions = { timeout: connectTimeoutMs, ...(options.signal ? { signal: options.signal } : {}) };
      try {
        await client.connect(transport, requestOptions);
        // Some servers let anyone initialize and want a token from the first real request on.
        if (client.getServerCapabilities()?.tools) await client.listTools(undefined, requestOptions);
        status = 'not-required';
        break;
      } catch (err) {
        if (!opened || !(err instanceof UnauthorizedError)) {
          const code = (err as { code?: unknown }).code;
          // An old HTTP+SSE server answers the Streamable HTTP POST with a 4xx other than 401.
          if (!opened && i + 1 < kinds.length && typeof code === 'number' && code >= 400 && code < 500 && code !== 401 && code !== 403) continue;
          throw new Error(`signing in to MCP server "${http.name}" (${http.url}) failed before the browser step: ${describeError(err)}`, { cause: err });
        }
        const code = await loopback.code(options.timeoutMs ?? DEFAULT_AUTH_TIMEOUT_MS, options.signal);
        try {
          await transport.finishAuth(code);
        } catch (e) {
          throw new Error(`MCP server "${http.name}": exchanging the authorization code for tokens failed: ${describeError(e)}`, { cause: e });
        }
        break;
      } finally {
        await client.close().catch(() => {});
      }
    }
  } finally {
    await loopback.close();
  }
  // Prove the stored credentials work the way every later connection will use them.
  const connection = new McpConnection(http, { connectTimeoutMs, ...(options.oauthDir !== undefined ? { oauthDir: options.oauthDir } : {}) });
  let tools: number;
  try {
    tools = (await connection.listTools(options.signal ? { signal: options.signal } : {})).length;
  } catch (e) {
    throw new Error(`signed in to MCP server "${http.name}", but connecting with the new credentials failed: ${describeError(e)}`, { cause: e });
  } finally {
    await connection.close();
  }
  const record = store.read(http.url);
  const t = record?.tokens;
  return {
    status,
    tools,
    file: store.fileFor(http.url),
    refreshable: t?.refresh_token !== undefined,
    ...(t?.scope ? { scope: t.scope } : {}),
    ...(t?.expires_in !== undefined && record?.tokensSavedAt !== undefined ? { expiresAt: record.tokensSavedAt + t.expires_in * 1000 } : {}),
  };
}

function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const parts = [err.message || err.name];
  for (let c: unknown = err.cause, depth = 0; c instanceof Error && depth < 3; c = c.cause, depth++) {
    if (!parts.some((p) => p.includes(c instanceof Error ? c.message : ''))) parts.push(c.message);
  }
  return parts.join(': ');
}
