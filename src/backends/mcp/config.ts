/**
 * The `mcpServers` object MCP users already write for Claude Desktop, Cursor, Claude Code
 * and friends, parsed into checked, resolved server configs. Every problem names the
 * server and the key (`mcpServers.github.command must be a string`) because a config file
 * is hostile input written by hand.
 *
 * Values may refer to the environment as Claude Code and Cursor spell it: `${VAR}` and
 * `${VAR:-default}` in `command`, `args`, `env`, `cwd`, `url` and `headers`; `$${` is a
 * literal `${`. What came from the environment is recorded as the server's `secrets`, so
 * that nothing toolexec prints or reports shows it (`Redactor`).
 */
import { readFileSync, statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { parseEnv } from 'node:util';
import { Redactor, type Secret } from '../../model/redact.js';
import { closestName } from '../../model/did-you-mean.js';
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
  /**
   * Values that came from the environment (`${VAR}` references, `envFile`): redacted from
   * every message about this server. Absent when there are none.
   */
  secrets?: Secret[];
}

/** A local server started as a child process and spoken to over stdin/stdout. */
export interface McpStdioServerConfig extends McpServerConfigBase {
  transport: 'stdio';
  command: string;
  args: string[];
  /** Set for the child on top of what it inherits (`envFile` first, then `env`, which wins). */
  env?: Record<string, string>;
  /** Working directory of the child (absolute once parsed with a `dir`). */
  cwd?: string;
  /**
   * What the child inherits from toolexec's own environment, besides `env`: absent or
   * `false`, the SDK's safe default set (`HOME`, `LOGNAME`, `PATH`, `SHELL`, `TERM`, `USER`
   * on POSIX: `getDefaultEnvironment()`); `true`, the whole environment; a list of names,
   * the default set plus those variables.
   */
  inheritEnv?: boolean | string[];
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
  /**
   * Directory that relative paths are resolved against: `cwd`, `envFile` and a `command`
   * written as a path (`./bin/server`). A config file passes its own directory. Default:
   * the working directory.
   */
  dir?: string;
  /** Working directory of stdio servers without a `cwd` (a config file passes its directory); default: inherited. */
  defaultCwd?: string;
  /** Where `${VAR}` references are looked up (default `process.env`). */
  env?: Record<string, string | undefined>;
}

const TRANSPORT_ALIASES: Record<string, McpTransportKind> = {
  stdio: 'stdio',
  http: 'http',
  'streamable-http': 'streamable-http',
  streamableHttp: 'streamable-http',
  'streamable_http': 'streamable-http',
  sse: 'sse',
};

/** Keys of a server entry that toolexec reads. */
export const SERVER_KEYS = ['command', 'args', 'env', 'envFile', 'cwd', 'inheritEnv', 'url', 'headers', 'type', 'transport', 'disabled', 'timeout', 'timeoutMs', 'oauth'] as const;

/**
 * Keys other clients put in the same object; accepted and ignored so one file can serve
 * several clients. Cline: `autoApprove`, `transportType`; Roo Code: `alwaysAllow`,
 * `watchPaths`, `disabledTools`; Gemini CLI: `trust`, `includeTools`, `excludeTools`,
 * `description`; VS Code: `dev`; Windsurf: `serverUrl` (its spelling of `url`, reported when
 * nothing else gives a URL); some add a `name`.
 */
export const FOREIGN_SERVER_KEYS = [
  'autoApprove',
  'alwaysAllow',
  'disabledTools',
  'transportType',
  'watchPaths',
  'trust',
  'includeTools',
  'excludeTools',
  'description',
  'dev',
  'serverUrl',
  'httpUrl',
  'name',
] as const;

const KNOWN_KEYS = new Set<string>([...SERVER_KEYS, ...FOREIGN_SERVER_KEYS]);

/** Largest `envFile` read. */
const MAX_ENV_FILE_BYTES = 1024 * 1024;

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Variables whose values are not secrets: paths and names everyone on the machine can see.
 * Hiding them would garble every message that contains a path (`${HOME}/data` is common).
 */
export const NOT_SECRET_VARIABLES = /^(HOME|USER|USERNAME|LOGNAME|PATH|SHELL|PWD|TMPDIR|TEMP|TMP|LANG|LC_[A-Z]+|TERM|XDG_[A-Z_]+)$/;

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

