/**
 * Loading `toolexec.config.json`: read, parse, check against `CONFIG_SCHEMA` with our own
 * validator, then let the MCP backend's parser check the servers. A config file is hostile
 * input written by hand, so every problem names its key (`mcpServers.memory.args must be
 * array`) and all problems are reported at once, before anything starts.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { expandEnvReferences, McpConfigError, parseMcpServers, type EnvExpansion, type McpServerConfig } from '../backends/mcp/config.js';
import { egressPolicyProblems, type EgressOrigin, type EgressPolicy } from '../code/egress-policy.js';
import { engineProblems, type DockerEngineOptions } from '../runtime/docker/engines.js';
import { closestName as closest } from '../model/did-you-mean.js';
import type { ValidationIssue } from '../model/errors.js';
import { defaultValidator } from '../schema/validator.js';
import { CONFIG_DOCKER_KEYS, CONFIG_KEYS, CONFIG_LIMIT_KEYS, CONFIG_RUNTIMES, CONFIG_SCHEMA, CONFIG_SERVE_KEYS, CONFIG_STORE_KEYS, type CONFIG_STORE_KINDS } from './schema.js';

/** The file looked for in the working directory when no `--config` is given. */
export const DEFAULT_CONFIG_FILE = 'toolexec.config.json';

/** Largest config file read; anything bigger is a mistake (or an attack), not a config. */
export const MAX_CONFIG_BYTES = 1024 * 1024;

export type ConfigRuntime = (typeof CONFIG_RUNTIMES)[number];
export type ConfigLimitKey = (typeof CONFIG_LIMIT_KEYS)[number];
export type ConfigLimits = Partial<Record<ConfigLimitKey, number>>;
export type ConfigServeKey = (typeof CONFIG_SERVE_KEYS)[number];
/** The `serve` section of `toolexec serve` (each key optional): admission control, session caps, `descriptionBudget`. */
export type ConfigServe = Partial<Record<ConfigServeKey, number>>;

/**
 * The `docker` section: the Docker runtime's engines (TLS paths made absolute, `${VAR}` expanded)
 * and a few of its options; handed to the runtime as its options.
 */
export interface ConfigDocker {
  engines?: DockerEngineOptions[];
  image?: string;
  runtime?: 'runc' | 'runsc';
  minIdle?: number;
  maxWorkers?: number;
  memoryMb?: number;
  cpus?: number;
  connectTimeoutMs?: number;
  healthIntervalMs?: number;
}

/** The `store` section: where durable executions live (a relative `path` is resolved against the config's directory). */
export interface ConfigStore {
  kind?: (typeof CONFIG_STORE_KINDS)[number];
  path?: string;
  url?: string;
  keyPrefix?: string;
  executionTtlMs?: number;
  maxJournalBytes?: number;
  leaseMs?: number;
  requireDurability?: 'process' | 'fsync';
}

/** A checked config with paths resolved. */
export interface ToolexecConfig {
  /** Absolute path of the file it came from; absent for the empty default config. */
  file?: string;
  /** Directory that relative paths in the file are resolved against. */
  dir: string;
  /** Parsed, checked `mcpServers` entries (disabled ones included, flagged). */
  mcpServers: McpServerConfig[];
  /** The raw `mcpServers` object as written, for tools that want to show it back. */
  rawMcpServers: Record<string, unknown>;
  /** Absolute paths of tool modules. */
  tools: string[];
  runtime?: ConfigRuntime;
  limits: ConfigLimits;
  /** Default per-call timeout for tool calls (`run_tool`, `run_chain`, `toolexec run`). */
  toolTimeoutMs?: number;
  /** Tool ID patterns: when non-empty, only matching tools are exposed. */
  allow: string[];
  /** Tool ID patterns that are never exposed (wins over `allow`). */
  deny: string[];
  /** `toolexec serve` settings (admission control, session caps); absent keys take the server's defaults. */
  serve?: ConfigServe;
  /** The Docker runtime's engines and options (`docker` in the file). */
  docker?: ConfigDocker;
  /**
   * Granted egress: `fetch` in scripts under this policy. Header values are already expanded
   * (`${VAR}`); `secrets` lists what came from the environment, redacted everywhere.
   */
  egress?: EgressPolicy;
  /** Tool ID patterns whose calls from scripts need approval (executions become durable). */
  approve: string[];
  /** Calls to tools annotated `destructiveHint: true` need approval. */
  approveDestructive?: boolean;
  /** Longest a live approval (elicitation, a terminal prompt) may take before the execution suspends. */
  approvalTimeoutMs?: number;
  /** Where durable executions live. */
  store?: ConfigStore;
}

