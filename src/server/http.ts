/**
 * `toolexec serve --http <port>`: the MCP server over Streamable HTTP on `node:http`. Every
 * request passes three checks before the MCP transport sees it:
 *   1. Host: the hostname must be one this server answers to (loopback names by default), so
 *      a DNS-rebound page cannot reach a local server through a name it controls;
 *   2. Origin: when a browser sends one, its hostname must be allowed too;
 *   3. bearer token: when tokens are configured, `Authorization: Bearer <token>` with one of them (else 401).
 *
 * Each token is a principal (`token:<hash>`, see principal.ts): durable executions started with
 * one token are invisible to every other. Without tokens, a stateful session is its own principal
 * and stateless requests are all `anonymous`. A stateful session stays with the token that opened
 * it: a request on it with another token is told the session does not exist.
 *
 * Two modes:
 * - stateful (default): one session (SDK transport + `Server`) per client, found again by its
 *   `Mcp-Session-Id`. Sessions are capped in total and per client, and expire when idle (sooner
 *   when they never made a request after initialize), so abandoned or hoarded sessions cannot
 *   lock other clients out;
 * - stateless (`stateless: true`): one SDK server and transport per POST
 *   (`sessionIdGenerator: undefined`), nothing kept between requests, so any number of
 *   replicas behind a plain load balancer serve the same client. GET and DELETE are 405; the
 *   session cap becomes a cap on requests in flight (503 with `Retry-After`). The trade-off: no
 *   standalone stream, so no unsolicited `notifications/tools/list_changed` (progress for a
 *   running call still arrives, on that call's own response stream).
 */
import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { randomUUID, timingSafeEqual, createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import type { ToolexecServer } from './toolexec-server.js';
import { ANONYMOUS_PRINCIPAL, sessionPrincipal, tokenPrincipal } from './principal.js';

/** Address bound when none is given: loopback only. */
export const DEFAULT_HTTP_HOST = '127.0.0.1';
/** Path of the MCP endpoint. */
export const MCP_HTTP_PATH = '/mcp';
/** Largest request body read (bytes); bigger requests get 413. */
export const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;
/** Most sessions open at once (stateless: requests in flight); one more gets 503 until one closes or expires. */
export const DEFAULT_MAX_SESSIONS = 100;
/**
 * Most sessions one client (remote address and bearer token) holds at once (stateless:
 * requests in flight); one more gets 429. A sixth of the total, so it takes several clients
 * to fill the server, while a client with a few tabs or agents never meets it.
 */
export const DEFAULT_MAX_SESSIONS_PER_CLIENT = 16;
/** A session without requests for this long is closed (clients that vanish never send DELETE). */
export const DEFAULT_SESSION_IDLE_MS = 30 * 60_000;
/**
 * A session that made no request after initialize is closed after this long: a real client
 * lists tools within seconds of connecting, so a session still unused after a minute was
 * opened to hold a slot.
 */
export const DEFAULT_UNUSED_SESSION_IDLE_MS = 60_000;
/** `Retry-After` (seconds) on a stateless 503: requests are short-lived, a slot frees soon. */
const STATELESS_RETRY_AFTER_S = 2;

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];

export interface HttpServeOptions {
  port: number;
  /** Interface to bind (default `127.0.0.1`). */
  host?: string;
  /** Require `Authorization: Bearer <token>` on every request. */
  token?: string;
  /** More accepted bearer tokens, each its own principal (clients that must not see each other's executions). */
  tokens?: string[];
  /**
   * Hostnames (no port) accepted in `Host` and `Origin` headers. Default: the loopback names,
   * plus `host` when it is not a wildcard address.
   */
  allowedHosts?: string[];
  /** Full origins (`https://app.example`) accepted besides those on allowed hostnames. */
  allowedOrigins?: string[];
  maxBodyBytes?: number;
  /** Default `DEFAULT_MAX_SESSIONS`. Stateless: requests in flight. */
  maxSessions?: number;
  /** Default `DEFAULT_MAX_SESSIONS_PER_CLIENT`. Stateless: one client's requests in flight. */
  maxSessionsPerClient?: number;
  /** Default `DEFAULT_SESSION_IDLE_MS`. */
  sessionIdleMs?: number;
  /** Default `DEFAULT_UNUSED_SESSION_IDLE_MS`; never longer than `sessionIdleMs`. */
  unusedSessionIdleMs?: number;
  /** One SDK server and transport per request, no sessions (see the module comment). Default false. */
  stateless?: boolean;
}

