/**
 * `toolexec serve --http <port>`: the MCP server over Streamable HTTP on `node:http`, one
 * session (SDK transport + `Server`) per client. Every request passes three checks before
 * the MCP transport sees it:
 *   1. Host: the hostname must be one this server answers to (loopback names by default), so
 *      a DNS-rebound page cannot reach a local server through a name it controls;
 *   2. Origin: when a browser sends one, its hostname must be allowed too;
 *   3. bearer token: when one is configured, `Authorization: Bearer <token>` (else 401).
 */
import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { randomUUID, timingSafeEqual, createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import type { ToolexecServer } from './toolexec-server.js';

/** Address bound when none is given: loopback only. */
export const DEFAULT_HTTP_HOST = '127.0.0.1';
/** Path of the MCP endpoint. */
export const MCP_HTTP_PATH = '/mcp';
/** Largest request body read (bytes); bigger requests get 413. */
export const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;
/** Most sessions open at once; a further initialize gets 503 until one closes or expires. */
export const DEFAULT_MAX_SESSIONS = 100;
/** A session without requests for this long is closed (clients that vanish never send DELETE). */
export const DEFAULT_SESSION_IDLE_MS = 30 * 60_000;

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];

export interface HttpServeOptions {
  port: number;
  /** Interface to bind (default `127.0.0.1`). */
  host?: string;
  /** Require `Authorization: Bearer <token>` on every request. */
  token?: string;
  /**
   * Hostnames (no port) accepted in `Host` and `Origin` headers. Default: the loopback names,
   * plus `host` when it is not a wildcard address.
   */
  allowedHosts?: string[];
  /** Full origins (`https://app.example`) accepted besides those on allowed hostnames. */
  allowedOrigins?: string[];
  maxBodyBytes?: number;
  /** Default `DEFAULT_MAX_SESSIONS`. */
  maxSessions?: number;
  /** Default `DEFAULT_SESSION_IDLE_MS`. */
  sessionIdleMs?: number;
}

export interface HttpServeHandle extends AsyncDisposable {
  /** The endpoint URL, e.g. `http://127.0.0.1:3000/mcp`. */
  url: string;
  port: number;
  host: string;
  /** Number of open MCP sessions. */
  readonly sessions: number;
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

/** Starts the HTTP endpoint for `server`; resolves once it listens. */
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
  const tokenDigest = options.token !== undefined ? digest(options.token) : undefined;
  const maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const maxSessions = options.maxSessions ?? DEFAULT_MAX_SESSIONS;
  const idleMs = options.sessionIdleMs ?? DEFAULT_SESSION_IDLE_MS;
  const transports = new Map<string, StreamableHTTPServerTransport>();
  const lastSeen = new Map<string, number>();
  let pending = 0;

  const check = (req: IncomingMessage, res: ServerResponse): boolean => {
    const hostHeader = req.headers.host;
    const hostname = hostHeader ? hostnameOf(hostHeader)?.toLowerCase() : undefined;
    if (!hostname || !allowedHosts.has(hostname)) {
      sendJson(res, 403, `Forbidden: Host ${JSON.stringify(hostHeader ?? '')} is not allowed`);
      return false;
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
    if (tokenDigest) {
      const auth = req.headers.authorization ?? '';
      const m = /^Bearer\s+(.+)$/i.exec(auth);
      // Compare digests: equal length whatever was sent, and constant time.
      if (!m || !timingSafeEqual(digest(m[1]!.trim()), tokenDigest)) {
        sendJson(res, 401, m ? 'Unauthorized: invalid bearer token' : 'Unauthorized: a bearer token is required', { 'www-authenticate': 'Bearer' });
        return false;
      }
    }
    return true;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0];
    if (!check(req, res)) return;
    if (path !== MCP_HTTP_PATH) {
      sendJson(res, 404, `Not found: the MCP endpoint is ${MCP_HTTP_PATH}`);
      return;
    }
    const sessionHeader = req.headers['mcp-session-id'];
    const sessionId = Array.isArray(sessionHeader) ? sessionHeader[0] : sessionHeader;
    let body: unknown;
    if (req.method === 'POST') {
      let text: string;
      try {
        text = await readBody(req, maxBody);
      } catch (e) {
        sendJson(res, (e as { status?: number }).status ?? 400, (e as Error).message);
        return;
      }
      try {
        body = JSON.parse(text);
      } catch {
        if (!res.headersSent) {
          res.writeHead(400, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32700, message: 'Parse error: the body is not JSON' }, id: null }));
        }
        return;
      }
    }
    let transport = sessionId !== undefined ? transports.get(sessionId) : undefined;
    if (sessionId !== undefined && !transport) {
      sendJson(res, 404, 'Session not found: start a new session with an initialize request');
      return;
    }
    if (sessionId !== undefined) lastSeen.set(sessionId, Date.now());
    if (!transport) {
      if (req.method !== 'POST' || !isInitializeRequest(body)) {
        sendJson(res, 400, 'Bad request: no Mcp-Session-Id header; the first request of a session must be initialize');
        return;
      }
      if (transports.size + pending >= maxSessions) {
        sendJson(res, 503, `Too many sessions (${maxSessions}); close one (DELETE) or retry later`, { 'retry-after': '60' });
        return;
      }
      const created = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => {
          transports.set(id, created);
          lastSeen.set(id, Date.now());
        },
      });
      created.onclose = () => {
        if (created.sessionId) {
          transports.delete(created.sessionId);
          lastSeen.delete(created.sessionId);
        }
      };
      pending++;
      try {
        await server.connect(created);
        transport = created;
        await transport.handleRequest(req, res, body);
      } finally {
        pending--;
      }
      return;
    }
    await transport.handleRequest(req, res, body);
  };

  const http: HttpServer = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      sendJson(res, 500, `Internal error: ${(e as Error)?.message ?? String(e)}`);
    });
  });
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(options.port, host, () => {
      http.off('error', reject);
      resolve();
    });
  });
  const sweeper = setInterval(() => {
    const cutoff = Date.now() - idleMs;
    for (const [id, at] of lastSeen) {
      if (at < cutoff) void transports.get(id)?.close();
    }
  }, Math.min(60_000, Math.max(1_000, Math.floor(idleMs / 2))));
  sweeper.unref();
  const addr = http.address() as AddressInfo;
  const shownHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    clearInterval(sweeper);
    await Promise.allSettled([...transports.values()].map((t) => t.close()));
    transports.clear();
    await new Promise<void>((resolve) => {
      http.close(() => resolve());
      http.closeAllConnections();
    });
  };
  return {
    url: `http://${shownHost}:${addr.port}${MCP_HTTP_PATH}`,
    port: addr.port,
    host: addr.address,
    get sessions() {
      return transports.size;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