/** Where `${VAR}` references are looked up, and what they produced (filled in by `expandEnvReferences`). */
export interface EnvExpansion {
  env: Record<string, string | undefined>;
  /** Values taken from `env` (not defaults, not `NOT_SECRET_VARIABLES`). */
  secrets: Secret[];
  problems: string[];
}

/**
 * Expands `${VAR}` and `${VAR:-default}` in one value (`key` names it in messages). `$${`
 * is a literal `${`; any other `$` is literal too. `${VAR:-default}` uses the default when
 * the variable is unset or empty, as the shell does; a variable without a default must be set.
 */
export function expandEnvReferences(text: string, key: string, x: EnvExpansion): string {
  if (!text.includes('${')) return text;
  let out = '';
  let i = 0;
  while (i < text.length) {
    const at = text.indexOf('${', i);
    if (at === -1) {
      out += text.slice(i);
      break;
    }
    if (at > 0 && text[at - 1] === '$') {
      // `$${` → a literal `${`: the first `$` was already copied, so drop it.
      out += text.slice(i, at - 1) + '${';
      i = at + 2;
      continue;
    }
    out += text.slice(i, at);
    const end = text.indexOf('}', at + 2);
    if (end === -1) {
      x.problems.push(`${key} has a "\${" without its closing "}"; write $\${ for a literal "\${"`);
      return text;
    }
    const inner = text.slice(at + 2, end);
    const m = /^([A-Za-z_][A-Za-z0-9_]*)(?::-([\s\S]*))?$/.exec(inner);
    if (!m) {
      x.problems.push(`${key}: \${${inner}} is not a variable reference; write \${NAME} or \${NAME:-default} (names: letters, digits, "_"), or $\${ for a literal "\${"`);
      return text;
    }
    const [, name, fallback] = m as unknown as [string, string, string | undefined];
    const value = x.env[name!];
    if (fallback !== undefined && (value === undefined || value === '')) out += fallback;
    else if (value === undefined) {
      x.problems.push(`${key} refers to \${${name}}, which is not set in the environment; set ${name}, or write \${${name}:-default} to give a default`);
      return text;
    } else {
      out += value;
      if (!NOT_SECRET_VARIABLES.test(name!)) x.secrets.push({ name: name!, value });
    }
    i = end + 1;
  }
  return out;
}

/** Reads a dotenv file (`envFile`): its values are secrets by nature. */
function readEnvFile(path: string, key: string, x: EnvExpansion): Record<string, string> | undefined {
  let text: string;
  try {
    const st = statSync(path);
    if (!st.isFile()) {
      x.problems.push(`${key}: ${path} is not a file`);
      return undefined;
    }
    if (st.size > MAX_ENV_FILE_BYTES) {
      x.problems.push(`${key}: ${path} is ${st.size} bytes; an env file may be at most ${MAX_ENV_FILE_BYTES}`);
      return undefined;
    }
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as { code?: string }).code;
    x.problems.push(code === 'ENOENT' ? `${key}: file not found (looked at ${path})` : `${key}: cannot read ${path}: ${(e as Error).message}`);
    return undefined;
  }
  const vars = parseEnv(text) as Record<string, string>;
  for (const [name, value] of Object.entries(vars)) if (!NOT_SECRET_VARIABLES.test(name)) x.secrets.push({ name, value });
  return vars;
}

/**
 * Parses one server entry. `key` is the dotted path used in messages
 * (`mcpServers.github`).
 */