export interface HttpServeHandle extends AsyncDisposable {
  /** The endpoint URL, e.g. `http://127.0.0.1:3000/mcp`. */
  url: string;
  port: number;
  host: string;
  /** Number of open MCP sessions (stateless: requests in flight). */
  readonly sessions: number;
  readonly stateless: boolean;
  close(): Promise<void>;
}

function hostnameOf(value: string): string | undefined {
  try {
    return new URL(`http://${value}`).hostname;
  } catch {
    return undefined;
  }
}

function sendJson(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32000, message }, id: null }));
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

function readBody(req: IncomingMessage, max: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > max) {
      reject(Object.assign(new Error(`request body is ${declared} bytes; the limit is ${max}`), { status: 413 }));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) {
        reject(Object.assign(new Error(`request body exceeds ${max} bytes`), { status: 413 }));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}


/** Who a request comes from, for per-client caps: its remote address, and its bearer token when it sends one (hashed). */
function clientKeyOf(req: IncomingMessage): string {
  const address = req.socket.remoteAddress ?? 'unknown';
  const auth = req.headers.authorization;
  return auth ? `${address} ${digest(auth).toString('hex').slice(0, 16)}` : address;
}

/** Whether a JSON-RPC body holds a request other than initialize (what marks a session as used). */
function hasRealRequest(body: unknown): boolean {
  const messages = Array.isArray(body) ? body : [body];
  return messages.some((m) => typeof m === 'object' && m !== null && 'id' in m && typeof (m as { method?: unknown }).method === 'string' && (m as { method: string }).method !== 'initialize');
}

/** An `EADDRINUSE` / `EACCES` / `EADDRNOTAVAIL` from listen, said in one sentence (the code is kept). */
function listenError(e: unknown, host: string, port: number): Error {
  const code = (e as { code?: string })?.code;
  const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  const message =
    code === 'EADDRINUSE'
      ? `port ${port} is already in use on ${host} (is another server running?); stop it or choose another port (0 picks a free one)`
      : code === 'EACCES'
        ? `not allowed to listen on ${where} (ports below 1024 need privileges); choose a port from 1024 up`
        : code === 'EADDRNOTAVAIL'
          ? `cannot listen on ${where}: ${host} is not an address of this machine`
          : `cannot listen on ${where}: ${(e as Error)?.message ?? String(e)}`;
  return Object.assign(new Error(message, { cause: e }), { code: code ?? 'LISTEN_FAILED' });
}

interface SessionRecord {
  transport: StreamableHTTPServerTransport;
  client: string;
  createdAt: number;
  lastSeen: number;
  /** Made a request other than initialize. */
  used: boolean;
  /** The principal of the token that opened it (undefined without tokens). */
  tokenPrincipal: string | undefined;
}

