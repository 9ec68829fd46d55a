/**
 * Granted egress (DESIGN.md "The gateway"): which origins a script's `fetch()` may reach, with
 * which methods, within which sizes and times, and which headers the host adds for an origin
 * (credentials the script never sees). This file checks a policy once, when the executor is
 * made, and answers the questions the host asks before every request; the request itself is
 * made by `egress.ts`, loaded on the first `fetch()`.
 *
 * Addresses: a host name is resolved by the host, every answer is checked, and the connection
 * goes to a checked address (no second lookup, so no DNS-rebinding window). Only public unicast
 * addresses are reachable unless `allowAddresses` lists more: loopback, private, link-local
 * (cloud metadata services live at 169.254.169.254), CGNAT, multicast, documentation and other
 * special-purpose ranges of the IANA registries are refused.
 */
import { createRequire } from 'node:module';
import type { BlockList } from 'node:net';
import { MIN_SECRET_LENGTH, Redactor, type Secret } from '../model/redact.js';

/** One origin a script may reach with `fetch()`. */
export interface EgressOrigin {
  /**
   * `scheme://host[:port]`, e.g. `https://api.github.com`, `http://127.0.0.1:8080`; a leading
   * `*.` in the host (`https://*.example.com`) matches every subdomain (not the domain itself).
   */
  origin: string;
  /** Methods allowed to this origin (default `["GET", "HEAD"]`; `"*"` allows every method). */
  methods?: string[];
  /**
   * Headers the host adds to every request to this origin, replacing any the script set: API
   * keys and tokens. The script never sees them; they are not sent to any other origin (a
   * redirect elsewhere drops them), and any value of them in a response is redacted.
   */
  headers?: Record<string, string>;
}

/** What answers a host name lookup: every address, each checked before one is used. */
export type EgressLookup = (hostname: string) => Promise<Array<{ address: string; family: 4 | 6 }>>;

/**
 * `fetch()` in the sandbox, granted. Without a policy the sandbox has no `fetch` at all.
 *
 *   egress: {
 *     allow: ['https://api.example.com', { origin: 'https://api.github.com', methods: ['GET', 'POST'],
 *             headers: { authorization: `Bearer ${process.env.GITHUB_TOKEN}` } }],
 *     maxResponseBytes: 1_000_000,
 *   }
 */
export interface EgressPolicy {
  /** The origins a script may reach: an origin string (GET and HEAD) or an `EgressOrigin`. */
  allow: Array<string | EgressOrigin>;
  /**
   * Addresses beyond public unicast that requests may connect to: IP addresses, CIDR ranges
   * (`10.0.0.0/8`, `fd00::/8`) or the names `loopback`, `private`, `link-local`. Default none:
   * an allowed origin whose name resolves to such an address is refused.
   */
  allowAddresses?: string[];
  /** Largest request body, in bytes (default `DEFAULT_EGRESS.maxRequestBytes`). */
  maxRequestBytes?: number;
  /** Largest response body after decompression, in bytes (default `DEFAULT_EGRESS.maxResponseBytes`). */
  maxResponseBytes?: number;
  /** Time for one request, redirects included (default `DEFAULT_EGRESS.timeoutMs`); never more than the execution has left. */
  timeoutMs?: number;
  /** Redirects followed before a request fails (default `DEFAULT_EGRESS.maxRedirects`). */
  maxRedirects?: number;
  /**
   * Where header values came from (`${VAR}` in a config), so that redacted values read
   * `[redacted:VAR]`; every header value of `allow` is redacted either way.
   */
  secrets?: Secret[];
  /** Resolves host names (default: the system resolver, as `dns.lookup` with `all: true`). */
  lookup?: EgressLookup;
}

/** Defaults of the numeric egress settings. */
export const DEFAULT_EGRESS = Object.freeze({
  maxRequestBytes: 1024 * 1024,
  maxResponseBytes: 4 * 1024 * 1024,
  timeoutMs: 30_000,
  maxRedirects: 5,
});

/** Ceilings: a policy asking for more is a mistake worth naming. */
const MAX_BYTES = 256 * 1024 * 1024;
const MAX_REDIRECTS = 20;