/** A config that could not be loaded; `problems` lists each one, naming its key. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code = 'CONFIG' as const;
  constructor(
    /** The file, as given or found. */
    readonly file: string | undefined,
    readonly problems: string[],
    options?: { cause?: unknown },
  ) {
    const where = file ?? 'config';
    super(problems.length === 1 ? `${where}: ${problems[0]}` : `${where}: ${problems.length} problems:\n- ${problems.join('\n- ')}`, options);
  }
}

export interface LoadConfigOptions {
  /** Where `toolexec.config.json` is looked for and a relative `path` is resolved (default `process.cwd()`). */
  cwd?: string;
  /**
   * The environment: where `${VAR}` references are looked up, and where the user's config
   * directory is found (`XDG_CONFIG_HOME`, `HOME`). Default `process.env`.
   */
  env?: Record<string, string | undefined>;
}

/**
 * The user's toolexec directory: `$XDG_CONFIG_HOME/toolexec`, else `~/.config/toolexec`. A
 * `toolexec.config.json` there is used when the working directory has none, so a client
 * that starts `toolexec serve` from a directory of its own choosing still finds it.
 */
export function userConfigDir(env: Record<string, string | undefined> = process.env): string {
  const xdg = env.XDG_CONFIG_HOME;
  const base = xdg && xdg.startsWith('/') ? xdg : join(env.HOME || homedir(), '.config');
  return join(base, 'toolexec');
}

/** The config used when there is no file: no servers, no tools, defaults everywhere. */
export function emptyConfig(dir = process.cwd()): ToolexecConfig {
  return { dir, mcpServers: [], rawMcpServers: {}, tools: [], limits: {}, allow: [], deny: [], approve: [] };
}

/**
 * Loads a config file. With `path`, the file must exist. Without it, `toolexec.config.json`
 * in the working directory is used when present, then the one in the user's config
 * directory (`userConfigDir()`), and the empty config otherwise.
 * Throws `ConfigError` naming every problem.
 */
export function loadConfig(path?: string, options: LoadConfigOptions = {}): ToolexecConfig {
  const cwd = options.cwd ?? process.cwd();
  const env = options.env ?? process.env;
  let file: string;
  let shown: string;
  if (path === undefined) {
    file = resolve(cwd, DEFAULT_CONFIG_FILE);
    shown = DEFAULT_CONFIG_FILE;
    if (!existsSync(file)) {
      file = join(userConfigDir(env), DEFAULT_CONFIG_FILE);
      shown = file;
      if (!existsSync(file)) return emptyConfig(cwd);
    }
  } else {
    if (typeof path !== 'string' || path.length === 0) throw new ConfigError(undefined, ['the config path must be a non-empty string']);
    file = resolve(cwd, path);
    if (!existsSync(file)) throw new ConfigError(path, [`file not found (looked at ${file})`]);
    shown = path;
  }
  const stat = statSync(file);
  if (!stat.isFile()) throw new ConfigError(shown, [`not a file (${file})`]);
  if (stat.size > MAX_CONFIG_BYTES) throw new ConfigError(shown, [`the file is ${stat.size} bytes; a config may be at most ${MAX_CONFIG_BYTES}`]);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(shown, [`cannot read the file: ${(e as Error).message}`], { cause: e });
  }
  return parseConfig(text, { file, shown, env });
}

/**
 * Parses and checks config text. `file` (absolute) anchors relative paths; `shown` is the
 * name used in messages.
 */
