// Real servers on 127.0.0.1 for the egress tests: an HTTP server whose routes answer what the
// tests need (echo, redirects, big and compressed bodies, a request that never ends), and a DNS
// server (UDP, A records) whose answers a test sets, for the address checks and rebinding.
import { createSocket, type Socket } from 'node:dgram';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';

export interface SeenRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** Set when the client went away before the answer (an aborted or timed-out fetch). */
  closedEarly: boolean;
}

export interface TestHttpServer {
  port: number;
  origin: string;
  seen: SeenRequest[];
  close(): Promise<void>;
}

/**
 * Routes:
 *   /echo                 JSON of { method, url, headers, body (base64) }, with the request's
 *                         authorization echoed in a response header too
 *   /text?s=...           the text s, as text/plain
 *   /binary               the bytes 0..255
 *   /big?n=N              N bytes of "a"
 *   /gzip-bomb            8 MB of zeros, gzip-compressed (a few kB on the wire)
 *   /redirect?to=URL&status=302
 *   /hang                 headers never sent
 *   /slow-body            headers, then a body that never ends
 *   /cookies              two set-cookie headers
 */
export async function startHttpServer(): Promise<TestHttpServer> {
  const seen: SeenRequest[] = [];
  const bomb = gzipSync(Buffer.alloc(8 * 1024 * 1024));
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    const entry: SeenRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.alloc(0), closedEarly: false };
    seen.push(entry);
    res.on('close', () => {
      if (!res.writableFinished) entry.closedEarly = true;
    });
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      entry.body = Buffer.concat(chunks);
      const url = new URL(req.url ?? '/', 'http://x');
      switch (url.pathname) {
        case '/echo': {
          if (req.headers.authorization) res.setHeader('x-echo-authorization', req.headers.authorization);
          res.setHeader('content-type', 'application/json');
          res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body: entry.body.toString('base64') }));
          return;
        }
        case '/text':
          res.setHeader('content-type', 'text/plain; charset=utf-8');
          res.end(url.searchParams.get('s') ?? '');
          return;
        case '/binary':
          res.setHeader('content-type', 'application/octet-stream');
          res.end(Buffer.from(Array.from({ length: 256 }, (_, i) => i)));
          return;
        case '/big':
          res.end(Buffer.alloc(Number(url.searchParams.get('n') ?? 0), 'a'));
          return;
        case '/gzip-bomb':
          res.setHeader('content-encoding', 'gzip');
          res.end(bomb);
          return;
        case '/redirect':
          res.statusCode = Number(url.searchParams.get('status') ?? 302);
          res.setHeader('location', url.searchParams.get('to') ?? '/');
          res.end();
          return;
        case '/hang':
          return;
        case '/slow-body':
          res.writeHead(200, { 'content-type': 'text/plain' });
          res.write('start');
          return;
        case '/cookies':
          res.setHeader('set-cookie', ['a=1', 'b=2']);
          res.end('ok');
          return;
        default:
          res.statusCode = 404;
          res.end('not found');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    origin: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface TestDnsServer {
  port: number;
  /** Answers (IPv4 addresses) by name; a function gives a different answer per query. */
  records: Map<string, string[] | (() => string[])>;
  /** Queries received, by name. */
  queries: string[];
  close(): Promise<void>;
}

/** A DNS server on 127.0.0.1 answering A queries from `records` (nothing for other types). */
export async function startDnsServer(): Promise<TestDnsServer> {
  const records = new Map<string, string[] | (() => string[])>();
  const queries: string[] = [];
  const socket: Socket = createSocket('udp4');
  socket.on('message', (msg, rinfo) => {
    if (msg.length < 12) return;
    let off = 12;
    const labels: string[] = [];
    while (off < msg.length && msg[off] !== 0) {
      const len = msg[off]!;
      labels.push(msg.subarray(off + 1, off + 1 + len).toString('ascii'));
      off += len + 1;
    }
    off++;
    const qtype = msg.readUInt16BE(off);
    const question = msg.subarray(12, off + 4);
    const name = labels.join('.').toLowerCase();
    queries.push(name);
    const entry = records.get(name);
    const answers = qtype === 1 && entry ? (typeof entry === 'function' ? entry() : entry) : [];
    const header = Buffer.alloc(12);
    msg.copy(header, 0, 0, 2);
    header.writeUInt16BE(entry ? 0x8180 : 0x8183, 2);
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(answers.length, 6);
    const parts = [header, question];
    for (const a of answers) {
      const rr = Buffer.alloc(16);
      rr.writeUInt16BE(0xc00c, 0);
      rr.writeUInt16BE(1, 2);
      rr.writeUInt16BE(1, 4);
      rr.writeUInt32BE(0, 6);
      rr.writeUInt16BE(4, 10);
      a.split('.').forEach((o, i) => rr.writeUInt8(Number(o), 12 + i));
      parts.push(rr);
    }
    socket.send(Buffer.concat(parts), rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return {
    port: socket.address().port,
    records,
    queries,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}
