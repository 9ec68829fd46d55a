/**
 * The `oauth` key of a remote server entry in `mcpServers`. OAuth is on by default for HTTP
 * servers (a server that never answers 401 never starts it); this object only carries what
 * cannot be discovered: a client registered by hand, the scopes to ask for, a fixed
 * redirect port. `"oauth": false` turns it off (a 401 is then an error).
 */

/** Checked `oauth` settings of one HTTP server. */
export interface McpOAuthConfig {
  /** A client registered with the authorization server by hand; without it, dynamic client registration is used. */
  clientId?: string;
  /** That client's secret (confidential clients only). Never printed. */
  clientSecret?: string;
  /** Scopes to ask for when the server does not say which it needs. */
  scopes?: string[];
  /** Port of the loopback redirect `http://127.0.0.1:<port>/callback` (default: a free one per sign-in). */
  redirectPort?: number;
  /** An https URL of a client ID metadata document, used as client ID where the server supports it (SEP-991). */
  clientMetadataUrl?: string;
}

const OAUTH_KEYS = ['clientId', 'clientSecret', 'scopes', 'redirectPort', 'clientMetadataUrl'] as const;

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  // Strings are not echoed: this object holds a secret.
  return typeof value;
}

/**
 * Checks `raw` (the value of `<key>`), pushing one message per problem. Returns `false`
 * for `"oauth": false`, undefined when absent or `true`.
 */
export function parseOAuthConfig(raw: unknown, key: string, problems: string[]): McpOAuthConfig | false | undefined {
  if (raw === undefined || raw === true) return undefined;
  if (raw === false) return false;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    problems.push(`${key} must be an object (or false to turn OAuth off), got ${describe(raw)}`);
    return undefined;
  }
  const obj = raw as Record<string, unknown>;
  const out: McpOAuthConfig = {};
  for (const k of Object.keys(obj)) {
    if ((OAUTH_KEYS as readonly string[]).includes(k)) continue;
    const near = OAUTH_KEYS.find((known) => known.toLowerCase() === k.toLowerCase().replace(/[_-]/g, ''));
    problems.push(`${key}.${k} is not a known key${near ? `; did you mean "${near}"?` : ''} (known: ${OAUTH_KEYS.join(', ')})`);
  }
  for (const k of ['clientId', 'clientSecret'] as const) {
    const v = obj[k];
    if (v === undefined) continue;
    if (typeof v !== 'string' || v.length === 0) problems.push(`${key}.${k} must be a non-empty string, got ${describe(v)}`);
    else out[k] = v;
  }
  if (out.clientSecret !== undefined && out.clientId === undefined) problems.push(`${key}.clientSecret needs ${key}.clientId (the client the secret belongs to)`);
  if (obj.scopes !== undefined) {
    const s = obj.scopes;
    const list = typeof s === 'string' ? s.split(/\s+/).filter(Boolean) : Array.isArray(s) && s.every((x) => typeof x === 'string' && x.length > 0 && !/\s/.test(x)) ? (s as string[]) : undefined;
    if (!list) problems.push(`${key}.scopes must be an array of scope names (or one space-separated string), got ${describe(s)}`);
    else if (list.length > 0) out.scopes = list;
  }
  if (obj.redirectPort !== undefined) {
    const p = obj.redirectPort;
    if (typeof p !== 'number' || !Number.isInteger(p) || p < 1 || p > 65535) problems.push(`${key}.redirectPort must be a port number from 1 to 65535, got ${typeof p === 'number' ? p : describe(p)}`);
    else out.redirectPort = p;
  }
  if (obj.clientMetadataUrl !== undefined) {
    const u = obj.clientMetadataUrl;
    let ok = false;
    if (typeof u === 'string') {
      try {
        const parsed = new URL(u);
        ok = parsed.protocol === 'https:' && parsed.pathname !== '/';
      } catch {
        ok = false;
      }
    }
    if (!ok) problems.push(`${key}.clientMetadataUrl must be an https URL with a path (the client ID metadata document), got ${typeof u === 'string' ? JSON.stringify(u) : describe(u)}`);
    else out.clientMetadataUrl = u as string;
  }
  return out;
}