export function parseConfig(text: string, where: ConfigSource = {}): ToolexecConfig {
  const shown = where.shown ?? where.file;
  let raw: unknown;
  try {
    // A BOM is what some editors on Windows write; JSON.parse rejects it.
    raw = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (e) {
    throw new ConfigError(shown, [`invalid JSON: ${describeJsonError(text, e as Error)}`], { cause: e });
  }
  return checkConfig(raw, { ...where, ...(shown !== undefined ? { shown } : {}) });
}

/** Where config text came from, for messages and relative paths. */
export interface ConfigSource {
  /** Absolute path of the file: relative paths are resolved against its directory. */
  file?: string;
  /** Name used in messages (default: `file`). */
  shown?: string;
  /** Directory for relative paths when there is no file (default: the working directory). */
  dir?: string;
  /** Where `${VAR}` references are looked up (default `process.env`). */
  env?: Record<string, string | undefined>;
}

/** Checks an already-parsed config object (what `parseConfig` does after `JSON.parse`). */
export function checkConfig(raw: unknown, where: ConfigSource = {}): ToolexecConfig {
  const shown = where.shown ?? where.file;
  const dir = where.dir ?? (where.file ? dirname(where.file) : process.cwd());
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError(shown, [`the config must be a JSON object, got ${describeValue(raw)}`]);
  }
  const result = defaultValidator.validate(CONFIG_SCHEMA, raw);
  if (!result.valid) throw new ConfigError(shown, dedupe(result.issues.map((i) => describeIssue(i, raw))));

  const obj = raw as Record<string, unknown>;
  const problems: string[] = [];
  let mcpServers: McpServerConfig[] = [];
  const rawMcpServers = (obj.mcpServers ?? {}) as Record<string, unknown>;
  try {
    // Relative paths in a file mean "next to the file", for servers as for tool modules; a
    // server started from a file starts in the file's directory unless its cwd says otherwise.
    mcpServers = parseMcpServers(rawMcpServers, {
      dir,
      ...(where.file ? { defaultCwd: dir } : {}),
      ...(where.env ? { env: where.env } : {}),
    });
  } catch (e) {
    if (e instanceof McpConfigError) problems.push(...e.problems);
    else throw e;
  }
  let docker: ConfigDocker | undefined;
  if (obj.docker !== undefined) docker = checkDocker(obj.docker as Record<string, unknown>, dir, where.env ?? process.env, problems);
  let egress: EgressPolicy | undefined;
  if (obj.egress !== undefined) {
    const parsed = parseEgress(obj.egress, where.env ?? process.env);
    if ('problems' in parsed) problems.push(...parsed.problems);
    else egress = parsed.egress;
  }
  if (obj.expose !== undefined && obj.allow !== undefined) {
    problems.push('"expose" and "allow" are the same setting (patterns of the tools to expose); use one of them');
  }
  if (problems.length > 0) throw new ConfigError(shown, problems);

  const config: ToolexecConfig = {
    ...(where.file ? { file: where.file } : {}),
    dir,
    mcpServers,
    rawMcpServers,
    tools: ((obj.tools as string[] | undefined) ?? []).map((t) => resolve(dir, t)),
    limits: { ...((obj.limits as ConfigLimits | undefined) ?? {}) },
    allow: [...((obj.allow ?? obj.expose ?? []) as string[])],
    deny: [...((obj.deny ?? []) as string[])],
    approve: [...((obj.approve ?? []) as string[])],
  };
  if (obj.approveDestructive !== undefined) config.approveDestructive = obj.approveDestructive as boolean;
  if (obj.approvalTimeoutMs !== undefined) config.approvalTimeoutMs = obj.approvalTimeoutMs as number;
  if (obj.store !== undefined) {
    const st = { ...(obj.store as ConfigStore) };
    if (st.path !== undefined) st.path = resolve(dir, st.path);
    if (st.kind === 'redis' && st.path !== undefined) throw new ConfigError(shown, ['store.path is for the sqlite store; a redis store takes store.url']);
    if (st.kind !== 'redis' && (st.url !== undefined || st.keyPrefix !== undefined)) {
      throw new ConfigError(shown, [`store.${st.url !== undefined ? 'url' : 'keyPrefix'} is for the redis store; set store.kind to "redis"${st.kind ? ` (it is "${st.kind}")` : ''}`]);
    }
    config.store = st;
  }
  if (obj.runtime !== undefined) config.runtime = obj.runtime as ConfigRuntime;
  if (obj.toolTimeoutMs !== undefined) config.toolTimeoutMs = obj.toolTimeoutMs as number;
  if (obj.serve !== undefined) config.serve = { ...(obj.serve as ConfigServe) };
  if (docker !== undefined) config.docker = docker;
  if (egress) config.egress = egress;
  return config;
}

/**
 * The `docker` section: `${VAR}` expanded in engine addresses and TLS paths (a Kubernetes pod gets
 * its sandbox hosts from the environment), relative TLS paths resolved against the file, and each
 * entry checked by the runtime's own rules, so `toolexec serve` refuses a bad list at start-up.
 */
