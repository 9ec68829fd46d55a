/**
 * The host end of a script's `fetch()` (granted egress, see `egress-policy.ts`): the request the
 * guest describes is checked and made here, never in the sandbox. Loaded on the first `fetch()`
 * of a process, so executors without egress never load `node:http`.
 *
 * Each hop (the request and every redirect) is checked on its own: its origin must be allowed,
 * its method allowed for that origin, and its host name is resolved here, every answer checked,
 * and the socket connected to the checked address (Node's `lookup` hook hands the connection that
 * address, so there is no second lookup to rebind). Credentials bound to an origin are added for
 * that origin only; the script's own `authorization` is dropped when a redirect changes origin
 * (as WHATWG fetch does). Sizes are bounded while the bytes arrive, decompressed ones included,
 * and every credential value is redacted from what goes back.
 */
import { isUtf8 } from 'node:buffer';
import { lookup as dnsLookup } from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import type { Readable } from 'node:stream';
import zlib from 'node:zlib';
import type { Redactor } from '../model/redact.js';
import { abortable } from '../model/abortable.js';
import { HOST_HEADERS, TOKEN_RE, addressRefusal, originOf, originRule, type ResolvedEgress } from './egress-policy.js';

/** How a fetch failed; the guest sees the code on the TypeError it rejects with. */
export type EgressErrorCode = 'EGRESS_DENIED' | 'EGRESS_LIMIT' | 'INVALID_REQUEST' | 'NETWORK_ERROR' | 'TIMEOUT' | 'CANCELLED';

