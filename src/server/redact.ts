/**
 * Redaction for what the server prints about calls (`toolexec serve --verbose=args`). Arguments
 * are hostile and may hold credentials, so printing them goes through a redactor that hides
 * values under credential-like keys and every known secret wherever it appears, and through a
 * formatter bounded in work and output whatever the value's size or depth.
 *
 * The redactor is a hook (`ToolexecServerOptions.redact`): whoever knows more secrets (the
 * config's `${VAR}` values, OAuth tokens) passes them to `createRedactor`, or supplies its own.
 */

/** What a redacted value is replaced with. */
export const REDACTED = '[redacted]';

/**
 * Key names whose values are hidden wherever they appear, matched against the key split into
 * words (`apiKey`, `api-key` and `API_KEY` are all `api_key`): whole words only, so `max_tokens`
 * or `author` stay visible while `github_token` and `Authorization` do not.
 */
export const SENSITIVE_KEY_PATTERN =
  /(^|_)(password|passwd|passphrase|pass|pwd|secrets?|token|apikey|api_key|access_key|private_key|client_secret|auth|authorization|cookies?|credentials?|session_id|sessionid|bearer|signature|jwt)($|_)/;

/** `apiKey` / `api-key` / `API_KEY` → `api_key`. */
function keyWords(key: string): string {
  return key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/[-\s.]+/g, '_').toLowerCase();
}

/** Turns a value into one safe to print; must not throw and must not return shared structure it mutated. */
export type Redactor = (value: unknown) => unknown;

export interface RedactorOptions {
  /** Exact secret values (a bearer token, API keys from the environment) hidden inside any string. Values under 4 characters are ignored. */
  secrets?: readonly string[];
  /** Key names whose values are hidden (default {@link SENSITIVE_KEY_PATTERN}). */
  sensitiveKeys?: RegExp;
}

/** Most nodes a redaction walks; the rest is replaced by a marker (the value is only printed). */
const MAX_NODES = 2_000;
const MAX_DEPTH = 12;

/**
 * A redactor that replaces values under credential-like keys with `[redacted]` and every
 * occurrence of a known secret inside strings (keys included). It walks at most a bounded
 * number of nodes and levels, marking what it cut.
 */
export function createRedactor(options: RedactorOptions = {}): Redactor {
  const secrets = [...new Set((options.secrets ?? []).filter((s) => typeof s === 'string' && s.length >= 4))].sort((a, b) => b.length - a.length);
  const keys = options.sensitiveKeys ?? SENSITIVE_KEY_PATTERN;
  const scrub = (s: string): string => {
    let out = s;
    for (const secret of secrets) if (out.includes(secret)) out = out.split(secret).join(REDACTED);
    return out;
  };
  return (value) => {
    let nodes = 0;
    const walk = (v: unknown, depth: number): unknown => {
      if (++nodes > MAX_NODES) return '[…]';
      if (typeof v === 'string') return scrub(v);
      if (v === null || typeof v !== 'object') return typeof v === 'bigint' ? v.toString() : v;
      if (depth >= MAX_DEPTH) return Array.isArray(v) ? '[array…]' : '[object…]';
      if (Array.isArray(v)) {
        const out: unknown[] = [];
        for (const item of v) {
          if (nodes > MAX_NODES) {
            out.push('[…]');
            break;
          }
          out.push(walk(item, depth + 1));
        }
        return out;
      }
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(v as object)) {
        if (nodes > MAX_NODES) {
          out['…'] = '[…]';
          break;
        }
        const child = (v as Record<string, unknown>)[k];
        out[scrub(k)] = keys.test(keyWords(k)) && child !== null && child !== undefined && child !== '' ? REDACTED : walk(child, depth + 1);
      }
      return out;
    };
    try {
      return walk(value, 0);
    } catch {
      // A getter that throws, a Proxy: print nothing of it rather than fail the call.
      return REDACTED;
    }
  };
}

/**
 * JSON of `value` after `redact`, cut to `maxChars` (marked with `…`). Bounded: the redactor
 * walks a bounded part of the value, so the JSON of its output is bounded too.
 */
export function formatRedacted(value: unknown, redact: Redactor, maxChars = 500): string {
  let text: string;
  try {
    text = JSON.stringify(redact(value)) ?? 'undefined';
  } catch (e) {
    text = `[unprintable: ${(e as Error)?.message ?? 'error'}]`;
  }
  return text.length > maxChars ? `${text.slice(0, maxChars)}…` : text;
}