/** Starts the HTTP endpoint for `server`; resolves once it listens (a port in use rejects with `code: 'EADDRINUSE'` and a one-line message). */
export async function serveHttp(server: ToolexecServer, options: HttpServeOptions): Promise<HttpServeHandle> {
  // Loaded here, not at the top: the transport pulls in an HTTP adapter that importing
  // `toolexec` for anything else should not pay for.
  const { StreamableHTTPServerTransport } = await import('@modelcontextprotocol/sdk/server/streamableHttp.js');
  const host = options.host ?? DEFAULT_HTTP_HOST;
  const wildcard = host === '0.0.0.0' || host === '::' || host === '';
  const allowedHosts = new Set(
    (options.allowedHosts ?? [...LOOPBACK_NAMES, ...(wildcard ? [] : [hostnameOf(host.includes(':') && !host.startsWith('[') ? `[${host}]` : host) ?? host])]).map((h) => h.toLowerCase()),
  );
  const allowedOrigins = new Set(options.allowedOrigins ?? []);
  const tokenList = [...(options.token !== undefined ? [options.token] : []), ...(options.tokens ?? [])];
  const tokenDigests = tokenList.map((t) => ({ digest: digest(t), principal: tokenPrincipal(t) }));
  const maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const maxSessions = options.maxSessions ?? DEFAULT_MAX_SESSIONS;
  const maxPerClient = options.maxSessionsPerClient ?? DEFAULT_MAX_SESSIONS_PER_CLIENT;
  const idleMs = options.sessionIdleMs ?? DEFAULT_SESSION_IDLE_MS;
  const unusedIdleMs = Math.min(idleMs, options.unusedSessionIdleMs ?? DEFAULT_UNUSED_SESSION_IDLE_MS);
  const stateless = options.stateless ?? false;
  const sessions = new Map<string, SessionRecord>();
  /** Sessions (stateless: requests in flight) per client key, pending initializes included. */
  const perClient = new Map<string, number>();
  /** Stateful: initializes under way. Stateless: requests in flight. */
  let pending = 0;
  const open = new Set<{ close(): Promise<void> }>();

  const claim = (client: string): (() => void) => {
    perClient.set(client, (perClient.get(client) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const n = (perClient.get(client) ?? 1) - 1;
      if (n <= 0) perClient.delete(client);
      else perClient.set(client, n);
    };
  };

  /** The principal of the request's token; `null` when the server takes no tokens; `false` when refused (answered). */
  const check = (req: IncomingMessage, res: ServerResponse): string | null | false => {
    const hostHeader = req.headers.host;
    const hostname = hostHeader ? hostnameOf(hostHeader)?.toLowerCase() : undefined;
    if (!hostname || !allowedHosts.has(hostname)) {
      sendJson(res, 403, `Forbidden: Host ${JSON.stringify(hostHeader ?? '')} is not allowed`);
      return false as const;
    }
    const origin = req.headers.origin;
    if (origin !== undefined && !allowedOrigins.has(origin)) {
      let ok = false;
      try {
        const u = new URL(origin);
        ok = (u.protocol === 'http:' || u.protocol === 'https:') && allowedHosts.has(u.hostname.toLowerCase());
      } catch {
        ok = false;
      }
      if (!ok) {
        sendJson(res, 403, `Forbidden: Origin ${JSON.stringify(origin)} is not allowed`);
        return false;
      }
    }
    if (tokenDigests.length > 0) {
      const auth = req.headers.authorization ?? '';
      const m = /^Bearer\s+(.+)$/i.exec(auth);
      // Compare digests: equal length whatever was sent, and constant time; every token is
      // compared, so the time says nothing about which one matched.
      let principal: string | undefined;
      if (m) {
        const sent = digest(m[1]!.trim());
        for (const t of tokenDigests) if (timingSafeEqual(sent, t.digest)) principal ??= t.principal;
      }
      if (!principal) {
        sendJson(res, 401, m ? 'Unauthorized: invalid bearer token' : 'Unauthorized: a bearer token is required', { 'www-authenticate': 'Bearer' });
        return false;
      }
      return principal;
    }
    return null;
  };

  const readJson = async (req: IncomingMessage, res: ServerResponse): Promise<{ body: unknown } | undefined> => {
    let text: string;
    try {
      text = await readBody(req, maxBody);
    } catch (e) {
      sendJson(res, (e as { status?: number }).status ?? 400, (e as Error).message);
      return undefined;
    }
    try {
      return { body: JSON.parse(text) };
    } catch {
      if (!res.headersSent) {
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32700, message: 'Parse error: the body is not JSON' }, id: null }));
      }
      return undefined;
    }
  };

  const handleStateless = async (req: IncomingMessage, res: ServerResponse, principal: string | null): Promise<void> => {
    if (req.method !== 'POST') {
      // No standalone stream (GET) and no session to end (DELETE): both are answered the way
      // the SDK client expects from a server without them.
      sendJson(res, 405, `Method not allowed: this server is stateless (every request is a POST on its own)`, { allow: 'POST' });
      return;
    }
    const client = clientKeyOf(req);
    if (pending >= maxSessions) {
      sendJson(res, 503, `Too many requests in flight (${maxSessions}); retry shortly`, { 'retry-after': String(STATELESS_RETRY_AFTER_S) });
      return;
    }
    if ((perClient.get(client) ?? 0) >= maxPerClient) {
      sendJson(res, 429, `Too many requests in flight from this client (${maxPerClient}); wait for one to finish`, { 'retry-after': String(STATELESS_RETRY_AFTER_S) });
      return;
    }
    pending++;
    const release = claim(client);
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    let session: Awaited<ReturnType<ToolexecServer['connect']>> | undefined;
    const entry = {
      close: async () => {
        open.delete(entry);
        await Promise.allSettled([transport.close(), session?.close()]);
      },
    };
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      pending--;
      release();
      void entry.close();
    };
    // The response ends when the call's stream does (progress included), or when the client goes.
    res.once('close', finish);
    open.add(entry);
    try {
      const parsed = await readJson(req, res);
      if (!parsed) return;
      // One client's one-request sessions share one execution allowance.
      session = await server.connect(transport, { admissionKey: `client ${client}`, listChanged: false, tasks: false, principal: principal ?? ANONYMOUS_PRINCIPAL });
      await transport.handleRequest(req, res, parsed.body);
    } catch (e) {
      finish();
      throw e;
    }
  };

  const handleStateful = async (req: IncomingMessage, res: ServerResponse, principal: string | null): Promise<void> => {
    const sessionHeader = req.headers['mcp-session-id'];
    const sessionId = Array.isArray(sessionHeader) ? sessionHeader[0] : sessionHeader;
    let body: unknown;
    if (req.method === 'POST') {
      const parsed = await readJson(req, res);
      if (!parsed) return;
      body = parsed.body;
    }
    let record = sessionId !== undefined ? sessions.get(sessionId) : undefined;
    // Another token's session does not exist for this one.
    if (record && record.tokenPrincipal !== (principal ?? undefined)) record = undefined;
    if (sessionId !== undefined && !record) {
      sendJson(res, 404, 'Session not found: start a new session with an initialize request');
      return;
    }
    if (record) {
      record.lastSeen = Date.now();
      if (!record.used && hasRealRequest(body)) record.used = true;
      await record.transport.handleRequest(req, res, body);
      return;
    }
    if (req.method !== 'POST' || !isInitializeRequest(body)) {
      sendJson(res, 400, 'Bad request: no Mcp-Session-Id header; the first request of a session must be initialize');
      return;
    }
    if (sessions.size + pending >= maxSessions) {
      sendJson(res, 503, `Too many sessions (${maxSessions}); close one (DELETE) or retry later`, { 'retry-after': '60' });
      return;
    }
    const client = clientKeyOf(req);
    if ((perClient.get(client) ?? 0) >= maxPerClient) {
      sendJson(res, 429, `Too many sessions from this client (${maxPerClient}); close one (DELETE) before opening another`, { 'retry-after': '60' });
      return;
    }
    const release = claim(client);
    const created = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => {
        const now = Date.now();
        sessions.set(id, { transport: created, client, createdAt: now, lastSeen: now, used: false, tokenPrincipal: principal ?? undefined });
      },
    });
    created.onclose = () => {
      if (created.sessionId) sessions.delete(created.sessionId);
      release();
    };
    pending++;
    try {
      await server.connect(created, { principal: () => principal ?? (created.sessionId ? sessionPrincipal(created.sessionId) : ANONYMOUS_PRINCIPAL) });
      await created.handleRequest(req, res, body);
    } finally {
      pending--;
      // An initialize the transport refused leaves a transport without a session: free its slot.
      if (!created.sessionId || !sessions.has(created.sessionId)) {
        release();
        void created.close();
      }
    }
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0];
    const principal = check(req, res);
    if (principal === false) return;
    if (path !== MCP_HTTP_PATH) {
      sendJson(res, 404, `Not found: the MCP endpoint is ${MCP_HTTP_PATH}`);
      return;
    }
    await (stateless ? handleStateless(req, res, principal) : handleStateful(req, res, principal));
  };

  const http: HttpServer = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      sendJson(res, 500, `Internal error: ${(e as Error)?.message ?? String(e)}`);
    });
  });
  await new Promise<void>((resolve, reject) => {
    const onError = (e: unknown) => reject(listenError(e, host, options.port));
    http.once('error', onError);
    http.listen(options.port, host, () => {
      http.off('error', onError);
      resolve();
    });
  });
  const sweeper = setInterval(
    () => {
      const now = Date.now();
      for (const r of sessions.values()) {
        // An unused session's clock starts at initialize: GETs on it do not keep it alive.
        if (r.used ? now - r.lastSeen > idleMs : now - r.createdAt > unusedIdleMs) void r.transport.close();
      }
    },
    Math.min(60_000, Math.max(1_000, Math.floor(Math.min(idleMs, unusedIdleMs) / 2))),
  );
  sweeper.unref();
  const addr = http.address() as AddressInfo;
  const shownHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    clearInterval(sweeper);
    await Promise.allSettled([...[...sessions.values()].map((r) => r.transport.close()), ...[...open].map((e) => e.close())]);
    sessions.clear();
    await new Promise<void>((resolve) => {
      http.close(() => resolve());
      http.closeAllConnections();
    });
  };
  return {
    url: `http://${shownHost}:${addr.port}${MCP_HTTP_PATH}`,
    port: addr.port,
    host: addr.address,
    stateless,
    get sessions() {
      return stateless ? pending : sessions.size;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