const DEFAULT_METHODS = ['GET', 'HEAD'];
/** Methods fetch() refuses everywhere (WHATWG "forbidden methods"). */
const FORBIDDEN_METHODS = new Set(['CONNECT', 'TRACE', 'TRACK']);
/** RFC 9110 token: header names and methods. */
export const TOKEN_RE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** A rule once checked. */
export interface ResolvedOrigin {
  /** As written, for messages. */
  written: string;
  protocol: 'http:' | 'https:';
  /** Lower-case host (punycode); for a wildcard, the suffix after `*.`. */
  host: string;
  wildcard: boolean;
  /** The port, default ports included (`443`). */
  port: string;
  /** Upper-case methods, or undefined for every method. */
  methods: Set<string> | undefined;
  /** Lower-case header names with their values. */
  headers: Array<[string, string]>;
}

/** A policy once checked, with defaults applied. */
export interface ResolvedEgress {
  origins: ResolvedOrigin[];
  maxRequestBytes: number;
  maxResponseBytes: number;
  timeoutMs: number;
  maxRedirects: number;
  /** Every credential value of the policy, for responses, errors and the ledger. */
  redactor: Redactor;
  /** The addresses `allowAddresses` opens. */
  allowed: BlockList;
  /** `allowAddresses` as written, for messages. */
  allowAddresses: string[];
  lookup: EgressLookup | undefined;
}

const nodeRequire = createRequire(import.meta.url);

/** `node:net`, loaded only by an executor that has a policy (the root entry does not load it). */
function net(): typeof import('node:net') {
  return nodeRequire('node:net') as typeof import('node:net');
}

/** Default port of a scheme. */
export function defaultPort(protocol: string): string {
  return protocol === 'https:' ? '443' : '80';
}

/**
 * Checks a policy and applies its defaults; throws a `TypeError` naming the first problem
 * (`where` prefixes the key, e.g. `egress.allow[1]`).
 */
export function resolveEgressPolicy(policy: EgressPolicy, where = 'egress'): ResolvedEgress {
  const problems = egressPolicyProblems(policy, where);
  if (problems.length > 0) throw new TypeError(problems[0]);
  return resolveChecked(policy);
}