export function parseMcpServer(
  name: string,
  raw: unknown,
  key = `mcpServers.${name}`,
  options: Omit<ParseMcpServersOptions, 'path'> = {},
): { config?: McpServerConfig; problems: string[] } {
  const problems: string[] = [];
  if (name.length === 0) return { problems: [`${key}: a server name must not be empty`] };
  if (!isPlainObject(raw)) return { problems: [`${key} must be an object, got ${describe(raw)}`] };
  const x: EnvExpansion = { env: options.env ?? process.env, secrets: [], problems };
  const dir = options.dir ?? process.cwd();
  const expand = (value: string, where: string) => expandEnvReferences(value, where, x);

  for (const k of Object.keys(raw)) {
    if (KNOWN_KEYS.has(k)) continue;
    const hint = closestName(k, SERVER_KEYS);
    problems.push(`unknown key ${key}.${k}${hint ? ` (did you mean ${JSON.stringify(hint)}?)` : ''}; a server entry takes ${SERVER_KEYS.join(', ')} (keys other clients use, such as ${FOREIGN_SERVER_KEYS.slice(0, 3).join(', ')}, are accepted and ignored)`);
  }

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
  if (!hasCommand && !hasUrl) {
    const other = raw.serverUrl !== undefined ? 'serverUrl' : raw.httpUrl !== undefined ? 'httpUrl' : undefined;
    problems.push(`${key} needs either "command" (a local stdio server) or "url" (an HTTP server)${other ? `; "${other}" is another client's spelling: write "url"` : ''}`);
  }
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
  const finish = <C extends McpServerConfig>(config: C): { config?: McpServerConfig; problems: string[] } => {
    // A message about a value that came from the environment must not show it.
    const redactor = new Redactor(x.secrets);
    if (problems.length > 0) return { problems: problems.map((p) => redactor.redact(p)) };
    return { config: x.secrets.length > 0 ? { ...config, secrets: x.secrets } : config, problems };
  };

  if (hasCommand && !hasUrl) {
    let command = raw.command;
    if (typeof command !== 'string') problems.push(`${key}.command must be a string, got ${describe(command)}`);
    else if (command.trim().length === 0) problems.push(`${key}.command must not be empty`);
    else {
      command = expand(command, `${key}.command`);
      // A command written as a path is relative to the config file, like every other path in it.
      if (/[\\/]/.test(command as string) && !isAbsolute(command as string)) command = resolve(dir, command as string);
    }
    let args: string[] = [];
    if (raw.args !== undefined) {
      if (!Array.isArray(raw.args)) problems.push(`${key}.args must be an array of strings, got ${describe(raw.args)}`);
      else {
        raw.args.forEach((a, i) => {
          if (typeof a !== 'string') problems.push(`${key}.args[${i}] must be a string, got ${describe(a)}`);
        });
        args = raw.args.filter((a): a is string => typeof a === 'string').map((a, i) => expand(a, `${key}.args[${i}]`));
      }
    }
    let env: Record<string, string> | undefined;
    if (raw.envFile !== undefined) {
      if (typeof raw.envFile !== 'string' || raw.envFile.length === 0) problems.push(`${key}.envFile must be a non-empty string (a path), got ${describe(raw.envFile)}`);
      else env = readEnvFile(resolve(dir, expand(raw.envFile, `${key}.envFile`)), `${key}.envFile`, x);
    }
    const written = stringRecord(raw.env, `${key}.env`, problems);
    if (written) {
      env = { ...env };
      for (const [k, v] of Object.entries(written)) env[k] = expand(v, `${key}.env.${k}`);
    }
    let cwd: string | undefined;
    if (raw.cwd !== undefined) {
      if (typeof raw.cwd !== 'string' || raw.cwd.length === 0) problems.push(`${key}.cwd must be a non-empty string, got ${describe(raw.cwd)}`);
      else cwd = resolve(dir, expand(raw.cwd, `${key}.cwd`));
    } else if (options.defaultCwd !== undefined) cwd = options.defaultCwd;
    let inheritEnv: boolean | string[] | undefined;
    if (raw.inheritEnv !== undefined) {
      const v = raw.inheritEnv;
      if (typeof v === 'boolean') inheritEnv = v;
      else if (Array.isArray(v)) {
        v.forEach((n, i) => {
          if (typeof n !== 'string' || !ENV_NAME.test(n)) problems.push(`${key}.inheritEnv[${i}] must be a variable name (letters, digits, "_"), got ${describe(n)}`);
        });
        inheritEnv = v.filter((n): n is string => typeof n === 'string');
      } else problems.push(`${key}.inheritEnv must be true (the whole environment), false (the safe default set) or a list of variable names, got ${describe(v)}`);
    }
    if (raw.headers !== undefined) problems.push(`${key}.headers only applies to HTTP servers (with "url")`);
    if (raw.oauth !== undefined) problems.push(`${key}.oauth only applies to HTTP servers (with "url")`);
    return finish({
      ...base,
      transport: 'stdio',
      command: command as string,
      args,
      ...(env ? { env } : {}),
      ...(cwd !== undefined ? { cwd } : {}),
      ...(inheritEnv !== undefined ? { inheritEnv } : {}),
    } as McpStdioServerConfig);
  }

  if (hasUrl && !hasCommand) {
    const url = raw.url;
    let href: string | undefined;
    if (typeof url !== 'string') problems.push(`${key}.url must be a string, got ${describe(url)}`);
    else {
      const expanded = expand(url, `${key}.url`);
      let parsed: URL | undefined;
      try {
        parsed = new URL(expanded);
      } catch {
        problems.push(`${key}.url is not a valid URL: ${JSON.stringify(expanded)}`);
      }
      if (parsed && parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
        problems.push(`${key}.url must be an http: or https: URL, got ${JSON.stringify(parsed.protocol)}`);
      } else if (parsed) {
        href = parsed.href;
        // The URL as the transports print it: a secret in it must be recognised in that form too.
        if (href !== expanded && x.secrets.length > 0) x.secrets.push({ name: x.secrets[x.secrets.length - 1]!.name, value: href });
      }
    }
    const written = stringRecord(raw.headers, `${key}.headers`, problems);
    let headers: Record<string, string> | undefined;
    if (written) {
      headers = {};
      for (const [k, v] of Object.entries(written)) headers[k] = expand(v, `${key}.headers.${k}`);
    }
    const oauth = parseOAuthConfig(raw.oauth, `${key}.oauth`, problems);
    for (const k of ['args', 'env', 'envFile', 'cwd', 'inheritEnv'] as const) {
      if (raw[k] !== undefined) problems.push(`${key}.${k} only applies to stdio servers (with "command")`);
    }
    return finish({ ...base, transport: transport as McpHttpServerConfig['transport'], url: href as string, ...(headers ? { headers } : {}), ...(oauth !== undefined ? { oauth } : {}) } as McpHttpServerConfig);
  }
  return { problems };
}

/**
 * Parses the `mcpServers` object (the value, not the file around it). Throws
 * `McpConfigError` listing every problem; the keys other clients use
 * (`FOREIGN_SERVER_KEYS`) are ignored, any other unknown key is a problem.
 */
export function parseMcpServers(obj: unknown, options: ParseMcpServersOptions = {}): McpServerConfig[] {
  const path = options.path ?? 'mcpServers';
  if (!isPlainObject(obj)) throw new McpConfigError([`${path} must be an object mapping server names to server configs, got ${describe(obj)}`]);
  const problems: string[] = [];
  const configs: McpServerConfig[] = [];
  const byNamespace = new Map<string, string>();
  for (const [name, raw] of Object.entries(obj)) {
    const { path: _path, ...rest } = options;
    const result = parseMcpServer(name, raw, `${path}.${name}`, rest);
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

/** Keys in a server entry that toolexec does not read (other clients' keys, and typos, which `parseMcpServer` reports). */
export function unknownServerKeys(raw: unknown): string[] {
  const ours = new Set<string>(SERVER_KEYS);
  return isPlainObject(raw) ? Object.keys(raw).filter((k) => !ours.has(k)) : [];
}

/** A redactor for the secrets of every server in `configs`. */
export function serverRedactor(configs: readonly McpServerConfig[]): Redactor {
  const secrets = configs.flatMap((c) => c.secrets ?? []);
  return secrets.length === 0 ? Redactor.none : new Redactor(secrets);
}

/**
 * The environment to hand the SDK's stdio transport for a server (the SDK adds its safe
 * default set underneath): `env` alone by default; with `inheritEnv: true` the whole of
 * `parent` under it; with a list, those variables of `parent` under it. `undefined` when
 * there is nothing to add to the default set.
 */
export function stdioServerEnv(config: McpStdioServerConfig, parent: Record<string, string | undefined> = process.env): Record<string, string> | undefined {
  const inherit = config.inheritEnv;
  if (inherit === undefined || inherit === false) return config.env;
  const out: Record<string, string> = {};
  const names = inherit === true ? Object.keys(parent) : inherit;
  for (const n of names) {
    const v = parent[n];
    if (typeof v === 'string') out[n] = v;
  }
  return { ...out, ...config.env };
}