export class EgressError extends Error {
  override readonly name = 'EgressError';
  constructor(
    readonly code: EgressErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** A request as the guest describes it (checked by `parseFetchRequest`). */
export interface FetchRequest {
  url: URL;
  method: string;
  headers: Array<[string, string]>;
  body: Buffer | undefined;
  redirect: 'follow' | 'manual' | 'error';
}

/** What goes back to the guest, which builds its `Response` from it. */
export interface FetchReply {
  status: number;
  statusText: string;
  url: string;
  redirected: boolean;
  headers: Array<[string, string]>;
  /** The body: UTF-8 text when the bytes are valid UTF-8, else base64. */
  body: string;
  bodyEncoding: 'text' | 'base64';
}

/** What the host records about a request that got an answer. */
export interface FetchOutcome {
  reply: FetchReply;
  redirects: number;
  requestBytes: number;
  responseBytes: number;
  /** The address of the last hop's connection. */
  peerAddress: string;
}

const MAX_HEADERS = 100;
const MAX_HEADER_CHARS = 16 * 1024;
const MAX_URL_CHARS = 16 * 1024;
const MAX_ANSWERS = 32;
/** WHATWG: only these method names are normalised to upper case. */
const NORMALISED_METHODS = new Set(['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT', 'PATCH']);
const FORBIDDEN_METHODS = new Set(['CONNECT', 'TRACE', 'TRACK']);
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/** Request headers that describe the body; a redirect that drops the body drops them too. */
const BODY_HEADERS = new Set(['content-type', 'content-encoding', 'content-language', 'content-location']);

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function invalid(message: string): EgressError {
  return new EgressError('INVALID_REQUEST', message);
}

/**
 * Checks the guest's description of a request (every field is untrusted) and turns it into a
 * `FetchRequest`, or throws an `INVALID_REQUEST` error saying what is wrong.
 */
export function parseFetchRequest(msg: Record<string, unknown>, maxRequestBytes: number): FetchRequest {
  const rawUrl = msg.url;
  if (typeof rawUrl !== 'string' || rawUrl.length === 0) throw invalid('fetch(url): the URL must be a non-empty string');
  if (rawUrl.length > MAX_URL_CHARS) throw invalid(`fetch(url): the URL is ${rawUrl.length} characters; the most is ${MAX_URL_CHARS}`);
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    throw invalid(`fetch(url): ${JSON.stringify(rawUrl.slice(0, 200))} is not an absolute URL (there is no base URL in the sandbox)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw invalid(`fetch(url): only http: and https: URLs can be fetched, got ${url.protocol}`);
  if (url.username || url.password) throw invalid('fetch(url): a URL with a user name or password cannot be fetched (credentials for an origin are configured on the host)');
  url.hash = '';
  const rawMethod = msg.method === undefined ? 'GET' : msg.method;
  if (typeof rawMethod !== 'string' || !TOKEN_RE.test(rawMethod)) throw invalid(`fetch(): ${JSON.stringify(String(rawMethod).slice(0, 40))} is not a valid HTTP method`);
  const upper = rawMethod.toUpperCase();
  if (FORBIDDEN_METHODS.has(upper)) throw invalid(`fetch(): the ${upper} method is not allowed`);
  const method = NORMALISED_METHODS.has(upper) ? upper : rawMethod;
  const headers: Array<[string, string]> = [];
  const rawHeaders = msg.headers === undefined ? [] : msg.headers;
  if (!Array.isArray(rawHeaders)) throw invalid('fetch(): headers must be a list of [name, value] pairs');
  if (rawHeaders.length > MAX_HEADERS) throw invalid(`fetch(): ${rawHeaders.length} headers; the most is ${MAX_HEADERS}`);
  let headerChars = 0;
  for (const pair of rawHeaders) {
    if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string' || typeof pair[1] !== 'string') throw invalid('fetch(): headers must be a list of [name, value] string pairs');
    const [name, value] = pair as [string, string];
    if (!TOKEN_RE.test(name)) throw invalid(`fetch(): ${JSON.stringify(name.slice(0, 60))} is not a valid header name`);
    if (/[\r\n\0]/.test(value)) throw invalid(`fetch(): the value of header ${name} holds a line break or NUL`);
    headerChars += name.length + value.length;
    if (headerChars > MAX_HEADER_CHARS) throw invalid(`fetch(): the headers are longer than ${MAX_HEADER_CHARS} characters`);
    headers.push([name.toLowerCase(), value.trim()]);
  }
  let body: Buffer | undefined;
  if (msg.body !== undefined && msg.body !== null) {
    if (typeof msg.body !== 'string') throw invalid('fetch(): the body must arrive as a string');
    const encoding = msg.bodyEncoding === 'base64' ? 'base64' : 'utf8';
    if (encoding === 'base64' && !/^[A-Za-z0-9+/]*={0,2}$/.test(msg.body)) throw invalid('fetch(): the body is not valid base64');
    body = Buffer.from(msg.body, encoding);
    if (body.length > maxRequestBytes) throw new EgressError('EGRESS_LIMIT', `fetch(): the request body is ${body.length} bytes; egress.maxRequestBytes is ${maxRequestBytes}`);
    if (method === 'GET' || method === 'HEAD') throw invalid(`fetch(): a ${method} request cannot have a body`);
  }
  const redirect = msg.redirect === undefined ? 'follow' : msg.redirect;
  if (redirect !== 'follow' && redirect !== 'manual' && redirect !== 'error') throw invalid(`fetch(): redirect must be "follow", "manual" or "error", got ${JSON.stringify(String(redirect).slice(0, 40))}`);
  return { url, method, headers, body, redirect };
}

/** The reason a request may not go to `url` with `method`, or undefined. */
function refusal(egress: ResolvedEgress, url: URL, method: string): string | undefined {
  const rule = originRule(egress, url);
  const origin = originOf(url);
  if (!rule) {
    const allowed = egress.origins.map((o) => o.written).join(', ');
    return `fetch(): ${origin} is not an allowed origin (allowed: ${allowed}); add it to egress.allow to reach it`;
  }
  if (rule.methods && !rule.methods.has(method.toUpperCase())) {
    return `fetch(): ${method} is not allowed to ${rule.written} (allowed: ${[...rule.methods].join(', ')}); add it to that origin's "methods"`;
  }
  return undefined;
}

/** Resolves the host of `url` and returns the first address requests may reach; refuses otherwise. */
async function resolveAddress(egress: ResolvedEgress, url: URL, signal: AbortSignal): Promise<{ address: string; family: 4 | 6 }> {
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const literal = isIP(host);
  if (literal !== 0) {
    const why = addressRefusal(egress, host);
    if (why) throw denyAddress(egress, url, host, why);
    return { address: host, family: literal as 4 | 6 };
  }
  const lookup = egress.lookup ?? ((name: string) => dnsLookup(name, { all: true, verbatim: true }) as Promise<Array<{ address: string; family: 4 | 6 }>>);
  let answers: Array<{ address: string; family: number }>;
  try {
    answers = await abortable(lookup(host), signal, abortReason);
  } catch (e) {
    if (e instanceof EgressError) throw e;
    const code = (e as { code?: string })?.code;
    throw new EgressError('NETWORK_ERROR', `fetch(): ${host} could not be resolved${code ? ` (${code})` : ''}`);
  }
  if (!Array.isArray(answers) || answers.length === 0) throw new EgressError('NETWORK_ERROR', `fetch(): ${host} has no addresses`);
  let first: { address: string; why: string } | undefined;
  for (const a of answers.slice(0, MAX_ANSWERS)) {
    const address = typeof a?.address === 'string' ? a.address : '';
    const family = isIP(address);
    const why = family === 0 ? 'not an IP address' : addressRefusal(egress, address);
    if (!why) return { address, family: family as 4 | 6 };
    first ??= { address, why };
  }
  throw denyAddress(egress, url, first!.address, first!.why, host);
}

function denyAddress(egress: ResolvedEgress, url: URL, address: string, why: string, host?: string): EgressError {
  const listed = egress.allowAddresses.length > 0 ? ` (allowAddresses: ${egress.allowAddresses.join(', ')})` : '';
  const subject = host ? `${host} resolves to ${address}, a ${why} address` : `${address} is a ${why} address`;
  return new EgressError('EGRESS_DENIED', `fetch(): ${subject}, which requests may not reach${listed}; add it to egress.allowAddresses to allow ${originOf(url)} there`);
}

/** What a fetch cancelled by `signal` rejects with: its reason when that is an EgressError, else CANCELLED. */
function abortReason(signal: AbortSignal): EgressError {
  const r = signal.reason;
  return r instanceof EgressError ? r : new EgressError('CANCELLED', 'fetch(): the request was cancelled');
}

/** The request headers of one hop: the script's, minus what the host sets, plus the origin's credentials. */
function hopHeaders(egress: ResolvedEgress, url: URL, own: Array<[string, string]>, body: Buffer | undefined, traced: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(traced ?? {})) out[name.toLowerCase()] = value;
  for (const [name, value] of own) {
    if (HOST_HEADERS.has(name) || name.startsWith('proxy-')) continue;
    out[name] = out[name] === undefined ? value : `${out[name]}, ${value}`;
  }
  const rule = originRule(egress, url);
  for (const [name, value] of rule?.headers ?? []) out[name] = value;
  out['accept'] ??= '*/*';
  out['user-agent'] ??= 'toolexec';
  out['accept-encoding'] = 'gzip, deflate, br';
  if (body !== undefined) out['content-length'] = String(body.length);
  return out;
}

/**
 * Makes the request under the policy: resolve and check every hop, follow (or not) redirects,
 * read the body within its cap, redact. Throws `EgressError`.
 */
export async function egressFetch(egress: ResolvedEgress, request: FetchRequest, options: { signal: AbortSignal; timeoutMs: number; headers?: Record<string, string> }): Promise<FetchOutcome> {
  const controller = new AbortController();
  const timeoutMs = Math.max(1, Math.floor(Math.min(options.timeoutMs, egress.timeoutMs)));
  const timer = setTimeout(() => controller.abort(new EgressError('TIMEOUT', `fetch(): ${originOf(request.url)} did not answer within ${timeoutMs} ms`)), timeoutMs);
  const onOuterAbort = () => controller.abort(new EgressError('CANCELLED', 'fetch(): the request was cancelled'));
  if (options.signal.aborted) onOuterAbort();
  else options.signal.addEventListener('abort', onOuterAbort, { once: true });
  try {
    return await follow(egress, request, controller.signal, options.headers);
  } finally {
    clearTimeout(timer);
    options.signal.removeEventListener('abort', onOuterAbort);
  }
}

/** `traced`: trace context headers (`traceparent`, ...) for every hop, below the origin's own headers. */
async function follow(egress: ResolvedEgress, request: FetchRequest, signal: AbortSignal, traced: Record<string, string> | undefined): Promise<FetchOutcome> {
  let { url, method, body } = request;
  let own = request.headers;
  const startOrigin = originOf(url);
  let redirects = 0;
  let requestBytes = 0;
  for (;;) {
    const why = refusal(egress, url, method);
    if (why) throw new EgressError('EGRESS_DENIED', redirects > 0 ? `${why} (reached by a redirect from ${startOrigin})` : why);
    const { address, family } = await resolveAddress(egress, url, signal);
    const headers = hopHeaders(egress, url, own, body, traced);
    requestBytes += body?.length ?? 0;
    const res = await send(url, method, headers, body, address, family, signal);
    const status = res.statusCode ?? 0;
    const location = res.headers.location;
    if (REDIRECTS.has(status) && typeof location === 'string' && request.redirect !== 'manual') {
      res.resume();
      if (request.redirect === 'error') throw new EgressError('NETWORK_ERROR', `fetch(): ${originOf(url)} answered with a redirect (${status}) and the request's redirect mode is "error"`);
      if (++redirects > egress.maxRedirects) throw new EgressError('EGRESS_LIMIT', `fetch(): more than egress.maxRedirects (${egress.maxRedirects}) redirects`);
      let next: URL;
      try {
        next = new URL(location, url);
      } catch {
        throw new EgressError('NETWORK_ERROR', `fetch(): ${originOf(url)} redirected to an invalid URL`);
      }
      if (next.protocol !== 'http:' && next.protocol !== 'https:') throw new EgressError('EGRESS_DENIED', `fetch(): ${originOf(url)} redirected to a ${next.protocol} URL`);
      next.hash = '';
      // WHATWG fetch: 303 turns everything but HEAD into a body-less GET, 301 and 302 do so for POST.
      if ((status === 303 && method !== 'HEAD') || ((status === 301 || status === 302) && method === 'POST')) {
        method = 'GET';
        body = undefined;
        own = own.filter(([name]) => !BODY_HEADERS.has(name));
      }
      // The script's own credentials do not follow it to another origin.
      if (originOf(next) !== originOf(url)) own = own.filter(([name]) => name !== 'authorization' && name !== 'cookie');
      url = next;
      continue;
    }
    const bytes = method === 'HEAD' || status === 204 || status === 304 ? Buffer.alloc(0) : await readBody(res, egress.maxResponseBytes, signal, url);
    return {
      reply: buildReply(egress.redactor, res, url, redirects > 0, bytes),
      redirects,
      requestBytes,
      responseBytes: bytes.length,
      peerAddress: address,
    };
  }
}

function send(url: URL, method: string, headers: Record<string, string>, body: Buffer | undefined, address: string, family: 4 | 6, signal: AbortSignal): Promise<http.IncomingMessage> {
  if (signal.aborted) return Promise.reject(abortReason(signal));
  const https_ = url.protocol === 'https:';
  return new Promise((resolve, reject) => {
    let req: http.ClientRequest;
    const onAbort = () => {
      req?.destroy(abortReason(signal));
    };
    try {
      req = (https_ ? https : http).request({
        protocol: url.protocol,
        hostname: url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname,
        port: url.port || (https_ ? 443 : 80),
        path: url.pathname + url.search,
        method,
        headers,
        // No pooled sockets: each hop connects to the address checked for it, and nothing of one
        // execution's connections outlives its request.
        agent: false,
        // The connection goes to the address checked above, whatever the name resolves to now.
        lookup: ((_hostname: string, opts: { all?: boolean }, cb: (...args: unknown[]) => void) => {
          if (opts?.all) cb(null, [{ address, family }]);
          else cb(null, address, family);
        }) as never,
      });
    } catch (e) {
      reject(invalid(`fetch(): ${(e as Error).message}`));
      return;
    }
    signal.addEventListener('abort', onAbort, { once: true });
    req.once('response', (res) => {
      signal.removeEventListener('abort', onAbort);
      resolve(res);
    });
    req.once('error', (e) => {
      signal.removeEventListener('abort', onAbort);
      reject(e instanceof EgressError ? e : signal.aborted ? abortReason(signal) : networkError(url, e));
    });
    req.end(body);
  });
}

function networkError(url: URL, e: unknown): EgressError {
  const code = (e as { code?: string })?.code;
  const message = (e as Error)?.message ?? String(e);
  return new EgressError('NETWORK_ERROR', `fetch(): the request to ${originOf(url)} failed: ${code && !message.includes(code) ? `${code} ` : ''}${message}`);
}

function decoderFor(encoding: string | undefined): zlib.Gunzip | zlib.Inflate | zlib.BrotliDecompress | undefined {
  switch ((encoding ?? '').trim().toLowerCase()) {
    case 'gzip':
    case 'x-gzip':
      return zlib.createGunzip();
    case 'deflate':
      return zlib.createInflate();
    case 'br':
      return zlib.createBrotliDecompress();
    default:
      return undefined;
  }
}

/** The body, decompressed, within `max` bytes (checked as the bytes arrive, so a bomb stops early). */
async function readBody(res: http.IncomingMessage, max: number, signal: AbortSignal, url: URL): Promise<Buffer> {
  const declared = Number(res.headers['content-length']);
  const encoding = res.headers['content-encoding'];
  if (Number.isFinite(declared) && declared > max && !encoding) {
    res.destroy();
    throw tooLarge(url, max, declared);
  }
  const decoder = decoderFor(encoding);
  const source: Readable = decoder ? res.pipe(decoder) : res;
  const chunks: Buffer[] = [];
  let size = 0;
  const onAbort = () => {
    const reason = abortReason(signal);
    res.destroy(reason);
    decoder?.destroy(reason);
  };
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    for await (const chunk of source) {
      size += (chunk as Buffer).length;
      if (size > max) throw tooLarge(url, max);
      chunks.push(chunk as Buffer);
    }
    if (!res.complete) throw new EgressError('NETWORK_ERROR', `fetch(): the response from ${originOf(url)} ended early`);
  } catch (e) {
    res.destroy();
    decoder?.destroy();
    if (e instanceof EgressError) throw e;
    if (signal.aborted) throw abortReason(signal);
    throw new EgressError('NETWORK_ERROR', `fetch(): reading the response from ${originOf(url)} failed: ${(e as Error)?.message ?? e}`);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
  return Buffer.concat(chunks, size);
}

function tooLarge(url: URL, max: number, declared?: number): EgressError {
  return new EgressError('EGRESS_LIMIT', `fetch(): the response from ${originOf(url)} is ${declared !== undefined ? `${declared} bytes` : 'larger than that'}; egress.maxResponseBytes is ${max}`);
}

function buildReply(redactor: Redactor, res: http.IncomingMessage, url: URL, redirected: boolean, bytes: Buffer): FetchReply {
  const headers: Array<[string, string]> = [];
  const raw = res.rawHeaders;
  for (let i = 0; i + 1 < raw.length && headers.length < MAX_HEADERS * 2; i += 2) headers.push([raw[i]!.toLowerCase(), redactor.redact(raw[i + 1]!)]);
  const text = isUtf8(bytes);
  const body = text ? redactor.redact(bytes.toString('utf8')) : redactBytes(redactor, bytes).toString('base64');
  return { status: res.statusCode ?? 0, statusText: res.statusMessage ?? '', url: url.href, redirected, headers, body, bodyEncoding: text ? 'text' : 'base64' };
}

/** A binary body with every secret's bytes replaced by its `[redacted:NAME]` label. */
function redactBytes(redactor: Redactor, bytes: Buffer): Buffer {
  if (redactor.empty) return bytes;
  // latin1 maps bytes to characters one to one, so the text form can be searched and rebuilt;
  // the secrets are searched as their UTF-8 bytes in that form.
  const asText = bytes.toString('latin1');
  let out = asText;
  for (const s of redactor.secrets()) {
    const needle = Buffer.from(s.value, 'utf8').toString('latin1');
    if (needle.length >= 6 && out.includes(needle)) out = out.split(needle).join(`[redacted:${s.name}]`);
  }
  return out === asText ? bytes : Buffer.from(out, 'latin1');
}

/** Any failure of a fetch as an `EgressError` (a bug here must not reach the guest as a host object). */
export function toEgressError(e: unknown): EgressError {
  if (e instanceof EgressError) return e;
  return new EgressError('NETWORK_ERROR', `fetch(): ${(e as Error)?.message ?? String(e)}`);
}