/** Every problem of a policy, each naming its key and the fix; empty when it is sound. */
export function egressPolicyProblems(policy: unknown, where = 'egress'): string[] {
  const problems: string[] = [];
  if (typeof policy !== 'object' || policy === null || Array.isArray(policy)) {
    return [`${where} must be an object with an "allow" list of origins, e.g. { allow: ["https://api.example.com"] }`];
  }
  const p = policy as Record<string, unknown>;
  const known = new Set(['allow', 'allowAddresses', 'maxRequestBytes', 'maxResponseBytes', 'timeoutMs', 'maxRedirects', 'secrets', 'lookup']);
  for (const k of Object.keys(p)) if (!known.has(k)) problems.push(`unknown key ${where}.${k}; known keys: ${[...known].filter((x) => x !== 'secrets' && x !== 'lookup').join(', ')}`);
  if (!Array.isArray(p.allow) || p.allow.length === 0) {
    problems.push(`${where}.allow must be a non-empty list of origins such as "https://api.example.com" (without a policy, scripts have no fetch at all)`);
  } else {
    p.allow.forEach((entry, i) => problems.push(...originProblems(entry, `${where}.allow[${i}]`)));
  }
  if (p.allowAddresses !== undefined) {
    if (!Array.isArray(p.allowAddresses)) problems.push(`${where}.allowAddresses must be a list of IP addresses, CIDR ranges or "loopback", "private", "link-local"`);
    else p.allowAddresses.forEach((a, i) => {
      const problem = addressProblem(a);
      if (problem) problems.push(`${where}.allowAddresses[${i}] ${problem}`);
    });
  }
  for (const [key, max] of [['maxRequestBytes', MAX_BYTES], ['maxResponseBytes', MAX_BYTES], ['timeoutMs', 10 * 60_000], ['maxRedirects', MAX_REDIRECTS]] as const) {
    const v = p[key];
    if (v === undefined) continue;
    const min = key === 'maxRedirects' ? 0 : 1;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) problems.push(`${where}.${key} must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
  }
  if (p.lookup !== undefined && typeof p.lookup !== 'function') problems.push(`${where}.lookup must be a function (hostname) => Promise<{ address, family }[]>`);
  return problems;
}

function originProblems(entry: unknown, key: string): string[] {
  const rule = typeof entry === 'string' ? { origin: entry } : entry;
  if (typeof rule !== 'object' || rule === null || Array.isArray(rule)) return [`${key} must be an origin string or { origin, methods?, headers? }`];
  const r = rule as Record<string, unknown>;
  const problems: string[] = [];
  for (const k of Object.keys(r)) if (k !== 'origin' && k !== 'methods' && k !== 'headers') problems.push(`unknown key ${key}.${k}; an origin entry takes origin, methods, headers`);
  if (typeof r.origin !== 'string') {
    problems.push(`${key}.origin must be a string such as "https://api.example.com"`);
  } else {
    const parsed = parseOrigin(r.origin);
    if (typeof parsed === 'string') problems.push(`${key}.origin ${parsed}`);
  }
  if (r.methods !== undefined) {
    if (!Array.isArray(r.methods) || r.methods.length === 0) problems.push(`${key}.methods must be a non-empty list such as ["GET", "POST"] (or ["*"])`);
    else for (const m of r.methods) {
      if (typeof m !== 'string' || (m !== '*' && !TOKEN_RE.test(m))) problems.push(`${key}.methods has ${JSON.stringify(m)}, which is not an HTTP method`);
      else if (FORBIDDEN_METHODS.has(m.toUpperCase())) problems.push(`${key}.methods has ${m}, which fetch() never sends`);
    }
  }
  if (r.headers !== undefined) {
    if (typeof r.headers !== 'object' || r.headers === null || Array.isArray(r.headers)) problems.push(`${key}.headers must be an object of header names and string values`);
    else for (const [name, value] of Object.entries(r.headers as Record<string, unknown>)) {
      if (!TOKEN_RE.test(name)) problems.push(`${key}.headers has ${JSON.stringify(name)}, which is not a header name`);
      // The value is a credential: never quote it.
      else if (typeof value !== 'string' || /[\r\n\0]/.test(value)) problems.push(`${key}.headers.${name} must be a string without line breaks`);
      else if (HOST_HEADERS.has(name.toLowerCase())) problems.push(`${key}.headers.${name} is set by the host for every request and cannot be configured`);
    }
  }
  return problems;
}

/** Headers the host alone sets (or that would change what the request means for the connection). */
export const HOST_HEADERS = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'te', 'trailer', 'expect', 'accept-encoding', 'proxy-authorization', 'proxy-connection']);

/** An origin as `ResolvedOrigin` parts, or what is wrong with it. */
export function parseOrigin(text: string): Omit<ResolvedOrigin, 'written' | 'methods' | 'headers'> | string {
  let rest = text.trim();
  let wildcard = false;
  const m = /^([a-z][a-z0-9+.-]*:\/\/)\*\.(.*)$/i.exec(rest);
  if (m) {
    wildcard = true;
    rest = m[1]! + m[2]!;
  }
  let url: URL;
  try {
    url = new URL(rest);
  } catch {
    return `is not an origin: write scheme://host[:port], e.g. "https://api.example.com", got ${JSON.stringify(text)}`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `must be an http: or https: origin, got ${JSON.stringify(text)}`;
  if (url.username || url.password) return `must not hold a user name or password (put credentials in "headers"), got an origin with them`;
  if ((url.pathname !== '/' && url.pathname !== '') || url.search || url.hash || /\/./.test(rest.replace(/^[a-z][a-z0-9+.-]*:\/\//i, ''))) {
    return `must be an origin without a path, query or fragment (scheme://host[:port]), got ${JSON.stringify(text)}`;
  }
  if (wildcard && (url.hostname.startsWith('[') || net().isIP(url.hostname) !== 0)) return `cannot put "*." before an IP address, got ${JSON.stringify(text)}`;
  return { protocol: url.protocol, host: url.hostname.toLowerCase(), wildcard, port: url.port || defaultPort(url.protocol) };
}

/** Names `allowAddresses` accepts besides addresses and ranges. */
const ADDRESS_CLASSES: Record<string, Array<[string, number, 'ipv4' | 'ipv6']>> = {
  loopback: [['127.0.0.0', 8, 'ipv4'], ['::1', 128, 'ipv6']],
  private: [['10.0.0.0', 8, 'ipv4'], ['172.16.0.0', 12, 'ipv4'], ['192.168.0.0', 16, 'ipv4'], ['fc00::', 7, 'ipv6']],
  'link-local': [['169.254.0.0', 16, 'ipv4'], ['fe80::', 10, 'ipv6']],
};

function addressProblem(a: unknown): string | undefined {
  if (typeof a !== 'string') return `must be a string, got ${typeof a}`;
  if (a in ADDRESS_CLASSES) return undefined;
  const [addr, bits, extra] = a.split('/');
  const family = net().isIP(addr ?? '');
  if (family === 0 || extra !== undefined) return `must be an IP address, a CIDR range or one of ${Object.keys(ADDRESS_CLASSES).join(', ')}; got ${JSON.stringify(a)}`;
  if (bits !== undefined) {
    const n = Number(bits);
    if (!/^\d+$/.test(bits) || n > (family === 4 ? 32 : 128)) return `has a prefix length that does not fit an IPv${family} address: ${JSON.stringify(a)}`;
  }
  return undefined;
}

function resolveChecked(policy: EgressPolicy): ResolvedEgress {
  const origins: ResolvedOrigin[] = [];
  const secrets: Secret[] = [...(policy.secrets ?? [])];
  for (const entry of policy.allow) {
    const rule: EgressOrigin = typeof entry === 'string' ? { origin: entry } : entry;
    const parsed = parseOrigin(rule.origin) as Exclude<ReturnType<typeof parseOrigin>, string>;
    const methods = rule.methods ?? DEFAULT_METHODS;
    const headers = Object.entries(rule.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v] as [string, string]);
    // A value holding a named secret (`Bearer ${TOKEN}`) is redacted through that name; a value
    // written as is gets a label of its own.
    for (const [name, value] of headers) {
      if (!(policy.secrets ?? []).some((s) => s.value.length >= MIN_SECRET_LENGTH && value.includes(s.value))) secrets.push({ name: `${rule.origin} ${name}`, value });
    }
    origins.push({ written: rule.origin, ...parsed, methods: methods.includes('*') ? undefined : new Set(methods.map((m) => m.toUpperCase())), headers });
  }
  const allowed = new (net().BlockList)();
  for (const a of policy.allowAddresses ?? []) {
    const cls = ADDRESS_CLASSES[a];
    if (cls) {
      for (const [addr, bits, family] of cls) allowed.addSubnet(addr, bits, family);
      continue;
    }
    const [addr, bits] = a.split('/') as [string, string | undefined];
    const family = net().isIP(addr) === 4 ? 'ipv4' : 'ipv6';
    if (bits === undefined) allowed.addAddress(addr, family);
    else allowed.addSubnet(addr, Number(bits), family);
  }
  return {
    origins,
    maxRequestBytes: policy.maxRequestBytes ?? DEFAULT_EGRESS.maxRequestBytes,
    maxResponseBytes: policy.maxResponseBytes ?? DEFAULT_EGRESS.maxResponseBytes,
    timeoutMs: policy.timeoutMs ?? DEFAULT_EGRESS.timeoutMs,
    maxRedirects: policy.maxRedirects ?? DEFAULT_EGRESS.maxRedirects,
    redactor: new Redactor(secrets),
    allowed,
    allowAddresses: [...(policy.allowAddresses ?? [])],
    lookup: policy.lookup,
  };
}

/** The rule that lets a request reach `url`'s origin, if any (exact hosts before wildcards). */
export function originRule(egress: ResolvedEgress, url: URL): ResolvedOrigin | undefined {
  const host = url.hostname.toLowerCase();
  const port = url.port || defaultPort(url.protocol);
  let wild: ResolvedOrigin | undefined;
  for (const o of egress.origins) {
    if (o.protocol !== url.protocol || o.port !== port) continue;
    if (!o.wildcard && o.host === host) return o;
    if (o.wildcard && !wild && host.endsWith('.' + o.host)) wild = o;
  }
  return wild;
}

/** `scheme://host:port` of a URL, as messages show it. */
export function originOf(url: URL): string {
  return `${url.protocol}//${url.host}`;
}

/**
 * The IANA special-purpose ranges (not globally reachable), by kind; an address in none of
 * them is public unicast.
 */
const SPECIAL: Array<[kind: string, addr: string, bits: number, family: 'ipv4' | 'ipv6']> = [
  ['"this network"', '0.0.0.0', 8, 'ipv4'],
  ['private', '10.0.0.0', 8, 'ipv4'],
  ['shared (CGNAT)', '100.64.0.0', 10, 'ipv4'],
  ['loopback', '127.0.0.0', 8, 'ipv4'],
  ['link-local', '169.254.0.0', 16, 'ipv4'],
  ['private', '172.16.0.0', 12, 'ipv4'],
  ['IETF protocol', '192.0.0.0', 24, 'ipv4'],
  ['documentation', '192.0.2.0', 24, 'ipv4'],
  ['6to4 relay', '192.88.99.0', 24, 'ipv4'],
  ['private', '192.168.0.0', 16, 'ipv4'],
  ['benchmarking', '198.18.0.0', 15, 'ipv4'],
  ['documentation', '198.51.100.0', 24, 'ipv4'],
  ['documentation', '203.0.113.0', 24, 'ipv4'],
  ['multicast', '224.0.0.0', 4, 'ipv4'],
  ['reserved', '240.0.0.0', 4, 'ipv4'],
  ['unspecified', '::', 128, 'ipv6'],
  ['loopback', '::1', 128, 'ipv6'],
  ['IPv4-compatible', '::', 96, 'ipv6'],
  ['NAT64', '64:ff9b::', 96, 'ipv6'],
  ['NAT64 (local)', '64:ff9b:1::', 48, 'ipv6'],
  ['discard', '100::', 64, 'ipv6'],
  ['IETF protocol', '2001::', 23, 'ipv6'],
  ['documentation', '2001:db8::', 32, 'ipv6'],
  ['6to4', '2002::', 16, 'ipv6'],
  ['documentation', '3fff::', 20, 'ipv6'],
  ['SRv6', '5f00::', 16, 'ipv6'],
  ['unique local (private)', 'fc00::', 7, 'ipv6'],
  ['link-local', 'fe80::', 10, 'ipv6'],
  ['site-local', 'fec0::', 10, 'ipv6'],
  ['multicast', 'ff00::', 8, 'ipv6'],
];

let special: Array<[string, BlockList]> | undefined;

/**
 * Why `address` may not be connected to (its kind, e.g. `loopback`), or undefined when it may:
 * public unicast, or opened by `allowAddresses`. IPv4-mapped IPv6 addresses are judged as the
 * IPv4 address they carry (so `::ffff:0:0/96` itself is not in the table: BlockList matches every
 * IPv4 address against it).
 */
export function addressRefusal(egress: ResolvedEgress, address: string): string | undefined {
  const n = net();
  let addr = address;
  let family = n.isIP(addr);
  if (family === 0) return 'not an IP address';
  if (family === 6) {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(addr);
    if (mapped) {
      addr = mapped[1]!;
      family = 4;
    }
  }
  const type = family === 4 ? 'ipv4' : 'ipv6';
  if (egress.allowed.check(addr, type)) return undefined;
  special ??= SPECIAL.map(([kind, a, bits, fam]) => {
    const list = new n.BlockList();
    list.addSubnet(a, bits, fam);
    return [kind, list];
  });
  for (const [kind, list] of special) if (list.check(addr, type)) return kind;
  return undefined;
}

/**
 * One paragraph for a model (the MCP server's `execute_code` description): that `fetch` exists,
 * where it reaches and with which methods. Header names bound to an origin are said, never values.
 */
export function describeEgress(policy: EgressPolicy): string {
  const origins = policy.allow.map((entry) => {
    const rule = typeof entry === 'string' ? { origin: entry } : entry;
    const methods = rule.methods ?? DEFAULT_METHODS;
    const added = Object.keys(rule.headers ?? {});
    return `${rule.origin} (${methods.includes('*') ? 'any method' : methods.map((m) => m.toUpperCase()).join(', ')}${added.length ? `; the server adds ${added.join(', ')}` : ''})`;
  });
  return (
    `\`fetch(url, init)\` is available (WHATWG-shaped: a Response with status, headers, text(), json(), arrayBuffer()) for these origins only: ${origins.join('; ')}. ` +
    'Requests leave from the server, count as tool calls and are in the ledger; credentials for an origin are added by the server (never put keys in the script). ' +
    'A refused or failed request rejects with a TypeError whose `code` is EGRESS_DENIED, EGRESS_LIMIT, INVALID_REQUEST, NETWORK_ERROR, TIMEOUT or CANCELLED.'
  );
}