function checkDocker(raw: Record<string, unknown>, dir: string, env: Record<string, string | undefined>, problems: string[]): ConfigDocker {
  const out = { ...raw } as ConfigDocker & Record<string, unknown>;
  if (Array.isArray(raw.engines)) {
    const x: EnvExpansion = { env, secrets: [], problems };
    const engines = raw.engines.map((entry: unknown, i) => {
      if (!entry || typeof entry !== 'object' || Array.isArray(entry)) return entry;
      const e = { ...(entry as Record<string, unknown>) };
      for (const key of ['host', 'socketPath', 'name'] as const) {
        if (typeof e[key] === 'string') e[key] = expandEnvReferences(e[key] as string, `docker.engines[${i}].${key}`, x);
      }
      if (e.tls && typeof e.tls === 'object' && !Array.isArray(e.tls)) {
        const tls = { ...(e.tls as Record<string, unknown>) };
        for (const key of ['ca', 'cert', 'key']) {
          if (typeof tls[key] !== 'string') continue;
          const value = expandEnvReferences(tls[key] as string, `docker.engines[${i}].tls.${key}`, x);
          // PEM text (from a variable) stays as it is; a path is relative to the file.
          tls[key] = value.includes('-----BEGIN') ? value : resolve(dir, value);
        }
        e.tls = tls;
      }
      return e;
    });
    problems.push(...engineProblems(engines, { prefix: 'docker.engines', dir }));
    out.engines = engines as DockerEngineOptions[];
  }
  return out;
}

/**
 * The `egress` section: `${VAR}` expanded in header values (credentials belong in the
 * environment, not in the file), what came from the environment kept as `secrets`, then the
 * executor's own policy check, so the file and the API report the same problems.
 */
function parseEgress(raw: unknown, env: Record<string, string | undefined>): { egress: EgressPolicy } | { problems: string[] } {
  const x: EnvExpansion = { env, secrets: [], problems: [] };
  if (typeof raw === 'object' && raw !== null && !Array.isArray(raw) && ('secrets' in raw || 'lookup' in raw)) {
    return { problems: [`unknown key egress.${'secrets' in raw ? 'secrets' : 'lookup'}; known keys: allow, allowAddresses, maxRequestBytes, maxResponseBytes, timeoutMs, maxRedirects`] };
  }
  const problems = egressPolicyProblems(raw, 'egress');
  if (problems.length > 0) return { problems };
  const policy = raw as EgressPolicy;
  const allow = policy.allow.map((entry, i): string | EgressOrigin => {
    if (typeof entry === 'string' || !entry.headers) return entry;
    const headers = Object.fromEntries(Object.entries(entry.headers).map(([k, v]) => [k, expandEnvReferences(v, `egress.allow[${i}].headers.${k}`, x)]));
    return { ...entry, headers };
  });
  if (x.problems.length > 0) return { problems: x.problems };
  const out: EgressPolicy = { ...policy, allow };
  if (x.secrets.length > 0) out.secrets = x.secrets;
  // A variable's value may hold what a header cannot (a line break): checked again, never quoted.
  const after = egressPolicyProblems(out, 'egress');
  return after.length > 0 ? { problems: after } : { egress: out };
}

// ------------------------------------------------------------------ messages

/** `/mcpServers/memory/args` → `mcpServers.memory.args` (`[0]` for array items). */
export function pointerToKey(pointer: string): string {
  if (pointer === '') return '(the top level)';
  let out = '';
  for (const raw of pointer.slice(1).split('/')) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (/^\d+$/.test(seg)) out += `[${seg}]`;
    else out += out === '' ? seg : `.${seg}`;
  }
  return out;
}

function valueAt(root: unknown, pointer: string): unknown {
  let v = root;
  if (pointer === '') return v;
  for (const raw of pointer.slice(1).split('/')) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (typeof v !== 'object' || v === null) return undefined;
    v = (v as Record<string, unknown>)[seg];
  }
  return v;
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'number' || typeof value === 'boolean') return `${typeof value} ${String(value)}`;
  return typeof value;
}

