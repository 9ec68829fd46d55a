/**
 * The `mcpServers` object MCP users already write for Claude Desktop, Cursor, Claude Code
 * and friends, parsed into checked, resolved server configs. Every problem names the
 * server and the key (`mcpServers.github.command must be a string`) because a config file
 * is hostile input written by hand.
 */
import { sanitizeNamespace } from '../../model/tool-id.js';
import { parseOAuthConfig, type McpOAuthConfig } from './oauth-config.js';

/** Default per-request timeout for MCP calls when neither the runner nor the config sets one. */
export const DEFAULT_MCP_TIMEOUT_MS = 60_000;

/**
 * How to reach a server. `http` is Streamable HTTP with a fallback to the old HTTP+SSE
 * transport when the server answers the Streamable HTTP handshake with a 4xx.
 */
export type McpTransportKind = 'stdio' | 'http' | 'streamable-http' | 'sse';

interface McpServerConfigBase {
  /** The key in `mcpServers`: used in every message and as the backend name. */
  name: string;
  /** The index namespace the server's tools are registered under (`sanitizeNamespace(name)`). */
  namespace: string;
  /** Disabled servers are parsed and checked but never started. */
  disabled: boolean;
  /** Per-request timeout from the config (`timeout`/`timeoutMs`, milliseconds), if set. */
  timeoutMs?: number;
}

/** A local server started as a child process and spoken to over stdin/stdout. */
export interface McpStdioServerConfig extends McpServerConfigBase {
  transport: 'stdio';
  command: string;
  args: string[];
  /** Added to the small safe default environment the SDK passes to the child. */
  env?: Record<string, string>;
  cwd?: string;
}

/** A remote server reached over Streamable HTTP, the old HTTP+SSE transport, or either (`http`). */
export interface McpHttpServerConfig extends McpServerConfigBase {
  transport: 'http' | 'streamable-http' | 'sse';
  url: string;
  headers?: Record<string, string>;
  /** OAuth settings (`false`: OAuth off); absent means on, with discovery and dynamic registration. */
  oauth?: McpOAuthConfig | false;
}

/** One checked entry of `mcpServers`. */
export type McpServerConfig = McpStdioServerConfig | McpHttpServerConfig;

/** A config that failed to parse; `problems` lists every problem found, each naming its key. */
export class McpConfigError extends Error {
  override readonly name = 'McpConfigError';
  readonly code = 'MCP_CONFIG' as const;
  readonly problems: string[];

  constructor(problems: string[]) {
    super(problems.length === 1 ? problems[0]! : `Invalid MCP server config:\n- ${problems.join('\n- ')}`);
    this.problems = problems;
  }
}

/** Options of `parseMcpServers`. */
export interface ParseMcpServersOptions {
  /** Prefix used in messages; `"mcpServers"` unless the object sits elsewhere in a file. */
  path?: string;
}

const TRANSPORT_ALIASES: Record<string, McpTransportKind> = {
  stdio: 'stdio',
  http: 'http',
  'streamable-http': 'streamable-http',
  streamableHttp: 'streamable-http',
  'streamable_http': 'streamable-http',
  sse: 'sse',
};

/** Keys other clients put in the same object (`autoApprove`, `alwaysAllow`, ...); ignored, never an error. */
const KNOWN_KEYS = new Set(['command', 'args', 'env', 'cwd', 'url', 'headers', 'type', 'transport', 'disabled', 'timeout', 'timeoutMs', 'oauth']);

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'string' ? `the string ${JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value)}` : `${typeof value}`;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringRecord(value: unknown, key: string, problems: string[]): Record<string, string> | undefined {
  if (value === undefined) return undefined;
  if (!isPlainObject(value)) {
    problems.push(`${key} must be an object of strings, got ${describe(value)}`);
    return undefined;
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') problems.push(`${key}.${k} must be a string, got ${describe(v)}`);
    else out[k] = v;
  }
  return out;
}

/**
 * Parses one server entry. `key` is the dotted path used in messages
 * (`mcpServers.github`).
 */