function describeIssue(issue: ValidationIssue, root: unknown): string {
  const key = pointerToKey(issue.path);
  if (issue.keyword === 'additionalProperties') {
    const parent = issue.path.replace(/\/[^/]*$/, '');
    const name = (issue.params?.additionalProperty as string | undefined) ?? key;
    if (parent === '') {
      const hint = closest(name, CONFIG_KEYS);
      return `unknown top-level key ${JSON.stringify(name)}${hint ? ` (did you mean ${JSON.stringify(hint)}?)` : ''}; known keys: ${CONFIG_KEYS.join(', ')}`;
    }
    if (parent === '/limits') {
      const hint = closest(name, CONFIG_LIMIT_KEYS);
      return `unknown key limits.${name}${hint ? ` (did you mean ${JSON.stringify(hint)}?)` : ''}; known limits: ${CONFIG_LIMIT_KEYS.join(', ')}`;
    }
    if (parent === '/docker') {
      const hint = closest(name, CONFIG_DOCKER_KEYS);
      return `unknown key docker.${name}${hint ? ` (did you mean ${JSON.stringify(hint)}?)` : ''}; known keys: ${CONFIG_DOCKER_KEYS.join(', ')}`;
    }
    if (parent === '/store') {
      const hint = closest(name, CONFIG_STORE_KEYS);
      return `unknown key store.${name}${hint ? ` (did you mean ${JSON.stringify(hint)}?)` : ''}; known keys: ${CONFIG_STORE_KEYS.join(', ')}`;
    }
    if (parent === '/serve') {
      const hint = closest(name, CONFIG_SERVE_KEYS);
      return `unknown key serve.${name}${hint ? ` (did you mean ${JSON.stringify(hint)}?)` : ''}; known keys: ${CONFIG_SERVE_KEYS.join(', ')}`;
    }
    return `unknown key ${key}`;
  }
  if (issue.keyword === 'pattern' && issue.path === '/store/url') {
    return `store.url must be a Redis URL (redis://host:6379 or rediss:// for TLS), got ${describeValue(valueAt(root, issue.path))}`;
  }
  if (issue.keyword === 'pattern' && /^\/(allow|deny|expose|approve)\//.test(issue.path)) {
    return `${key} must be a tool ID pattern (letters, digits, "_", "-", ".", "+", ":" and "*"), got ${describeValue(valueAt(root, issue.path))}`;
  }
  const got = issue.keyword === 'type' || issue.keyword === 'enum' || issue.keyword === 'minimum' || issue.keyword === 'exclusiveMinimum' || issue.keyword === 'minLength'
    ? `, got ${describeValue(valueAt(root, issue.path))}`
    : '';
  return `${key} ${issue.message}${got}`;
}

function dedupe(list: string[]): string[] {
  return [...new Set(list)];
}

/**
 * Adds line and column to JSON.parse's message. Node reports a character position for some
 * errors only, so the position comes from `firstJsonErrorAt`, a small scanner.
 */
function describeJsonError(text: string, e: Error): string {
  const m = /position (\d+)/.exec(e.message);
  const pos = m ? Number(m[1]) : firstJsonErrorAt(text);
  const reason = e.message.replace(/ in JSON at position \d+.*$/, '').replace(/, "[\s\S]*" is not valid JSON$/, '').replace(/, \.\.\.[\s\S]*$/, '');
  if (pos === undefined) return reason;
  const before = text.slice(0, pos);
  const line = before.split('\n').length;
  const column = pos - before.lastIndexOf('\n');
  return `${reason} at line ${line}, column ${column}`;
}

/** Offset of the first character that makes `text` invalid JSON (end of text when it is cut short). */
export function firstJsonErrorAt(text: string): number | undefined {
  let i = 0;
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++;
  };
  const fail = (): never => {
    throw i;
  };
  const literal = (word: string) => {
    if (text.startsWith(word, i)) i += word.length;
    else fail();
  };
  const string = () => {
    i++;
    while (i < text.length && text[i] !== '"') {
      if (text.charCodeAt(i) < 0x20) fail();
      i += text[i] === '\\' ? 2 : 1;
    }
    if (i >= text.length) fail();
    i++;
  };
  const number = () => {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (!m || m[0] === '' || m[0] === '-') fail();
    i += m![0].length;
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') return void i++;
      for (;;) {
        ws();
        if (text[i] !== '"') fail();
        string();
        ws();
        if (text[i] !== ':') fail();
        i++;
        value();
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === '}') return void i++;
        else fail();
      }
    }
    if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') return void i++;
      for (;;) {
        value();
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === ']') return void i++;
        else fail();
      }
    }
    if (c === '"') return string();
    if (c === 't') return literal('true');
    if (c === 'f') return literal('false');
    if (c === 'n') return literal('null');
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return number();
    fail();
  };
  try {
    value();
    ws();
    return i < text.length ? i : undefined;
  } catch (pos) {
    return typeof pos === 'number' ? pos : undefined;
  }
}