export function parseMcpServer(name: string, raw: unknown, key = `mcpServers.${name}`): { config?: McpServerConfig; problems: string[] } {
  const problems: string[] = [];
  if (name.length === 0) return { problems: [`${key}: a server name must not be empty`] };
  if (!isPlainObject(raw)) return { problems: [`${key} must be an object, got ${describe(raw)}`] };

  let transport: McpTransportKind | undefined;
  const declared = raw.transport ?? raw.type;
  const declaredKey = raw.transport !== undefined ? 'transport' : 'type';
  if (declared !== undefined) {
    if (typeof declared !== 'string' || !(declared in TRANSPORT_ALIASES)) {
      problems.push(`${key}.${declaredKey} must be one of "stdio", "http", "streamable-http", "sse"; got ${describe(declared)}`);
    } else {
      transport = TRANSPORT_ALIASES[declared];
    }
  }

  const hasCommand = raw.command !== undefined;
  const hasUrl = raw.url !== undefined;
  if (hasCommand && hasUrl) problems.push(`${key} has both "command" and "url"; a server is either a local command (stdio) or a URL (HTTP)`);
  if (!hasCommand && !hasUrl) problems.push(`${key} needs either "command" (a local stdio server) or "url" (an HTTP server)`);
  if (transport === undefined) transport = hasUrl ? 'http' : 'stdio';
  if (transport === 'stdio' && hasUrl && !hasCommand) problems.push(`${key}.${declaredKey} is "stdio" but the server has a "url" and no "command"`);
  if (transport !== 'stdio' && hasCommand && !hasUrl) problems.push(`${key}.${declaredKey} is ${JSON.stringify(declared)} but the server has a "command" and no "url"`);

  let disabled = false;
  if (raw.disabled !== undefined) {
    if (typeof raw.disabled !== 'boolean') problems.push(`${key}.disabled must be a boolean, got ${describe(raw.disabled)}`);
    else disabled = raw.disabled;
  }

  let timeoutMs: number | undefined;
  const timeoutKey = raw.timeoutMs !== undefined ? 'timeoutMs' : 'timeout';
  const timeout = raw.timeoutMs ?? raw.timeout;
  if (timeout !== undefined) {
    if (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout <= 0) {
      problems.push(`${key}.${timeoutKey} must be a positive number of milliseconds, got ${describe(timeout)}`);
    } else {
      timeoutMs = timeout;
    }
  }

  const base = { name, namespace: sanitizeNamespace(name), disabled, ...(timeoutMs !== undefined ? { timeoutMs } : {}) };

  if (hasCommand && !hasUrl) {
    const command = raw.command;
    if (typeof command !== 'string') problems.push(`${key}.command must be a string, got ${describe(command)}`);
    else if (command.trim().length === 0) problems.push(`${key}.command must not be empty`);
    let args: string[] = [];
    if (raw.args !== undefined) {
      if (!Array.isArray(raw.args)) problems.push(`${key}.args must be an array of strings, got ${describe(raw.args)}`);
      else {
        raw.args.forEach((a, i) => {
          if (typeof a !== 'string') problems.push(`${key}.args[${i}] must be a string, got ${describe(a)}`);
        });
        args = raw.args.filter((a): a is string => typeof a === 'string');
      }
    }
    const env = stringRecord(raw.env, `${key}.env`, problems);
    let cwd: string | undefined;
    if (raw.cwd !== undefined) {
      if (typeof raw.cwd !== 'string' || raw.cwd.length === 0) problems.push(`${key}.cwd must be a non-empty string, got ${describe(raw.cwd)}`);
      else cwd = raw.cwd;
    }
    if (raw.headers !== undefined) problems.push(`${key}.headers only applies to HTTP servers (with "url")`);
    if (raw.oauth !== undefined) problems.push(`${key}.oauth only applies to HTTP servers (with "url")`);
    if (problems.length > 0) return { problems };
    return {
      config: { ...base, transport: 'stdio', command: command as string, args, ...(env ? { env } : {}), ...(cwd !== undefined ? { cwd } : {}) },
      problems,
    };
  }

  if (hasUrl && !hasCommand) {
    const url = raw.url;
    let href: string | undefined;
    if (typeof url !== 'string') problems.push(`${key}.url must be a string, got ${describe(url)}`);
    else {
      let parsed: URL | undefined;
      try {
        parsed = new URL(url);
      } catch {
        problems.push(`${key}.url is not a valid URL: ${JSON.stringify(url)}`);
      }
      if (parsed && parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
        problems.push(`${key}.url must be an http: or https: URL, got ${JSON.stringify(parsed.protocol)}`);
      } else if (parsed) href = parsed.href;
    }
    const headers = stringRecord(raw.headers, `${key}.headers`, problems);
    const oauth = parseOAuthConfig(raw.oauth, `${key}.oauth`, problems);
    for (const k of ['args', 'env', 'cwd'] as const) {
      if (raw[k] !== undefined) problems.push(`${key}.${k} only applies to stdio servers (with "command")`);
    }
    if (problems.length > 0 || href === undefined) return { problems };
    return {
      config: { ...base, transport: transport as McpHttpServerConfig['transport'], url: href, ...(headers ? { headers } : {}), ...(oauth !== undefined ? { oauth } : {}) },
      problems,
    };
  }
  return { problems };
}

/**
 * Parses the `mcpServers` object (the value, not the file around it). Throws
 * `McpConfigError` listing every problem; unknown keys other clients use are ignored.
 */
export function parseMcpServers(obj: unknown, options: ParseMcpServersOptions = {}): McpServerConfig[] {
  const path = options.path ?? 'mcpServers';
  if (!isPlainObject(obj)) throw new McpConfigError([`${path} must be an object mapping server names to server configs, got ${describe(obj)}`]);
  const problems: string[] = [];
  const configs: McpServerConfig[] = [];
  const byNamespace = new Map<string, string>();
  for (const [name, raw] of Object.entries(obj)) {
    const result = parseMcpServer(name, raw, `${path}.${name}`);
    problems.push(...result.problems);
    if (!result.config) continue;
    const other = byNamespace.get(result.config.namespace);
    if (other !== undefined) {
      problems.push(`${path}.${name} and ${path}.${other} both map to the tool namespace ${JSON.stringify(result.config.namespace)}; rename one`);
      continue;
    }
    byNamespace.set(result.config.namespace, name);
    configs.push(result.config);
  }
  if (problems.length > 0) throw new McpConfigError(problems);
  return configs;
}

/** Keys in a server entry that this parser does not use (reported by callers as hints, never errors). */
export function unknownServerKeys(raw: unknown): string[] {
  return isPlainObject(raw) ? Object.keys(raw).filter((k) => !KNOWN_KEYS.has(k)) : [];
}
